"""moetui: live load testing of machine-learning inference endpoints."""

__version__ = "0.1.0"
