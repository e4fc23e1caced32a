"""The Textual app. It drives the engine through a SessionProcess (moetui.session.process: a process of
its own) and adds no load logic."""
