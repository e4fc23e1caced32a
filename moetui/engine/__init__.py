"""The load engine: load models, recording and verdicts.

Imports asyncio, aiohttp/httpx and hdrh only: never textual, rich or azure.
"""
