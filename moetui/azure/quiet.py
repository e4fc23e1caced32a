"""Keep the Azure SDKs' own output off the terminal: their log lines go to a file, their stray prints too.

azure-ai-ml attaches `StreamHandler(sys.stderr)` with `propagate = False` to several of its loggers when
they are imported (`azure.ai.ml`, `_utils._endpoint_utils`, `_utils._package_utils`, ... through
`_utils/_logger_utils.initialize_logger_info`), so "Check: endpoint x exists" and "Done" would land on the
TUI's screen or in a headless run's stderr. And its blob upload prints a colour reset to sys.stderr
unconditionally (`_artifacts/_blob_storage_helper.py`). Here:

- `quiet_azure_logging()` removes those console handlers from every `azure.*` logger (again on every call:
  SDK modules imported later add theirs), makes them propagate to the `azure` logger, and gives `azure`
  and `msal` one file handler on `config_dir()/azure.log`, with `propagate = False` so nothing reaches
  the root logger either;
- `quiet_stdio()` points sys.stdout and sys.stderr at the same file around the SDK calls that print
  (the upload's colour reset; a "." per poll of every long-running operation).

Imports no Azure SDK itself (only the standard library), so it is cheap to call first.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from moetui.paths import config_dir, private_dir

#: Loggers whose records go to the log file, never to the terminal.
ROUTED_LOGGERS = ("azure", "msal")
#: Loggers too chatty at INFO (one record per HTTP request): WARNING and above only.
NOISY_LOGGERS = ("azure.core.pipeline.policies.http_logging_policy", "azure.identity._internal.get_token_mixin")

_lock = threading.RLock()
_stdio_lock = threading.Lock()
_handler: logging.FileHandler | None = None
_stream: TextIO | None = None
_depth = 0
_saved: tuple[TextIO, TextIO] | None = None


def log_path() -> Path:
    """Where the Azure SDKs' log lines go: `azure.log` in the user's moetui config directory."""
    return config_dir() / "azure.log"


def _file_handler() -> logging.FileHandler:
    global _handler
    path = log_path()
    if _handler is not None and Path(_handler.baseFilename) == path.resolve():
        return _handler
    private_dir(path.parent)
    handler = logging.FileHandler(path, encoding="utf-8", delay=True)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    if _handler is not None:
        for name in ROUTED_LOGGERS:
            logging.getLogger(name).removeHandler(_handler)
        _handler.close()
    _handler = handler
    return handler


def _is_console(handler: logging.Handler) -> bool:
    # The SDKs' console handlers are plain StreamHandlers on stderr; a FileHandler (a StreamHandler
    # subclass) or any other handler a user configured is left alone.
    return type(handler) is logging.StreamHandler


def quiet_azure_logging() -> Path:
    """Route every Azure SDK logger to the log file and away from the terminal (idempotent, cheap).

    Call it after importing an SDK module and before each SDK call: modules imported on first use add
    their own console handlers.

    Returns:
        The log file's path.
    """
    with _lock:
        handler = _file_handler()
        for name in ROUTED_LOGGERS:
            logger = logging.getLogger(name)
            if handler not in logger.handlers:
                logger.addHandler(handler)
            logger.propagate = False
            if logger.level == logging.NOTSET or logger.level > logging.INFO:
                logger.setLevel(logging.INFO)
        for name in NOISY_LOGGERS:
            logging.getLogger(name).setLevel(logging.WARNING)
        for name, member in list(logging.Logger.manager.loggerDict.items()):
            if not isinstance(member, logging.Logger) or not name.startswith(("azure.", "msal.")):
                continue
            for console in [h for h in member.handlers if _is_console(h)]:
                member.removeHandler(console)
            member.propagate = True
        return log_path()


@contextlib.contextmanager
def quiet_stdio() -> Iterator[None]:
    """sys.stdout and sys.stderr go to the log file while any thread is inside such a block.

    For SDK calls that print: the blob upload's colour reset, and azure-ai-ml's AzureMLPolling, which
    prints a "." to stdout on every poll of a long-running operation from the poller's own thread. The
    swap is process-wide and counted, so overlapping blocks in several threads neither wait for each other
    nor restore too early; moetui's own writers (the headless progress line and summary, Textual's driver)
    hold their stream objects already and are not affected. The streams are put back only if nobody else
    replaced them meanwhile.
    """
    global _stream, _depth, _saved
    path = quiet_azure_logging()
    with _stdio_lock:
        if _depth == 0:
            if _stream is None or _stream.closed or Path(_stream.name) != path:
                if _stream is not None:
                    _stream.close()
                _stream = open(path, "a", encoding="utf-8")  # noqa: SIM115 - kept open for later blocks
            _saved = (sys.stdout, sys.stderr)
            sys.stdout = sys.stderr = _stream
        _depth += 1
    try:
        yield
    finally:
        with _stdio_lock:
            _depth -= 1
            if _depth == 0 and _stream is not None:
                _stream.flush()
                if sys.stdout is _stream and _saved is not None:
                    sys.stdout = _saved[0]
                if sys.stderr is _stream and _saved is not None:
                    sys.stderr = _saved[1]
                _saved = None
