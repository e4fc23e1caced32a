"""`moetui report --hgrm DIR`: HdrHistogram's percentile-distribution text, read back to the report's own
figures; and byte for byte what Java's HdrHistogram writes, where a JDK and its jar are at hand."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
from pathlib import Path

import pytest

from moetui.engine.histogram import decode
from moetui.report.hgrm import format_hgrm
from tests.report.conftest import moetui

HDRHISTOGRAM_JAR = Path.home() / ".m2/repository/org/hdrhistogram/HdrHistogram/2.2.2/HdrHistogram-2.2.2.jar"


def parse_hgrm(text: str) -> tuple[list[tuple[float, float, int]], dict[str, float]]:
    """(rows of (value ms, percentile 0-1, total count), footer fields) of a .hgrm file."""
    lines = text.splitlines()
    assert lines[0].split() == ["Value", "Percentile", "TotalCount", "1/(1-Percentile)"]
    rows = []
    footer: dict[str, float] = {}
    for line in lines[2:]:
        if line.startswith("#["):
            for field in line.strip("#[]").split(","):
                key, value = field.split("=")
                footer[key.strip()] = float(value)
            continue
        parts = line.split()
        rows.append((float(parts[0]), float(parts[1]), int(parts[2])))
        if len(parts) == 4:  # 1/(1-p) on every row but the last (100 %)
            assert float(parts[3]) == pytest.approx(1 / (1 - float(parts[1])), abs=0.01)
    return rows, footer


@pytest.mark.parametrize("kind", ["open", "steps"])
def test_hgrm_files_read_back_to_the_reports_percentiles(reports: dict[str, Path], tmp_path: Path, kind: str) -> None:
    report = json.loads(reports[kind].read_text())
    done = moetui("report", str(reports[kind]), "--hgrm", str(tmp_path / "hgrm"))
    assert done.returncode == 0, done.stderr
    written = sorted(p.name for p in (tmp_path / "hgrm").iterdir())
    assert written == sorted(f"{name}.hgrm" for name in report["histograms"])
    blocks = {"ok": "latency_ms", "ok_corrected": "corrected_latency_ms"}
    for name, key in blocks.items():
        if name not in report["histograms"]:
            continue
        block = report[key]
        rows, footer = parse_hgrm((tmp_path / "hgrm" / f"{name}.hgrm").read_text())
        assert footer["Total count"] == block["count"] == rows[-1][2]
        assert footer["Max"] == rows[-1][0] == block["max"]
        assert footer["Buckets"] > 0 and footer["SubBuckets"] == 2048
        # Each row is where the running count first reaches its level: the value at that percentile.
        # 50 % and 90 % are levels of HdrHistogram's walk (5 ticks per half distance).
        at = {round(p, 9): value for value, p, _ in rows}
        assert at[0.5] == block["p50"]
        count = block["count"]
        if math.ceil(0.9 * count) == int(0.9 * count + 0.5):  # the report rounds its count target; same here
            assert at[0.9] == block["p90"]
        # Any percentile: the report's value is the answer at hdrh's rank (p x count, rounded half up; Java's
        # walk rounds the level up, so at 69 answers their p99 ranks are the 68th and the 69th): the first row
        # whose running count reaches that rank is at least the report's value, and the row before is at most it.
        for percentile, key_p in ((99.0, "p99"), (99.9, "p99_9")):
            rank = max(1, int(percentile / 100 * count + 0.5))
            index = next(i for i, (_, _p, running) in enumerate(rows) if running >= rank)
            assert rows[index][0] >= block[key_p] >= rows[max(0, index - 1)][0]
        if name == "ok" and "mean" in block:
            assert footer["Mean"] == pytest.approx(block["mean"], rel=0.01)


@pytest.mark.skipif(
    shutil.which("javac") is None or not HDRHISTOGRAM_JAR.is_file(),
    reason=f"needs javac and {HDRHISTOGRAM_JAR} (Java HdrHistogram 2.2.2) to compare with the reference output",
)
def test_the_text_is_what_java_hdrhistogram_writes(reports: dict[str, Path], tmp_path: Path) -> None:
    source = tmp_path / "Hgrm.java"
    source.write_text(
        "import org.HdrHistogram.*; import java.nio.ByteBuffer; import java.nio.file.*; import java.util.Base64;\n"
        "public class Hgrm { public static void main(String[] a) throws Exception {\n"
        "  byte[] b = Base64.getDecoder().decode(new String(Files.readAllBytes(Paths.get(a[0]))).trim());\n"
        "  Histogram h = Histogram.decodeFromCompressedByteBuffer(ByteBuffer.wrap(b), 0);\n"
        "  h.outputPercentileDistribution(System.out, 5, 1000.0); } }\n"
    )
    classpath = f"{HDRHISTOGRAM_JAR}:{tmp_path}"
    subprocess.run(["javac", "-cp", classpath, str(source)], check=True, timeout=120, capture_output=True)
    for kind in ("open", "burst"):
        for name, encoded in json.loads(reports[kind].read_text())["histograms"].items():
            (tmp_path / "h.b64").write_text(encoded)
            java = subprocess.run(
                ["java", "-cp", classpath, "Hgrm", str(tmp_path / "h.b64")],
                capture_output=True,
                text=True,
                check=True,
                timeout=120,
            ).stdout
            assert format_hgrm(decode(encoded)) == java, (kind, name)
