"""JUnit XML of a run's thresholds ([output] junit, `moetui report --junit`): a failing threshold is a
failed test case carrying its limit and value, so CI shows which one failed."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from tests.helpers import assert_failed
from tests.http_server import FastServer
from tests.report.conftest import moetui


def test_a_failing_threshold_is_a_failed_test_case(server: FastServer, tmp_path: Path) -> None:
    junit, report_path = tmp_path / "out" / "junit.xml", tmp_path / "report.json"
    done = moetui(
        "run", server.url("/sleep?ms=20"), "-c", "2", "-d", "1s", "--report", str(report_path),
        "--set", "thresholds.p50_ms=5", "--set", "thresholds.p99_ms=5000", "--set", f"output.junit={junit}",
    )  # fmt: skip
    assert_failed(done.returncode, done.stdout + done.stderr)  # 4 when the machine judged the run invalid
    assert f"junit: {junit}" in done.stdout
    report = json.loads(report_path.read_text())
    suites = ET.parse(junit).getroot()
    (suite,) = suites.findall("testsuite")
    cases = {case.get("name"): case for case in suite.findall("testcase")}
    assert set(cases) == {check["name"] for check in report["thresholds"]} | {"valid_measurement"}
    failure = cases["p50_ms"].find("failure")
    assert failure is not None
    p50 = next(check for check in report["thresholds"] if check["name"] == "p50_ms")
    assert f"{p50['value']:g}" in failure.get("message", "") and "at most 5" in failure.get("message", "")
    assert cases["p99_ms"].find("failure") is None and cases["error_rate"].find("failure") is None
    failed = 1 + (report["valid"] is False)
    assert suite.get("failures") == str(failed) and suite.get("tests") == str(len(cases))

    # The same file from the saved report.
    again = tmp_path / "again.xml"
    assert moetui("report", str(report_path), "--junit", str(again)).returncode == 0
    assert again.read_text() == junit.read_text()
