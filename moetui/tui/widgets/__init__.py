"""Live widgets: each renders from an EngineSnapshot alone (no clock, no engine calls), one per module."""
