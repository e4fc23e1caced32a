"""Text moetui did not write (a report's strings, a server's answer, a path in an error) is printed without
terminal escape sequences or control characters: redact.printable, applied where such text is printed."""

from __future__ import annotations

import json
from pathlib import Path

from moetui.redact import printable
from tests.http_server import FastServer
from tests.report.conftest import moetui

HOSTILE = "\x1b]0;pwned\x07\x1b[2J\x1b[31mred\x1b[0m\rover\x9b1m\x00end\tok"


def test_printable_drops_escapes_and_controls_but_keeps_lines_and_tabs() -> None:
    assert printable(HOSTILE) == "redoverend\tok"
    assert printable("a\nb\tc ü ✓") == "a\nb\tc ü ✓"
    assert printable("\x1bP1$r\x1b\\x\x1b7y") == "xy"


def test_a_reports_strings_are_printed_without_escapes(server: FastServer, tmp_path: Path) -> None:
    path = tmp_path / "report.json"
    done = moetui("run", server.url("/fast"), "-n", "2", "--set", "load.mode=burst", "--report", str(path))
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(path.read_text())
    report["notes"] = [HOSTILE]
    path.write_text(json.dumps(report))
    shown = moetui("report", str(path))
    assert shown.returncode == 0, shown.stdout + shown.stderr
    assert "  note: redoverend\tok" in shown.stdout
    assert not any(char in shown.stdout for char in "\x1b\x07\r\x9b\x00")


def test_an_error_quoting_a_hostile_path_is_printed_without_escapes(tmp_path: Path) -> None:
    done = moetui("--run", str(tmp_path / f"{HOSTILE.replace(chr(0), '')}.toml"))  # no NUL in a path
    assert done.returncode == 2
    assert "redoverend\tok.toml: no such file." in done.stderr
    assert not any(char in done.stderr for char in "\x1b\x07\r\x9b")
