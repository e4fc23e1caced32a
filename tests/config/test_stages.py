"""[[load.stages]]: a ramped open run's stages are checked before the first request, each problem naming
the file and the key; the stages' sum becomes the run's duration, and a saved configuration replays them."""

from __future__ import annotations

from pathlib import Path

import pytest

from moetui.config.dump import dump_config
from moetui.config.load import load_config
from moetui.config.schema import Stage
from moetui.errors import ConfigError

EXAMPLE = Path(__file__).parent.parent.parent / "examples" / "ramp.toml"


def _problems(tmp_path: Path, text: str) -> str:
    path = tmp_path / "run.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    return str(raised.value).replace(str(path), "FILE")


def test_the_stages_make_the_duration_and_a_saved_config_replays_them(tmp_path: Path) -> None:
    config = load_config(EXAMPLE)
    assert config.load.duration_s == 40.0 < 60  # the example runs in under a minute
    assert config.load.stages[:2] == (Stage(10.0, 0.0), Stage(100.0, 20.0))
    assert config.load.stages[3] == Stage(150.0, 2.0, "step")
    saved = tmp_path / "saved.toml"
    dump_config(config, saved)
    assert load_config(saved) == config


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '[load]\nmode = "closed"\n[[load.stages]]\nrate = 5\nduration = 1\n',
            'FILE: load.stages: is set with mode = "closed"; allowed: stages with mode = "open".',
        ),
        (
            '[load]\nmode = "open"\nduration = 5\n[[load.stages]]\nrate = 5\nduration = 1\n',
            "FILE: load.duration: 5 s is set with load.stages, which last 1 s; allowed: one of them",
        ),
        ('[load]\nmode = "open"\nstages = [{rate = -1, duration = 1}]\n', "FILE: load.stages[0].rate: -1 is out"),
        ('[load]\nmode = "open"\nstages = [{rate = 1}]\n', "FILE: load.stages[0].duration: missing"),
        ('[load]\nmode = "open"\nstages = [{rate = 0, duration = 1}]\n', "FILE: load.stages: sends nothing"),
        (
            '[load]\nmode = "open"\nstages = [{rate = 1, duration = 1, shape = "x"}]\n',
            'FILE: load.stages[0].shape: "x" is not',
        ),
        ('[load]\nmode = "open"\nstages = 3\n', "FILE: load.stages: expected an array of tables; got 3"),
    ],
)
def test_a_bad_stage_names_the_file_and_the_key(tmp_path: Path, text: str, expected: str) -> None:
    problems = _problems(tmp_path, text)
    assert problems.startswith(expected), problems
    assert len(problems.splitlines()) == 1, problems  # one problem, no follow-on about stand-in defaults
