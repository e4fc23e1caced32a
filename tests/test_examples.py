"""Every example configuration loads as it is."""

from __future__ import annotations

from pathlib import Path

import pytest

from moetui.config.load import load_config

EXAMPLES = sorted((Path(__file__).parent.parent / "examples").glob("*.toml"))


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_loads(path: Path) -> None:
    config = load_config(path)
    assert config.load.mode in ("burst", "closed", "open", "steps")


def test_there_is_an_example_per_mode() -> None:
    assert {load_config(p).load.mode for p in EXAMPLES} == {"burst", "closed", "open", "steps"}
