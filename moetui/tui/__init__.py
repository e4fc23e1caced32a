"""The Textual app. It drives the engine through RemoteRun (a process of its own) and adds no load logic."""
