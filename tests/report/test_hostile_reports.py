"""Reports are input too: `moetui report`, `compare` and `merge` on corrupted or hostile JSON end in a clear
error naming the file and the field (exit 2) or in a correct result, never in a traceback; a histogram bomb
is refused within bounded memory; NaN never passes a regression gate; --hgrm writes only its own names."""

from __future__ import annotations

import base64
import functools
import json
import math
import struct
import subprocess
import sys
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hdrh.histogram import HdrHistogram

from moetui.cli import main
from moetui.engine.histogram import HistogramDecodeError, decode
from moetui.report.codec import write_report
from moetui.report.compare import compare_reports, parse_fail_on, regressions
from moetui.report.hgrm import write_hgrm
from tests.fixtures import canned

Report = dict[str, Any]


@functools.cache
def _canned(name: str) -> str:
    """A canned run's report as JSON text (made once: each case changes its own copy)."""
    return json.dumps(getattr(canned, f"{name}_finished")()[1].report)


def _open() -> Report:
    return json.loads(_canned("open"))


def _steps() -> Report:
    return json.loads(_canned("steps"))


def _changed(change: Callable[[Report], Any], base: Callable[[], Report] = _open) -> Report:
    report = base()
    change(report)
    return report


def _histogram_text(payload: bytes, cookie: int = 0x1C849314) -> str:
    """A histogram's base64 form around any compressed payload."""
    return base64.b64encode(struct.pack(">II", cookie, len(payload)) + payload).decode()


def _payload_header(lowest: int = 1, highest: int = 3_600_000_000, digits: int = 3) -> bytes:
    return struct.pack(">IIIIQQd", 0x1C849303 | 0x10, 0, 0, digits, lowest, highest, 1.0)


def bomb(inflated: int = 1 << 30) -> str:
    """A histogram of `inflated` bytes (a valid header, then zeros) in ~1 MB: zlib's ratio is ~1000:1. The
    repeated 16 MB block is compressed once (each full flush starts afresh) and the checksum put at the end."""
    chunk = bytes(1 << 24)
    compressor = zlib.compressobj(9)
    first = compressor.compress(_payload_header() + chunk[len(_payload_header()) :])
    first += compressor.flush(zlib.Z_FULL_FLUSH)
    again = compressor.compress(chunk) + compressor.flush(zlib.Z_FULL_FLUSH)
    end = compressor.flush()[:-4]
    n = inflated // len(chunk)
    checksum = zlib.adler32(_payload_header() + chunk[len(_payload_header()) :])
    for _ in range(n - 1):
        checksum = zlib.adler32(chunk, checksum)
    return _histogram_text(first + again * (n - 1) + end + checksum.to_bytes(4, "big"))


def _other_settings() -> str:
    histogram = HdrHistogram(1, 10**12, 5)
    histogram.record_value(1000)
    encoded = histogram.encode()
    return encoded.decode() if isinstance(encoded, bytes) else str(encoded)


def _set(path: str, value: Any) -> Callable[[Report], None]:
    """Put `value` at a dotted path (list items by index)."""

    def change(report: Report) -> None:
        *parents, last = path.split(".")
        holder: Any = report
        for step in parents:
            holder = holder[int(step)] if isinstance(holder, list) else holder[step]
        if isinstance(holder, list):
            holder[int(last)] = value
        else:
            holder[last] = value

    return change


def _drop(path: str) -> Callable[[Report], None]:
    def change(report: Report) -> None:
        *parents, last = path.split(".")
        holder: Any = report
        for step in parents:
            holder = holder[step]
        del holder[last]

    return change


