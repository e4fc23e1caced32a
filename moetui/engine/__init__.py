"""The load engine: load models (modes/), recording, the worker fan-out and the judge of a run.

It receives a LoadPlan (engine/plan.py, composed by moetui.session.compose) and imports nothing from
above: no targets, session, report, tui or azure (pyproject.toml [tool.importlinter]). Imports asyncio,
aiohttp/httpx, hdrh and moetui.config only: never textual, rich or azure.
"""
