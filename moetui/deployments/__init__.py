"""The deployment control plane, below both of its implementations (azure/ and local_endpoint/) and the
targets: base (protocols, records, errors, the state rule), names (the name rule), tokens (TokenKeeper),
deployment_yaml (the one reader of deployment YAMLs)."""
