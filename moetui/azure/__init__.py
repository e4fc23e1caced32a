"""Azure ML through the official SDKs: sign-in, workspaces, deployments and server metrics.

Every module here imports the Azure SDK; nothing outside moetui.azure and moetui.targets.azure imports
this package at module level (`moetui --help` and the engine stay free of azure)."""
