"""Matrices against the real local endpoint: a fixed-load matrix whose throughputs order as the settings
predict, a goodput search landing near a known capacity, CPU pinning (and the goodput it costs a CPU-bound
scorer), and an interrupted matrix resumed."""

from __future__ import annotations

import io
import json
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from moetui.errors import ExitStatus
from moetui.local_endpoint import LocalEndpoint
from moetui.local_endpoint.settings import DeploymentSettings, LocalEndpointSettings
from moetui.matrix.config import read_matrix
from moetui.matrix.printer import MatrixPrinter
from moetui.matrix.recommend import recommend
from moetui.matrix.run import run_matrix

pytestmark = pytest.mark.slow
ROOT = Path(__file__).parent.parent.parent
CPU_SCORER = ROOT / "tests" / "fixtures" / "cpu_score.py"
#: Above this many cores used by other processes (other engineers' tests) the 2-CPU cell may have had no
#: second CPU to use, so a low goodput ratio says nothing about pinning: 1.14 with 0.33, 1.17 with a CPU hog.
OTHERS_CORES_LIMIT = 0.25

FIXED = """
[target.local]
sleep = 0.2

[load]
mode = "closed"
connections = 3
duration = "3s"
timeout = "10s"

[matrix]
workers = [1, 3]
max_concurrency = [1, 3]

[prices]
local-2cpu = 0.20
"""


async def _run(path: Path, tmp_path: Path, **kwargs: object) -> tuple[int, str, dict[str, object]]:
    out, err = io.StringIO(), io.StringIO()
    report = tmp_path / "m.json"
    status = await run_matrix(
        read_matrix(path),
        report_path=report,
        state_path=tmp_path / "m.state.json",
        listener=MatrixPrinter(out, err),
        price_cache=tmp_path / "cache.json",
        **kwargs,  # type: ignore[arg-type]
    )
    return status, out.getvalue(), json.loads(report.read_text()) if report.exists() else {}


async def test_fixed_load_matrix_orders_cells_as_the_settings_predict(tmp_path: Path) -> None:
    path = tmp_path / "matrix.toml"
    path.write_text(FIXED)
    status, out, report = await _run(path, tmp_path)
    assert status == ExitStatus.OK
    cells = {c["name"]: c for c in report["cells"]}  # type: ignore[union-attr]
    assert list(cells) == ["c1-w1", "c1-w3", "c3-w1", "c3-w3"]
    rate = {name: c["rate_rps"] for name, c in cells.items()}
    # One at a time at 0.2 s is at most 5/s; three workers and three admitted at once: about 15/s.
    for one_at_a_time in ("c1-w1", "c1-w3", "c3-w1"):
        assert rate[one_at_a_time] < 6.0
        assert rate["c3-w3"] > 2 * rate[one_at_a_time]
    assert report["recommendation"]["cell"] == "c3-w3"  # type: ignore[index]
    assert "Recommendation: c3-w3" in out
    # The CLI's face prints the matrix's events (run_matrix prints nothing): the answer, the report, the end.
    assert out.rstrip().endswith(f"report: {tmp_path / 'm.json'}\n{ExitStatus.OK.line}"), out
    assert cells["c3-w3"]["cost_per_1000"] == pytest.approx(0.20 / (rate["c3-w3"] * 3.6), rel=1e-3)
    assert report["prices"]["local-2cpu"]["source"].startswith("config")  # type: ignore[index]
    # Every cell's full run report, its histograms mergeable; the servers' CPU and memory sampled.
    measurement = cells["c3-w3"]["measurements"][0]
    assert measurement["report"]["schema"] == "moetui.report/1" and measurement["report"]["histograms"]["ok"]
    processes = measurement["utilisation"]["processes"]
    assert set(processes) == {"gateway", "server-0"} and processes["server-0"]["rss_mb_peak"] > 10
    assert not (tmp_path / "m.state.json").exists()  # finished: nothing to resume


