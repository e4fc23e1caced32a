"""The deployment-settings matrix: cells of settings, each measured the same way (a fixed load or a goodput
search), priced, and the cheapest cell that meets the SLO recommended (`moetui profile matrix.toml`)."""
