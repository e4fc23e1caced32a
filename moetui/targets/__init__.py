"""Targets: where the load goes. Each resolves to a URL, headers (the key among them) and, when known,
the deployment's capacity. `base` holds the Protocol the front ends depend on."""