#: name -> (the file's bytes, what the error names; None: a correct result is expected).
CORPUS: dict[str, tuple[Callable[[], bytes], str | None]] = {
    "empty": (lambda: b"", "not a JSON report"),
    "truncated": (lambda: json.dumps(_open()).encode()[:5000], "not a JSON report"),
    "binary": (lambda: bytes(range(256)) * 4, "not UTF-8"),
    "utf16": (lambda: json.dumps(_open()).encode("utf-16"), "not UTF-8"),
    "deep_list": (lambda: b"[" * 100_000 + b"]" * 100_000, "nested deeper"),
    "deep_in_config": (
        lambda: json.dumps(_changed(_set("config.extra", json.loads("[" * 500 + "]" * 500)))).encode(),
        "nested deeper",
    ),
    "a_list": (lambda: b"[]", "not a moetui report"),
    "a_string": (lambda: b'"moetui.report/1"', "not a moetui report"),
    "other_schema": (lambda: json.dumps(_changed(_set("schema", "other/1"))).encode(), "schema"),
    "huge_integer": (
        lambda: json.dumps(_changed(_set("requests.ok", 7))).encode().replace(b'"ok": 7', b'"ok": ' + b"9" * 5000),
        "digits",
    ),
    "requests_a_list": (lambda: json.dumps(_changed(_set("requests", []))).encode(), "requests: expected an object"),
    "ok_a_string": (lambda: json.dumps(_changed(_set("requests.ok", "5"))).encode(), "requests.ok: expected a whole"),
    "ok_negative": (lambda: json.dumps(_changed(_set("requests.ok", -1))).encode(), "requests.ok"),
    "no_requests": (lambda: json.dumps(_changed(_drop("requests"))).encode(), "requests: missing"),
    "no_started_at": (lambda: json.dumps(_changed(_drop("started_at"))).encode(), "started_at: missing"),
    "started_at_not_a_time": (
        lambda: json.dumps(_changed(_set("started_at", "yesterday"))).encode(),
        "started_at: expected an ISO 8601",
    ),
    "throughput_a_string": (
        lambda: json.dumps(_changed(_set("throughput_rps", "fast"))).encode(),
        "throughput_rps: expected a finite number",
    ),
    "throughput_nan": (
        lambda: json.dumps(_changed(_set("throughput_rps", math.nan))).encode(),
        "throughput_rps: expected a finite number, got nan",
    ),
    "p99_infinity": (
        lambda: json.dumps(_changed(_set("latency_ms.p99", math.inf))).encode(),
        "latency_ms.p99: expected a finite number",
    ),
    "by_status_a_float": (
        lambda: json.dumps(_changed(_set("requests.by_status.200", 1.5))).encode(),
        "requests.by_status.200",
    ),
    "per_second_an_object": (
        lambda: json.dumps(_changed(_set("per_second", {}))).encode(),
        "per_second: expected a list",
    ),
    "per_second_row_ok_null": (
        lambda: json.dumps(_changed(_set("per_second.1.ok", None))).encode(),
        "per_second[1].ok",
    ),
    "request_log_time_a_string": (
        lambda: json.dumps(_changed(_set("request_log.0.sent_at_s", "x"))).encode(),
        "request_log[0].sent_at_s",
    ),
    "threshold_without_name": (
        lambda: json.dumps(_changed(_set("thresholds", [{"limit": 1, "value": None, "passed": True}]))).encode(),
        "thresholds[0].name: missing",
    ),
    "generator_reasons_a_string": (
        lambda: json.dumps(_changed(_set("generator.reasons", "slow"))).encode(),
        "generator.reasons: expected a list",
    ),
    "steps_percentile_markup": (
        lambda: json.dumps(_changed(_set("steps.percentile", "<img src=x onerror=alert(1)>"), _steps)).encode(),
        "steps.percentile: expected a finite number",
    ),
    "steps_table_a_string": (
        lambda: json.dumps(_changed(_set("steps.table", "x"), _steps)).encode(),
        "steps.table: expected a list",
    ),
    "histograms_a_list": (lambda: json.dumps(_changed(_set("histograms", []))).encode(), "histograms: expected"),
    "histogram_a_number": (lambda: json.dumps(_changed(_set("histograms.ok", 5))).encode(), "histograms.ok"),
    "histogram_bad_base64": (
        lambda: json.dumps(_changed(_set("histograms.ok", "!!not base64!!"))).encode(),
        "histograms.ok: not a moetui histogram: not base64",
    ),
    "histogram_not_ascii": (
        lambda: json.dumps(_changed(_set("histograms.ok", "HISTFAAAé"))).encode(),
        "histograms.ok: not a moetui histogram",
    ),
    "histogram_bad_zlib": (
        lambda: json.dumps(_changed(_set("histograms.ok", _histogram_text(b"not zlib at all")))).encode(),
        "histograms.ok: not a moetui histogram: not zlib",
    ),
    "histogram_short": (
        lambda: json.dumps(_changed(_set("histograms.ok", _histogram_text(zlib.compress(b"abc"))))).encode(),
        "too short",
    ),
    "histogram_bad_cookie": (
        lambda: json.dumps(
            _changed(_set("histograms.ok", _histogram_text(zlib.compress(b"\0" * 40 + b"\1" * 100))))
        ).encode(),
        "histograms.ok: not a moetui histogram",
    ),
    "histogram_bad_inner_cookie": (
        lambda: json.dumps(
            _changed(
                _set(
                    "histograms.ok",
                    _histogram_text(zlib.compress(struct.pack(">IIIIQQd", 0, 0, 0, 3, 1, 3_600_000_000, 1.0))),
                )
            )
        ).encode(),
        "histograms.ok: not a moetui histogram: not a histogram (HdrCookieException",
    ),
    "histogram_other_settings": (
        lambda: json.dumps(_changed(_set("histograms.ok", _other_settings()))).encode(),
        "histograms.ok: not a moetui histogram: a histogram of 1 to 1000000000000 at 5 digits",
    ),
    "histogram_named_up_two": (
        lambda: json.dumps(_changed(lambda r: r["histograms"].update({"../../x": r["histograms"]["ok"]}))).encode(),
        "histograms.'../../x': not one of",
    ),
    "histogram_named_absolute": (
        lambda: json.dumps(
            _changed(lambda r: r["histograms"].update({"/tmp/moetui-x": r["histograms"]["ok"]}))
        ).encode(),
        "histograms.'/tmp/moetui-x': not one of",
    ),
    "windows_a_list": (lambda: json.dumps(_changed(_set("windows", []))).encode(), "windows: expected an object"),
    "window_histogram_bad": (
        lambda: json.dumps(_changed(_set("windows", {"seconds": 1, "rows": [{"start_s": 0, "ok": "!!"}]}))).encode(),
        "windows.rows[0].ok: not a moetui histogram",
    ),
    "too_many_windows": (
        lambda: json.dumps(
            _changed(_set("windows", {"seconds": 1, "rows": [{"start_s": i} for i in range(201)]}))
        ).encode(),
        "windows.rows: 201 windows",
    ),
    # Correct results: what the reader does not read may be anything; newer writers' fields are allowed.
    "unknown_fields": (lambda: json.dumps(_changed(_set("from_the_future", {"x": [1, None]}))).encode(), None),
    "nan_in_config": (lambda: json.dumps(_changed(_set("config.extra", math.nan))).encode(), None),
    "no_histograms": (lambda: json.dumps(_changed(_drop("histograms"))).encode(), None),
    "steps": (lambda: json.dumps(_steps()).encode(), None),
}

