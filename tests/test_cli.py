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
