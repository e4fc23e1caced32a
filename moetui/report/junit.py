"""A report's thresholds as JUnit XML, the test-result format CI systems show (GitHub Actions test
reporters, GitLab, Jenkins, Azure Pipelines): one test case per threshold, a failure carrying its limit and
value, plus one for the measurement's validity (the generator kept up). Reads the JSON report only.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from moetui.paths import write_atomic
from moetui.report.model import Report

#: The test suite's name, and the class name of every test case.
SUITE = "moetui.thresholds"


def _number(value: Any) -> str:
    return f"{value:g}" if isinstance(value, (int, float)) else str(value)


def junit_xml(report: Report, name: str = SUITE) -> str:
    """The thresholds of `report` as a JUnit XML document (a <testsuites> with one <testsuite>)."""
    cases: list[ET.Element] = []
    failures = 0
    for check in report.get("thresholds", []):
        case = ET.Element("testcase", classname=name, name=str(check["name"]), time="0")
        relation = "at least" if check.get("at_least") else "at most"
        text = f"{check['name']} = {_number(check['value'])}, limit {relation} {_number(check['limit'])}"
        if check.get("default"):
            text += " (default threshold)"
        if not check.get("passed"):
            failures += 1
            failure = ET.SubElement(case, "failure", message=text, type="threshold")
            failure.text = text
        else:
            ET.SubElement(case, "system-out").text = text
        cases.append(case)
    generator = report.get("generator")
    valid = ET.Element("testcase", classname=name, name="valid_measurement", time="0")
    if report.get("valid") is False:
        failures += 1
        reasons = "; ".join(generator["reasons"] if generator else []) or "the generator could not keep up"
        ET.SubElement(valid, "failure", message=reasons, type="invalid_measurement").text = reasons
    cases.append(valid)
    wall_s = str(report.get("wall_s", 0))
    suites = ET.Element("testsuites", name="moetui", tests=str(len(cases)), failures=str(failures), time=wall_s)
    suite = ET.SubElement(
        suites,
        "testsuite",
        name=name,
        tests=str(len(cases)),
        failures=str(failures),
        errors="0",
        skipped="0",
        time=wall_s,
        timestamp=str(report.get("started_at", "")),
    )
    properties = ET.SubElement(suite, "properties")
    target = report.get("target")
    for key, value in (("mode", report.get("mode")), ("target", target.get("description") if target else None)):
        if value is not None:
            ET.SubElement(properties, "property", name=key, value=str(value))
    suite.extend(cases)
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


def write_junit(report: Report, path: Path) -> Path:
    """Write junit_xml(report) to `path` (directories created); returns the path."""
    return write_atomic(path, junit_xml(report))
