"""The composer, above the engine: a configuration and a resolved target become a LoadPlan (compose), a
whole session runs it and judges it (run_session), its snapshots are watched in one loop (watch), every
child process above the engine is started and stopped one way (child), and the TUI runs a session in a
process of its own (process). Imports neither textual nor rich; imports nothing here so that
`moetui.session.process` stays light for the TUI."""