#: Each command that reads a report: (name, argv given the report's path, a good report's and a directory).
COMMANDS: dict[str, Callable[[Path, Path, Path], list[str]]] = {
    "report": lambda bad, good, out: ["report", str(bad)],
    "report_outputs": lambda bad, good, out: [
        "report",
        str(bad),
        "--html",
        str(out / "r.html"),
        "--hgrm",
        str(out / "hgrm"),
        "--junit",
        str(out / "r.xml"),
    ],
    "compare_base": lambda bad, good, out: ["compare", str(bad), str(good), "--fail-on", "throughput_rps=-50%"],
    "compare_new": lambda bad, good, out: ["compare", str(good), str(bad), "--html", str(out / "c.html")],
    "merge": lambda bad, good, out: ["merge", str(good), str(bad), "--mixed", "-o", str(out / "m.json")],
}


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("good") / "good.json"
    write_report(_open(), path)
    return path


@pytest.mark.parametrize("command", list(COMMANDS))
@pytest.mark.parametrize("case", list(CORPUS))
def test_a_hostile_report_is_a_clear_error_or_a_result(
    case: str, command: str, good: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make, names = CORPUS[case]
    bad = tmp_path / f"{case}.json"
    bad.write_bytes(make())
    out = tmp_path / "out"
    out.mkdir()
    status = main(COMMANDS[command](bad, good, out))
    captured = capsys.readouterr()
    if names is None:
        assert status in (0, 1), captured.err  # 1: compare's gate may find a regression
        assert captured.err == ""
        if command == "report_outputs":
            assert (out / "r.html").is_file() and (out / "r.xml").is_file()
        return
    assert status == 2, (status, captured.out[-500:], captured.err[-2000:])
    assert captured.err.startswith("moetui: Report not readable: "), captured.err
    assert str(bad) in captured.err and names in captured.err, captured.err
    assert sorted(p.name for p in out.iterdir()) == [], "nothing is written from a report refused"
    assert not (tmp_path.parent / "x.hgrm").exists() and not Path("/tmp/moetui-x.hgrm").exists()


def test_an_over_large_file_is_refused_before_it_is_parsed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from moetui.report.codec import MAX_REPORT_BYTES

    big = tmp_path / "big.json"
    with big.open("wb") as handle:
        handle.truncate(MAX_REPORT_BYTES + 1)  # sparse: no disk spent
    assert main(["report", str(big)]) == 2
    assert f"{big}: larger than 64 MB" in capsys.readouterr().err


def test_a_missing_file_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(tmp_path / "none.json")]) == 2
    assert f"{tmp_path / 'none.json'}: not readable (No such file or directory)" in capsys.readouterr().err


