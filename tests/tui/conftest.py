"""TUI test set-up: the app built by the CLI's factory with fake runs, a steady cursor, pinned versions."""

from __future__ import annotations

import sys
from importlib.metadata import version

import pytest

#: Snapshots are drawn by these versions; other versions draw other pixels, not other behaviour.
SNAPSHOT_VERSIONS = {"textual": "8.2.8", "pytest-textual-snapshot": "1.1.0"}
SNAPSHOT_PYTHON = (3, 11)


def snapshot_versions_match() -> bool:
    return sys.version_info[:2] == SNAPSHOT_PYTHON and all(
        version(name) == wanted for name, wanted in SNAPSHOT_VERSIONS.items()
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if snapshot_versions_match():
        return
    if config.getoption("--snapshot-update", default=False):
        raise pytest.UsageError(f"update snapshots only with {SNAPSHOT_VERSIONS} on Python 3.11")
    skip = pytest.mark.skip(reason=f"snapshots are drawn with {SNAPSHOT_VERSIONS} on Python 3.11")
    for item in items:
        if "snap_compare" in getattr(item, "fixturenames", ()):
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def steady_cursor(monkeypatch: pytest.MonkeyPatch) -> None:
    """A blinking cursor would make pictures differ by the half second they are taken at."""
    from textual.widgets import Input

    def visible(self: Input) -> None:
        self._cursor_visible = True

    monkeypatch.setattr(Input, "_toggle_cursor", visible)


@pytest.fixture(autouse=True)
def no_tui_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """The app puts a key it is given into the environment for the engine; it must not outlive the test."""
    from moetui.tui.state import TUI_KEY_ENV

    monkeypatch.delenv(TUI_KEY_ENV, raising=False)
