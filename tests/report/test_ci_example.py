"""The README's CI example is the file under examples/ci/, valid YAML, and its moetui commands parse."""

from __future__ import annotations

import shlex
from pathlib import Path

import yaml

from moetui.cli import build_parser

ROOT = Path(__file__).resolve().parent.parent.parent
EXAMPLE = ROOT / "examples" / "ci" / "github-actions.yml"


def test_the_readme_shows_the_example_file_and_its_commands_parse() -> None:
    text = EXAMPLE.read_text()
    assert text in (ROOT / "README.md").read_text()
    workflow = yaml.safe_load(text)
    steps = workflow["jobs"]["latency"]["steps"]
    commands = [line for step in steps for line in [step.get("run", "")] if line.startswith("moetui")]
    assert len(commands) == 2
    for command in commands:
        argv = shlex.split(command.replace("\\\n", " "))[1:]
        args = build_parser().parse_args(argv)
        assert args.run == Path("examples/open.toml") or args.command == "compare"
    assert (ROOT / "examples" / "open.toml").is_file()
    assert "--fail-on p99=+20%" in commands[1]
