"""App-level messages: what a screen hands up to the app, which alone writes the shared TuiState."""

from __future__ import annotations

from typing import Any

from textual.message import Message

from moetui.tui.state import HeaderRefresh


class TargetChosen(Message):
    """A target was chosen (a URL typed, or a deployment's credentials taken): the app keeps it and opens
    the run setup."""

    def __init__(
        self,
        target: dict[str, Any],
        replay: dict[str, Any] | None = None,
        refresh_headers: HeaderRefresh | None = None,
        request_timeout_ms: int | None = None,
        local_processes: dict[str, int] | None = None,
    ) -> None:
        super().__init__()
        self.target = target
        """The run's target table (keys by environment variable or file, never inline)."""
        self.replay = replay
        """The table a saved TOML names instead (a deployment's own [target.local] or [target.azure])."""
        self.refresh_headers = refresh_headers
        """Fresh headers when a token expires (None: a key)."""
        self.request_timeout_ms = request_timeout_ms
        """The chosen deployment's request_timeout_ms, which its URL does not carry (None: not known)."""
        self.local_processes = local_processes
        """The app's local endpoint's processes (role -> PID) when the target is its URL (None: another)."""
