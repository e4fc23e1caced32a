"""Every example configuration loads as it is."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from moetui.config.load import load_config
from moetui.config.schema import Config
from moetui.matrix.cells import check_cells
from moetui.matrix.config import read_matrix

EXAMPLES = sorted((Path(__file__).parent.parent / "examples").glob("*.toml"))


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_loads(path: Path) -> None:
    for config in _configs(path):
        assert config.load.mode in ("burst", "closed", "open", "steps")


def test_there_is_an_example_per_mode() -> None:
    assert {c.load.mode for p in EXAMPLES for c in _configs(p)} == {"burst", "closed", "open", "steps"}


def _configs(path: Path) -> list[Config]:
    """The example's configuration; a matrix file's (with [matrix]): every cell's."""
    if "matrix" in tomllib.loads(path.read_text()):
        return check_cells(read_matrix(path))
    return [load_config(path)]