@pytest.mark.serial  # a p99 SLO 100 ms over the sleep: a neighbour's load would move the capacity found
async def test_goodput_search_finds_a_known_capacity(tmp_path: Path) -> None:
    # sleep 0.2 s, 2 at once: at most 10 req/s. The SLO (p99 300 ms) holds below it and breaks above it.
    precision = 0.15
    path = tmp_path / "matrix.toml"
    path.write_text(
        f"""
[target.local]
sleep = 0.2
workers = 2
max_concurrency = 2

[matrix]
search = "goodput"
workers = [2]

[matrix.slo]
p99_ms = 300
error_rate = 0.01

[matrix.goodput]
start_rate = 2
precision = {precision}
probe = "2s"
warmup = "0.5s"
"""
    )
    status, out, report = await _run(path, tmp_path)
    assert status == ExitStatus.OK, out
    cell = report["cells"][0]  # type: ignore[index]
    capacity = 2 / 0.2
    search = cell["measurements"][0]["search"]
    assert capacity * (1 - precision) - 0.5 <= cell["rate_rps"] <= capacity * 1.02, search["probes"]
    low, high = search["bracket"]
    assert high - low <= precision * high
    rates = [p["rate_per_s"] for p in search["probes"]]
    assert rates[:3] == [2, 4, 8]  # doubling first, then bisecting
    probes = search["probes"]
    for index, probe in enumerate(probes):  # an invalid probe is repeated at its rate, never used
        if not probe["used"]:
            assert probes[index + 1]["rate_per_s"] == probe["rate_per_s"]
            assert probes[index + 1]["attempt"] == probe["attempt"] + 1
    assert cell["measurements"][0]["report"]["mode"] == "open"


def _cpu_s() -> tuple[float, float]:
    """(Busy CPU seconds of the whole machine, of this process and its ended children) so far: the local
    endpoint's processes are its children, reaped by the time a matrix ends."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields
    machine = (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")
    ours = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        ours += usage.ru_utime + usage.ru_stime
    return machine, ours


@pytest.mark.serial  # needs the second CPU free
async def test_goodput_search_gives_the_2cpu_cell_more_goodput_with_a_cpu_bound_scorer(tmp_path: Path) -> None:
    # About 30 ms of CPU a request and two workers: pinned to one CPU the two share it (about 30 req/s at
    # most), on two each has its own (about 60 req/s, less what the gateway and this generator take). Room
    # for four at once, so a late request waits at the server (judged by the p99) instead of being a 429.
    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("needs 2 CPUs")
    path = tmp_path / "matrix.toml"
    path.write_text(
        f"""
[target.local]
scorer = "{CPU_SCORER}"
workers = 2
max_concurrency = 4

[matrix]
search = "goodput"
instance_type = ["local-1cpu", "local-2cpu"]

[matrix.slo]
p99_ms = 200
error_rate = 0.01

