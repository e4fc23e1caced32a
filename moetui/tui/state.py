"""What the TUI remembers between sessions (the last target, never a key) and, in `TuiState`, the one typed
record of what its screens share while it runs (the target chosen, the previous report): screens read it
through the typed app getter and change it only by posting messages (moetui.tui.messages) to the app."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from moetui.config.schema import Config
from moetui.paths import config_dir, write_secret
from moetui.report.model import Report

#: Environment variable through which a key typed into the TUI reaches the engine process (never a file).
TUI_KEY_ENV = "MOETUI_TUI_KEY"
#: Prefix of the environment variables through which a pasted URL's secret query values reach the engine.
TUI_QUERY_ENV = "MOETUI_TUI_QUERY"

if TYPE_CHECKING:
    from moetui.matrix.config import MatrixSpec

#: Fresh request headers for a deployment whose token expires (a TokenKeeper).
HeaderRefresh = Callable[[], Mapping[str, str]]


@dataclass(frozen=True)
class RunSeams:
    """What a run from the app gets besides its configuration and folder (the run factory's third argument)."""

    refresh_headers: HeaderRefresh | None = None
    """Fresh request headers when the target's token expires (None: a key)."""
    local_processes: dict[str, int] | None = None
    """The app's local endpoint's processes when the run goes to its URL (TuiState.local_processes)."""


@dataclass(frozen=True)
class MatrixOpen:
    """A matrix file to open on the matrix screen (`moetui profile FILE --live`, or `p` on the target
    screen), read and checked, with where its report and state file go."""

    spec: MatrixSpec
    state_path: Path
    report_path: Path | None = None
    overrides: tuple[str, ...] = ()
    fresh: bool = False

    @classmethod
    def read(
        cls, path: Path, overrides: tuple[str, ...] = (), report: Path | None = None, fresh: bool = False
    ) -> MatrixOpen:
        """Read the matrix file; its report goes where `moetui profile` writes it, else to the runs directory.

        Raises:
            ConfigError: The file has problems (each named with its key).
        """
        from moetui.matrix.config import read_matrix
        from moetui.matrix.state import report_and_state
        from moetui.paths import export_path

        spec = read_matrix(path, overrides)
        report, state = report_and_state(spec, report)
        return cls(spec, state, report or export_path(f"moetui-matrix-{path.stem}", ".json"), overrides, fresh)


@dataclass
class TuiState:
    """What the screens share; the app holds one (MoetuiHost.state) and alone writes it (MoetuiApp)."""

    target_table: dict[str, Any] = field(default_factory=dict)
    """The target the run uses, as its TOML table (a deployment's URL with its key in the environment);
    empty: the local endpoint's defaults."""
    replay_table: dict[str, Any] | None = None
    """The target a saved TOML names so `moetui --run` reaches the same deployment; None: target_table."""
    refresh_headers: HeaderRefresh | None = None
    request_timeout_ms: int | None = None
    """The chosen deployment's request_timeout_ms when the target is its URL (a URL says none): the run's
    default timeout follows it, as a headless run of the deployment's own table does."""
    """Fresh headers for runs against the chosen deployment when its token expires (None: a key)."""
    local_processes: dict[str, int] | None = None
    """The app's local endpoint's processes (role -> PID) when the target is its URL: runs sample them and
    their reports say target kind "local", as a [target.local] run's do (None: another target)."""
    previous_report: Report | None = None
    """The last finished run's report, for the side-by-side comparison."""
    live_exit_status: int | None = None
    """`moetui --live`: the run's exit status, which the app exits with (as `--run` would)."""

    def replay_config(self, config: Config) -> Config:
        """The configuration that replays a run of `config` with `moetui --run`: the one rule for the run
        setup's ctrl+s and the report's `t`. A deployment chosen in the app is run through its URL, with the key
        in the app's environment (and a local endpoint's URL dies with the app), so the file names the
        deployment's own table instead ([target.local] or [target.azure], never a key); the rest as run.

        Raises:
            ConfigError: The deployment's table does not check with the rest (names the key).
        """
        if not self.replay_table:
            return config
        from moetui.config.dump import config_to_dict
        from moetui.config.load import config_from_dict

        return config_from_dict({**config_to_dict(config), "target": self.replay_table}, source="setup")

    @property
    def azure_target(self) -> dict[str, Any] | None:
        """The [target.azure] table when the target is an Azure ML deployment (it can run as an Azure ML job
        next to it), else None."""
        table = (self.replay_table or self.target_table).get("azure")
        return dict(table) if isinstance(table, dict) else None


def _choice_file() -> Path:
    return config_dir() / "tui-target.json"


def remembered_target() -> dict[str, Any]:
    """The last target table chosen, or {} (a missing or broken file is no error)."""
    try:
        data = json.loads(_choice_file().read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def forget_target() -> None:
    """Forget the remembered target: the next session opens with the defaults."""
    _choice_file().unlink(missing_ok=True)


def remember_target(target: dict[str, Any]) -> None:
    """Remember the target table; keys never appear in it (they live in key_env or key_file)."""
    # 0600 in a 0700 directory: the URL and the names of variables and files are no one else's business.
    write_secret(_choice_file(), json.dumps(target, indent=2))