#: Run in a child: its peak resident memory (VmHWM, KB: of this program only, where ru_maxrss would count the
#: pytest process it was forked from) after reading the report, and the exit status.
_MEASURE = """
import re, sys
from pathlib import Path
from moetui.cli import main
status = main(sys.argv[1:])
print(re.search(r"VmHWM:\\s+(\\d+) kB", Path("/proc/self/status").read_text()).group(1), status)
"""


@pytest.mark.parametrize("command", ["report", "compare", "merge"])
def test_a_histogram_bomb_is_refused_in_bounded_memory(command: str, good: Path, tmp_path: Path) -> None:
    """A 1 MB report whose histogram inflates to 1 GB (1.6 GB of memory before): refused, under 200 MB."""
    report = _open()
    report["histograms"]["ok"] = bomb()
    path = tmp_path / "bomb.json"
    write_report(report, path)
    assert path.stat().st_size < 2 << 20
    argv = {"report": ["report", str(path)], "compare": ["compare", str(good), str(path)]}.get(
        command, ["merge", str(good), str(path)]
    )
    done = subprocess.run(
        [sys.executable, "-c", _MEASURE, *argv], capture_output=True, text=True, timeout=120, check=False
    )
    peak_kb, status = (int(word) for word in done.stdout.split()[-2:])
    assert status == 2, done.stderr
    assert "histograms.ok: not a moetui histogram: inflates to more than 262,144 bytes" in done.stderr
    assert peak_kb < 200 * 1024, f"{peak_kb / 1024:.0f} MB"


def test_the_bomb_is_a_real_one() -> None:
    """The bomb above is what it claims: valid zlib that inflates to 1 GB (counted in bounded pieces)."""
    raw = base64.b64decode(bomb())
    inflater = zlib.decompressobj()
    data, total = raw[8:], 0
    while data or not inflater.eof:
        total += len(inflater.decompress(data, 1 << 24))
        data = inflater.unconsumed_tail
    assert total == 1 << 30 and inflater.eof


def test_decode_reads_back_what_the_engine_writes_and_refuses_other_settings() -> None:
    histograms = _open()["histograms"]
    for encoded in histograms.values():
        assert decode(encoded).get_total_count() > 0
    with pytest.raises(HistogramDecodeError, match="at 5 digits"):
        decode(_other_settings())


def test_a_nan_fails_the_regression_gate() -> None:
    """A report read from memory (the app's previous run, a merge) that holds NaN: the gate fails on it."""
    base, new = _open(), _open()
    new["throughput_rps"] = math.nan
    comparison = compare_reports([base], [new])
    rules = parse_fail_on("throughput_rps=-5%,p50=+10%")  # p99 of its 150 answers is too few to judge
    broken = regressions(comparison, rules)
    assert len(broken) == 1 and broken[0].startswith("throughput_rps: ") and "not a finite number" in broken[0]
    assert regressions(compare_reports([base], [_open()]), rules) == []


def test_hgrm_writes_only_its_own_names(tmp_path: Path) -> None:
    """write_hgrm on a report from memory with names a file would escape by: only the known names written."""
    report = _open()
    encoded = report["histograms"]["ok"]
    report["histograms"].update({"../escaped": encoded, str(tmp_path / "absolute"): encoded})
    out = tmp_path / "deep" / "hgrm"
    written = write_hgrm(report, out)
    assert sorted(p.name for p in written) == sorted(f"{name}.hgrm" for name in _open()["histograms"])
    assert sorted(p.name for p in tmp_path.rglob("*.hgrm")) == sorted(p.name for p in written)
    assert all(p.parent == out for p in written)
