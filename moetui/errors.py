"""Typed, titled errors and the exit statuses of every moetui command, in one place.

Imports nothing from the UI, the engine or Azure: every part of moetui may raise these.
"""

from __future__ import annotations

from enum import IntEnum


class ExitStatus(IntEnum):
    """What a moetui command's exit status means (documented in the README)."""

    OK = 0
    THRESHOLD_FAILED = 1
    """A threshold or check failed: also the default error_rate, and a run with no successful response
    from a target that answered (500s, resets, garbage)."""
    USAGE = 2
    UNREACHABLE = 3
    """No HTTP answer at all: every attempt was refused or timed out, connecting or waiting for an answer (or
    the local endpoint did not start)."""
    INVALID_MEASUREMENT = 4
    REPORT_NOT_WRITTEN = 5
    """The run ended and its summary was printed, but --report, an [output] file or the request log could not
    be written (all the others still are)."""
    INTERRUPTED = 130

    @property
    def meaning(self) -> str:
        """What this status means, in a few words (the report screen's banner, headless runs)."""
        return EXIT_MEANINGS[self][0]

    @property
    def line(self) -> str:
        """The closing line of every command that ends in a status (`exit status 1 (a threshold or check
        failed)`): the headless run, the matrix, the nodes' launcher."""
        return f"exit status {int(self)} ({self.meaning})"


#: The one table of exit-status meanings: (a few words, what else it covers). `moetui --help` prints both
#: (exit_statuses_text), the report screen's banner the first; the README lists them at length.
EXIT_MEANINGS: dict[ExitStatus, tuple[str, str]] = {
    ExitStatus.OK: ("all thresholds passed", ""),
    ExitStatus.THRESHOLD_FAILED: (
        "a threshold or check failed",
        "also the default error_rate 0.01, and a run with no successful response",
    ),
    ExitStatus.USAGE: ("usage or configuration error", ""),
    ExitStatus.UNREACHABLE: (
        "the target never answered",
        "every attempt was refused or timed out; or the local endpoint could not start",
    ),
    ExitStatus.INVALID_MEASUREMENT: (
        "invalid measurement: the generator could not keep up",
        "or some of its counts were lost",
    ),
    ExitStatus.REPORT_NOT_WRITTEN: ("the report could not be written", "or an output file, or the request log"),
    ExitStatus.INTERRUPTED: ("interrupted: partial result", ""),
}


def exit_statuses_text(width: int = 100) -> str:
    """Every exit status and its meaning, wrapped to `width` columns, as `moetui --help` ends."""
    import textwrap

    listed = ", ".join(
        f"{int(status)} {short}" + (f" ({detail})" if detail else "")
        for status, (short, detail) in EXIT_MEANINGS.items()
    )
    return textwrap.fill(f"exit statuses: {listed}.", width)


class MoetuiError(Exception):
    """An error a user can act on: a message, a short title and the exit status it leads to."""

    title = "moetui error"
    exit_status = ExitStatus.USAGE

    def __init__(self, message: str, title: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if title is not None:
            self.title = title

    def __str__(self) -> str:
        return self.message


class ConfigError(MoetuiError):
    """A setting, flag or file that cannot be used as given."""

    title = "Configuration error"


class ReportError(ConfigError):
    """A report file (`moetui report`, `compare`, `merge`) that is not a report moetui can read; the message
    names the file and each field that does not fit."""

    title = "Report not readable"


class LocalEndpointError(MoetuiError):
    """The local endpoint could not start or stopped unexpectedly."""

    title = "Local endpoint"
    exit_status = ExitStatus.UNREACHABLE
