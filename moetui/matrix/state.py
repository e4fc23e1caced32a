"""The resumable state of a matrix: each finished measurement (round, cell) kept in a JSON file next to the
report, written after every cell, so that running the same command again measures only what is missing.
A state file of another matrix (another file or other --set values) is not resumed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from moetui.config.files import BODIES_MAX_BYTES, read_named_text
from moetui.errors import ConfigError
from moetui.paths import write_atomic
from moetui.report.codec import check_report_path

if TYPE_CHECKING:
    from moetui.matrix.config import MatrixSpec

STATE_SCHEMA = "moetui.matrix-state/1"


def state_path_for(report_path: Path | None, matrix_path: Path) -> Path:
    """m.json -> m.state.json beside it; without a report, <matrix>.state.json beside the matrix file."""
    if report_path is not None and str(report_path) != "-":
        return report_path.with_name(report_path.stem + ".state.json")
    return matrix_path.with_name(matrix_path.stem + ".state.json")


def report_and_state(spec: MatrixSpec, given: Path | None) -> tuple[Path | None, Path]:
    """Where a matrix's report goes (`given`, else the file's [output] report beside it, else None) and its
    state file (beside the report, else beside the matrix file): the same command finds the same state.

    Raises:
        ConfigError: `given` is "-" (standard output): the state file needs a place beside the report; or
            the report or the state file cannot be written there (checked now, not after hours of cells).
    """
    if given == Path("-"):
        raise ConfigError("--report -: a matrix writes its report to a file (and its state beside it)")
    report = given
    output = spec.base.get("output", {})
    origin = "--report"
    if report is None and isinstance(output, dict) and isinstance(output.get("report"), str):
        report = spec.path.resolve().parent / output["report"]
        origin = f"{spec.path}: output.report"
    state = state_path_for(report, spec.path)
    for what, where, named_by in (("report", report, origin), ("state file", state, str(spec.path))):
        if where is not None and (why := check_report_path(where)) is not None:
            raise ConfigError(f"{named_by}: the matrix's {what} cannot be written there: {why}.")
    return report, state


class MatrixState:
    """Finished measurements by key "round/cell"."""

    def __init__(self, path: Path, fingerprint: str, measurements: dict[str, Any] | None = None) -> None:
        self.path = path
        self.fingerprint = fingerprint
        self.measurements: dict[str, Any] = measurements or {}

    @classmethod
    def load(cls, path: Path, fingerprint: str, *, fresh: bool) -> tuple[MatrixState, str | None]:
        """The state to resume (empty when fresh, absent or of another matrix) and a note saying which."""
        if fresh or not path.exists():
            return cls(path, fingerprint), None
        try:
            data = json.loads(read_named_text(path, "", max_bytes=BODIES_MAX_BYTES))
        except ConfigError as exc:
            return cls(path, fingerprint), f"{exc.message}; starting afresh"
        except ValueError as exc:
            return cls(path, fingerprint), f"the state file {path} is not JSON ({exc}); starting afresh"
        measurements = data.get("measurements", {}) if isinstance(data, dict) else None
        if not isinstance(data, dict) or data.get("schema") != STATE_SCHEMA or not isinstance(measurements, dict):
            return cls(path, fingerprint), f"the state file {path} is not a matrix state file; starting afresh"
        if data.get("fingerprint") != fingerprint:
            return cls(path, fingerprint), f"the state file {path} is of another matrix; starting afresh"
        note = f"resuming from {path}: {len(measurements)} measurement(s) already done" if measurements else None
        return cls(path, fingerprint, measurements), note

    def key(self, round_index: int, cell: str) -> str:
        return f"{round_index}/{cell}"

    def measured(self, round_index: int, cell: str) -> bool:
        """Whether the cell's round has a measurement (a cell whose deployment failed has none: tried again)."""
        found = self.measurements.get(self.key(round_index, cell))
        return found is not None and not found.get("failed")

    def add(self, key: str, measurement: dict[str, Any]) -> None:
        self.measurements[key] = measurement
        self.save()

    def save(self) -> None:
        body = {"schema": STATE_SCHEMA, "fingerprint": self.fingerprint, "measurements": self.measurements}
        write_atomic(self.path, json.dumps(body))  # a Ctrl-C mid-write leaves the previous state whole

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)
