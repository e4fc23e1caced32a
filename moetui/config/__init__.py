"""Run configuration: frozen dataclasses (schema), read from TOML with validation (load), written back (dump).

Imports neither textual, rich nor azure.
"""
