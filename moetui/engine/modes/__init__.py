"""One load model per module."""
