"""The matrix's report and state file: their places checked before the first cell, and a state file that
is not one (`[]`, `null`, measurements of the wrong kind, a FIFO) read as no state, never a traceback."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from moetui.errors import ConfigError
from moetui.matrix.config import read_matrix
from moetui.matrix.state import STATE_SCHEMA, MatrixState, report_and_state

MATRIX = '[target.local]\nsleep = 0\n[load]\nmode = "closed"\nduration = "1s"\n[matrix]\nworkers = [1, 2]\n'


def test_unwritable_report_or_state_places_are_refused_before_any_cell(tmp_path: Path) -> None:
    spec = read_matrix(_write(tmp_path / "m.toml", MATRIX))
    with pytest.raises(ConfigError, match=rf"--report: the matrix's report cannot be written there: {tmp_path} is a"):
        report_and_state(spec, tmp_path)
    blocker = _write(tmp_path / "file", "")
    with pytest.raises(ConfigError, match=rf"--report: the matrix's report cannot be written there: {blocker} is not"):
        report_and_state(spec, blocker / "out" / "m.json")
    (tmp_path / "r.state.json").mkdir()  # the state file's place is taken by a directory
    with pytest.raises(ConfigError, match=rf"{spec.path}: the matrix's state file cannot be written there"):
        report_and_state(spec, tmp_path / "r.json")
    spec = read_matrix(_write(tmp_path / "o.toml", MATRIX + f'[output]\nreport = "{tmp_path}"\n'))
    with pytest.raises(ConfigError, match=rf"{spec.path}: output.report: the matrix's report cannot be written"):
        report_and_state(spec, None)
    assert report_and_state(spec, tmp_path / "fine.json") == (tmp_path / "fine.json", tmp_path / "fine.state.json")


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("[]", "is not a matrix state file"),
        ("null", "is not a matrix state file"),
        (f'{{"schema": "{STATE_SCHEMA}", "fingerprint": "f", "measurements": []}}', "is not a matrix state file"),
        (f'{{"schema": "{STATE_SCHEMA}", "fingerprint": "other", "measurements": {{}}}}', "is of another matrix"),
        ("{", "is not JSON"),
    ],
)
def test_a_state_file_that_is_not_one_starts_afresh(tmp_path: Path, text: str, said: str) -> None:
    path = _write(tmp_path / "m.state.json", text)
    state, note = MatrixState.load(path, "f", fresh=False)
    assert state.measurements == {} and note is not None and said in note and "starting afresh" in note


def test_a_fifo_as_the_state_file_does_not_hang(tmp_path: Path) -> None:
    path = tmp_path / "m.state.json"
    os.mkfifo(path)
    state, note = MatrixState.load(path, "f", fresh=False)
    assert (
        state.measurements == {} and note == f"{path}: is a FIFO (named pipe); allowed: a regular file; starting afresh"
    )


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path