[matrix.goodput]
start_rate = 12
precision = 0.2
probe = "2s"
warmup = "0.5s"
"""
    )
    (machine_s, ours_s), started = _cpu_s(), time.monotonic()
    status, out, report = await _run(path, tmp_path)
    machine_end_s, ours_end_s = _cpu_s()
    others_cores = (machine_end_s - machine_s - (ours_end_s - ours_s)) / (time.monotonic() - started)
    assert status == ExitStatus.OK, out
    cells = {c["name"]: c for c in report["cells"]}  # type: ignore[union-attr]
    one, two = cells["local-1cpu"], cells["local-2cpu"]
    probes = {
        name: [(p["rate_per_s"], p["verdict"]["passed"]) for p in c["measurements"][0]["search"]["probes"]]
        for name, c in cells.items()
    }
    # The servers' sampled CPU shows the pinning, however busy the machine: one core at most for local-1cpu.
    used = {name: c["measurements"][0]["utilisation"] for name, c in cells.items()}
    one_peak = used["local-1cpu"]["processes"]["server-0"]["cpu_cores_peak"]
    two_peak = used["local-2cpu"]["processes"]["server-0"]["cpu_cores_peak"]
    assert one_peak <= 1.15, used
    assert used["local-1cpu"]["cpus_per_instance"] == 1 and used["local-2cpu"]["cpus_per_instance"] == 2
    assert one["rate_rps"] > 0, probes
    # Measured 2.0 (30 against 60 req/s), 1.6 and 1.6 (30 against 48) with other processes using 0.25-0.36
    # cores, 1.6 with 0.61; start_rate 12 puts 48 on the grid (10 put 40: 40/35 = 1.14 with 0.33 cores).
    ratio = two["rate_rps"] / one["rate_rps"]
    if (ratio < 1.3 or two_peak <= 1.15) and others_cores > OTHERS_CORES_LIMIT:
        pytest.skip(
            f"other processes used {others_cores:.2f} of the 2 CPUs during the matrix, so the 2-CPU cell had "
            f"no second CPU to use (goodput {two['rate_rps']:g} against {one['rate_rps']:g} req/s)"
        )
    assert ratio >= 1.3, (others_cores, probes)
    assert two_peak > 1.15, (others_cores, used)  # the 2-CPU cell's two workers ran at once


async def test_a_local_instance_type_pins_the_server_to_its_cpus() -> None:
    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("needs 2 CPUs")
    settings = LocalEndpointSettings(deployments=(DeploymentSettings(sleep_s=0, worker_count=2, cpus=1),))
    async with LocalEndpoint(settings) as endpoint:
        pid = endpoint.instance_pids[0]
        workers = [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
        assert workers
        for process in (pid, *workers):
            assert len(os.sched_getaffinity(process)) == 1
        assert len(os.sched_getaffinity(endpoint.gateway_pid)) == len(os.sched_getaffinity(0))  # the front end


def test_an_interrupted_matrix_resumes_with_only_the_missing_cells(tmp_path: Path) -> None:
    path = tmp_path / "matrix.toml"
    path.write_text(FIXED.replace("max_concurrency = [1, 3]", "max_concurrency = [3]"))
    report, state = tmp_path / "m.json", tmp_path / "m.state.json"
    command = [sys.executable, "-m", "moetui", "profile", str(path), "--yes", "--report", str(report)]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "XDG_CONFIG_HOME": str(tmp_path)}
    first = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not state.exists() and time.monotonic() < deadline and first.poll() is None:
            time.sleep(0.1)
        assert state.exists(), "the first cell never finished"
        first.send_signal(signal.SIGINT)
        _, err = first.communicate(timeout=60)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    assert first.returncode == ExitStatus.INTERRUPTED, err
    assert list(json.loads(state.read_text())["measurements"]) == ["0/c3-w1"]
    assert not report.exists()

    second = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert second.returncode == ExitStatus.OK, second.stderr
    assert "1 measurement(s) already done" in second.stderr
    assert "[cell 1/2" not in second.stderr and "[cell 2/2 c3-w3]" in second.stderr
    resumed = json.loads(report.read_text())

    single = subprocess.run(
        [*command[:-1], str(tmp_path / "single.json")], env=env, capture_output=True, text=True, timeout=120
    )
    assert single.returncode == ExitStatus.OK, single.stderr
    whole = json.loads((tmp_path / "single.json").read_text())
    assert _same_shape(_shape(resumed), _shape(whole)), (_shape(resumed), _shape(whole))
    assert [c["name"] for c in resumed["cells"]] == [c["name"] for c in whole["cells"]] == ["c3-w1", "c3-w3"]
    # Which cell wins is the machine's to measure (under a CPU hog, c3-w3's run may be judged invalid and
    # c3-w1 answer); what resuming must keep is an answer made over every cell, the one measured before the
    # interruption included. The settings' order is test_fixed_load_matrix_orders_cells_as_the_settings_predict's.
    for answer in (resumed, whole):
        assert answer["recommendation"] == recommend(answer["cells"])
        assert answer["recommendation"]["cell"] in {"c3-w1", "c3-w3"}


def _same_shape(a: object, b: object) -> bool:
    """The same keys and kinds, a null matching any kind: a cell may miss its SLO on a busy machine (its
    measurement judged invalid), and the recommendation's runner-up and margin are then null."""
    if a is None or b is None:
        return True
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same_shape(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same_shape(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def _shape(value: object) -> object:
    """The structure of a report: keys and kinds, not measured values (lists by their first item)."""
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items() if k not in ("per_second", "request_log", "by_status")}
    if isinstance(value, list):
        return [_shape(value[0])] if value else []
    return type(value).__name__ if value is not None else None
