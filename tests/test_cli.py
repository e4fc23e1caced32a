"""The command line: --help and --version work, fast, without the Azure SDK or textual."""

from __future__ import annotations

import subprocess
import sys

from moetui import __version__


def run_python(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60).stdout


def test_help_imports_neither_azure_nor_textual() -> None:
    out = run_python(
        "import sys, contextlib, io\n"
        "from moetui.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()) as text:\n"
        "    try: main(['--help'])\n"
        "    except SystemExit: pass\n"
        "heavy = sorted({m.split('.')[0] for m in sys.modules} & {'azure', 'textual', 'aiohttp', 'yaml'})\n"
        "print(heavy, 'usage: moetui' in text.getvalue())\n"
    )
    assert out.strip() == "[] True"


def test_version() -> None:
    result = subprocess.run([sys.executable, "-m", "moetui", "--version"], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == f"moetui {__version__}"


def test_subcommand_help_lists_the_endpoint_flags() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "moetui", "local", "--help"], capture_output=True, text=True, timeout=60
    )
    for flag in (
        "--sleep",
        "--workers",
        "--max-concurrency",
        "--instances",
        "--timeout-ms",
        "--port",
        "--key",
        "--traffic",
    ):
        assert flag in result.stdout


def test_no_parser_accepts_an_abbreviated_flag() -> None:
    import argparse

    from moetui.cli import build_parser

    parsers, seen = [build_parser()], 0
    while parsers:
        parser = parsers.pop()
        seen += 1
        assert parser.allow_abbrev is False, parser.prog
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                parsers.extend(action.choices.values())
    assert seen >= 8  # moetui and each command
    # `--key` was taken for `--key-env`, and the key then printed as the name of an unset variable.
    done = subprocess.run(
        [sys.executable, "-m", "moetui", "run", "http://127.0.0.1:9/score", "--key", "S3cretK3y"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "unrecognized arguments: --key ***" in done.stderr
    assert "S3cretK3y" not in done.stdout + done.stderr
