"""A run over several nodes, for real, on this machine: `--nodes N --local-nodes` starts N node processes
with the environment an Azure ML job gives (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT), the barrier, the
job's output folder layout, and the launcher's exact merge. Also the node shares and the merge's parts."""

from __future__ import annotations

import asyncio
import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from moetui.config.load import load_config, stacked
from moetui.config.profiler_env import read_profiler_env
from moetui.engine.histogram import decode, new_histogram
from moetui.engine.plan import LoadPlan
from moetui.engine.transport import RequestSpec
from moetui.errors import ConfigError
from moetui.nodes.barrier import START_SPREAD_BOUND_S, barrier
from moetui.nodes.env import TOKEN_ENV, NodeEnv, NodeError, free_port, node_env
from moetui.nodes.node import SHARED_KEY_ENV, SHARED_TARGET_ENV, shared_target_environ, shared_target_layer
from moetui.nodes.share import check_nodes, node_share
from moetui.report.merge import merged_seconds
from tests.helpers import assert_failed, assert_ran, descendants, kill_all, wait_gone
from tests.http_server import FastServer

KEY = "k3y-that-must-never-leak-n0des"
TOKEN = "a" * 32


def plan(**changes: Any) -> LoadPlan:
    base = LoadPlan(
        request=RequestSpec("http://127.0.0.1:1/", "POST", {}, 5.0), payloads=(b"{}",), mode="closed", duration_s=5
    )
    return LoadPlan(**{**base.__dict__, **changes})


def test_node_shares_add_up_to_the_plan_with_odd_numbers() -> None:
    whole = plan(mode="open", connections=5, clients=5, rate=10.0, requests=7, seed=1)
    shares = [node_share(whole, rank, 3) for rank in range(3)]
    assert [s.connections for s in shares] == [2, 2, 1]
    assert [s.clients for s in shares] == [2, 2, 1]
    assert [s.requests for s in shares] == [3, 2, 2]
    assert sum(s.connections for s in shares) == 5 and sum(s.requests or 0 for s in shares) == 7
    assert math.fsum(s.rate for s in shares) == 10.0
    assert len({s.seed for s in shares}) == 3  # no two nodes draw the same arrivals
    sweep = plan(mode="steps", steps_over="connections", steps_levels=(3.0, 7.0))
    levels = [node_share(sweep, rank, 3).steps_levels for rank in range(3)]
    assert [sum(level[i] for level in levels) for i in range(2)] == [3, 7]
    assert node_share(whole, 0, 1) is whole


def test_more_nodes_than_connections_is_refused_naming_the_setting() -> None:
    with pytest.raises(ConfigError, match=r"load\.connections comes to 2"):
        check_nodes(plan(connections=2), 3)
    with pytest.raises(ConfigError, match=r"load\.requests"):
        check_nodes(plan(connections=8, requests=2), 3)
    with pytest.raises(ConfigError, match="needs at least 2"):
        check_nodes(plan(connections=4, workers=2), 3)


def test_node_env_reads_pytorch_and_mpi_variables() -> None:
    env = {"RANK": "1", "WORLD_SIZE": "3", "MASTER_ADDR": "10.0.0.4", "MASTER_PORT": "6105", TOKEN_ENV: TOKEN}
    assert node_env(env) == NodeEnv(1, 3, "10.0.0.4", 6105, TOKEN)
    mpi = {"OMPI_COMM_WORLD_RANK": "2", "OMPI_COMM_WORLD_SIZE": "3", "MASTER_ADDR": "h", "MASTER_PORT": "1"}
    with pytest.raises(ConfigError, match=f"a node of several needs {TOKEN_ENV}"):
        node_env(mpi)
    mpi[TOKEN_ENV] = TOKEN
    assert node_env(mpi).rank == 2
    assert node_env({}) == NodeEnv(0, 1, "127.0.0.1", 0)
    with pytest.raises(ConfigError, match="MASTER_ADDR"):
        node_env({"RANK": "0", "WORLD_SIZE": "2"})
    with pytest.raises(ConfigError, match="RANK 3 is not below WORLD_SIZE 2"):
        node_env({"RANK": "3", "WORLD_SIZE": "2", "MASTER_ADDR": "h", "MASTER_PORT": "1"})


def test_barrier_releases_nodes_together_and_times_out_without_them() -> None:
    port = free_port()

    async def three() -> list[float]:
        ends: list[float] = []

        async def one(rank: int, delay_s: float) -> None:
            await asyncio.sleep(delay_s)  # the nodes arrive at different times
            await barrier(NodeEnv(rank, 3, "127.0.0.1", port, TOKEN), timeout_s=20, lead_s=0.2)
            ends.append(time.monotonic())

        await asyncio.gather(one(1, 0.0), one(0, 0.3), one(2, 0.6))
        return ends

    ends = asyncio.run(three())
    assert max(ends) - min(ends) < START_SPREAD_BOUND_S
    with pytest.raises(NodeError, match=r"did not all reach the start barrier within 0\.5 s"):
        asyncio.run(barrier(NodeEnv(0, 2, "127.0.0.1", free_port(), TOKEN), timeout_s=0.5))


def test_the_barrier_lets_in_only_this_runs_nodes() -> None:
    port = free_port()

    async def intruders_then_node() -> tuple[list[bytes], bool]:
        lead = asyncio.create_task(barrier(NodeEnv(0, 2, "127.0.0.1", port, TOKEN), timeout_s=20, lead_s=0.1))
        answers = []
        for line in (b"1\n", b"0123456789abcdef0123456789abcdef 1\n", f"{TOKEN} 0\n".encode(), f"{TOKEN} 2\n".encode()):
            while True:  # node 0 may not listen yet
                try:
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
                    break
                except OSError:
                    await asyncio.sleep(0.05)
            writer.write(line)  # no token, a wrong token, node 0's own rank, a rank past the world
            answers.append(await asyncio.wait_for(reader.read(), 10))  # closed unanswered: b""
            writer.close()
        released_early = lead.done()
        await barrier(NodeEnv(1, 2, "127.0.0.1", port, TOKEN), timeout_s=20)
        await lead
        return answers, released_early

    answers, released_early = asyncio.run(intruders_then_node())
    assert answers == [b""] * 4 and not released_early


def test_per_second_rows_are_aligned_on_the_wall_clock() -> None:
    def report(started: str, rows: list[tuple[int, int]]) -> dict[str, Any]:
        return {
            "started_at": started,
            "per_second": [
                {"second": s, "ok": ok, "failed": 0, "p50_ms": 1.0, "p99_ms": 2.0, "max_ms": float(ok)}
                for s, ok in rows
            ],
        }

    merged = merged_seconds(
        [report("2026-01-01T00:00:02+00:00", [(0, 5), (1, 6)]), report("2026-01-01T00:00:00+00:00", [(2, 7)])]
    )
    assert [(r["second"], r["ok"], r["max_ms"], r["p50_ms"]) for r in merged] == [(2, 12, 7.0, None), (3, 6, 6.0, 1.0)]


def test_the_launchers_endpoint_replaces_the_files_target_under_the_profilers_variables(tmp_path: Path) -> None:
    """A node given the launcher's endpoint runs it as a [target.url] (the file's [target.local] dropped), with
    the run's timeout, under the profiler's variables when the run has them; the key stays out of the JSON."""
    config = tmp_path / "local.toml"
    config.write_text('[target.local]\nsleep = 1\n\n[load]\nmode = "closed"\nconnections = 2\n')
    environ = shared_target_environ("http://127.0.0.1:9/score", KEY, capacity=4, deployment=None, timeout_s=65.0)
    layer = shared_target_layer(environ)
    assert layer is not None and KEY not in environ[SHARED_TARGET_ENV] and environ[SHARED_KEY_ENV] == KEY
    profiler = read_profiler_env({"CONNECTIONS": "4"})
    loaded = load_config(config, (), layer=stacked(profiler.layer, layer))
    assert loaded.target.local is None and loaded.target.url is not None
    assert (loaded.target.url.url, loaded.target.url.key_env, loaded.target.url.max_concurrency) == (
        "http://127.0.0.1:9/score",
        SHARED_KEY_ENV,
        4,
    )
    assert loaded.load.connections == 4 and loaded.load.timeout_s == 65.0
    assert shared_target_layer({}) is None
    with pytest.raises(ConfigError, match=SHARED_TARGET_ENV):
        shared_target_layer({SHARED_TARGET_ENV: "not json"})


def nodes_config(tmp_path: Path, url: str, load: str, extra: str = "") -> Path:
    config = tmp_path / "run.toml"
    config.write_text(f'[target.url]\nurl = "{url}"\nkey_env = "MOETUI_TEST_KEY"\n\n[load]\n{load}\n{extra}')
    return config


def start_nodes(config: Path, report: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "moetui",
            "--run",
            str(config),
            "--nodes",
            "2",
            "--local-nodes",
            "--report",
            str(report),
            *args,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ, MOETUI_TEST_KEY=KEY) if env is None else env,
        start_new_session=True,
    )


def run_nodes(config: Path, report: Path) -> tuple[int, str, str, dict[str, Any]]:
    """Two local nodes to their end: (exit status, stdout, stderr, the merged report)."""
    process = start_nodes(config, report)
    out, err = process.communicate(timeout=120)
    return process.returncode, out, err, json.loads(report.read_text())


def test_two_local_nodes_add_up_to_what_the_server_saw(server: FastServer, tmp_path: Path) -> None:
    config = nodes_config(
        tmp_path,
        server.url("/sleep?ms=5"),
        'mode = "closed"\nconnections = 3\nrequests = 301\nduration = "20s"',
        "[thresholds]\np99_ms = 5000\n",
    )
    report_path = tmp_path / "merged.json"
    status, out, err, merged = run_nodes(config, report_path)
    assert_ran(status, merged, err + out)  # about the counts; a node's verdict is its machine's
    nodes = [json.loads((tmp_path / "merged.json.nodes" / f"node-{k}.json").read_text()) for k in range(2)]
    # What the server saw is what the merged report counts, and the node shares add up to the plan.
    assert server.counts()["requests"] == merged["requests"]["sent"] == 301
    assert [n["node"]["share"]["requests"] for n in nodes] == [151, 150]
    assert [n["node"]["share"]["connections"] for n in nodes] == [2, 1]
    # The merged histogram is the two nodes' added, exactly.
    added = new_histogram()
    for node in nodes:
        added.add(decode(node["histograms"]["ok"]))
    together = decode(merged["histograms"]["ok"])
    assert together.get_total_count() == added.get_total_count() == 301
    assert [(i.value_iterated_to, i.count_at_value_iterated_to) for i in together.get_recorded_iterator()] == [
        (i.value_iterated_to, i.count_at_value_iterated_to) for i in added.get_recorded_iterator()
    ]
    # Every node named with its share and health; the starts within the stated bound.
    assert [n["rank"] for n in merged["nodes"]] == [0, 1] and all(n["host"] for n in merged["nodes"])
    # Each node's health is its own report's (whether a node keeps up is its machine's: assert_ran above).
    assert [n["valid"] for n in merged["nodes"]] == [n["valid"] for n in nodes]
    assert merged["start_spread_s"] < START_SPREAD_BOUND_S
    assert merged["thresholds"][0]["name"] == "p99_ms" and merged["exit_status"] == status
    assert "nodes        2, started within" in out
    assert sum(r["ok"] for r in merged["per_second"]) == 301
    # No key in anything written locally.
    for path in [report_path, *(tmp_path / "merged.json.nodes").iterdir()]:
        assert KEY not in path.read_text(errors="replace"), path
    assert KEY not in out + err


def test_output_files_hold_the_merged_run_written_once_by_the_launcher(server: FastServer, tmp_path: Path) -> None:
    """[output] report, junit and requests of a --local-nodes run: the whole run, written by the launcher
    (each node used to write its own share to the same paths: a junit of 20 of 40 requests)."""
    out_dir = tmp_path / "out"
    config = nodes_config(
        tmp_path,
        server.url("/sleep?ms=2"),
        'mode = "closed"\nconnections = 4\nrequests = 40\nduration = "20s"',
        '[thresholds]\np99_ms = 5000\n\n[output]\nreport = "out/run.json"\njunit = "out/junit.xml"\n'
        'requests = "out/requests.csv"\n',
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "moetui", "--run", str(config), "--nodes", "2", "--local-nodes"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ, MOETUI_TEST_KEY=KEY),
        start_new_session=True,
    )
    out, err = process.communicate(timeout=120)
    merged = json.loads((out_dir / "run.json").read_text())
    assert_ran(process.returncode, merged, err + out)
    # The report is the merged run: what the server saw, both nodes named.
    assert server.counts()["requests"] == merged["requests"]["sent"] == 40
    assert len(merged["nodes"]) == 2 and merged["exit_status"] == process.returncode
    # The junit judged the merged run (its threshold's value is the merged p99), and the request log holds
    # every request of both nodes, one header.
    junit = (out_dir / "junit.xml").read_text()
    assert 'name="p99_ms"' in junit and f"{merged['thresholds'][0]['value']:g}" in junit
    rows = (out_dir / "requests.csv").read_text().splitlines()
    assert rows[0].startswith("worker,id,phase") and len(rows) == 1 + 40
    assert sum(row.startswith("worker,") for row in rows) == 1
    # Written once: by the launcher (its lines), by no node (their outputs went to the nodes' folder).
    assert out.count("junit: ") == 1 and out.count(f"report: {out_dir / 'run.json'}") == 1
    nodes_dir = out_dir / "run.json.nodes"
    for rank in range(2):
        node_said = (nodes_dir / f"node-{rank}.out").read_text().splitlines()
        assert not [line for line in node_said if line.startswith(("junit: ", "report: "))], node_said
    assert sorted(p.name for p in out_dir.iterdir()) == ["junit.xml", "requests.csv", "run.json", "run.json.nodes"]


def test_two_local_nodes_fail_a_ttft_threshold_below_the_servers_ttft(server: FastServer, tmp_path: Path) -> None:
    """The merged run's judge checked no streaming threshold: `ttft_p99_ms` under the server's TTFT passed."""
    config = nodes_config(
        tmp_path,
        server.url("/v1/chat/completions?ttft_ms=60&gap_ms=2"),
        'api = "chat"\nmode = "closed"\nconnections = 2\nrequests = 12\nduration = "30s"',
        "[workload]\noutput_tokens = {mean = 3, stddev = 0}\n\n[thresholds]\nttft_p99_ms = 30\n",
    )
    report_path = tmp_path / "merged.json"
    status, out, err, merged = run_nodes(config, report_path)
    assert merged["requests"]["ok"] == merged["streaming"]["streams"] == 12, err + out
    failed = [check for check in merged["thresholds"] if not check["passed"]]
    assert [check["name"] for check in failed] == ["ttft_p99_ms"], err + out
    assert failed[0]["value"] >= 60  # the server sends the first token 60 ms after the request arrived
    assert "FAIL  ttft_p99_ms" in out
    assert_failed(status, err + out)


def test_a_failing_node_fails_the_run_naming_its_error(server: FastServer, tmp_path: Path) -> None:
    config = nodes_config(tmp_path, server.url("/fast"), 'mode = "closed"\nconnections = 2\nduration = "5s"')
    env = {k: v for k, v in os.environ.items() if k != "MOETUI_TEST_KEY"}  # the nodes cannot read the key
    process = start_nodes(config, tmp_path / "r.json", env=env)
    _out, err = process.communicate(timeout=120)
    assert process.returncode != 0
    assert "node 0 failed: Configuration error: target.url.key_env" in err or "node 1 failed" in err, err
    assert "MOETUI_TEST_KEY is not set" in err
    assert not (tmp_path / "r.json").exists()


def test_a_node_killed_mid_run_fails_the_run_and_stops_the_other(server: FastServer, tmp_path: Path) -> None:
    config = nodes_config(tmp_path, server.url("/sleep?ms=5"), 'mode = "closed"\nconnections = 2\nduration = "60s"')
    process = start_nodes(config, tmp_path / "r.json")
    children: set[int] = set()
    try:
        deadline = time.monotonic() + 60
        while server.counts()["requests"] < 100:
            assert time.monotonic() < deadline and process.poll() is None, "the nodes never got going"
            time.sleep(0.1)
        children = descendants(process.pid)
        node_1 = next(pid for pid in children if "RANK=1" in _environ(pid))
        os.kill(node_1, signal.SIGKILL)
        _out, err = process.communicate(timeout=60)
        assert process.returncode != 0
        assert "node 1 failed: exit status -9" in err, err
        assert wait_gone(children, timeout_s=5.0) == set()
    finally:
        process.kill()
        process.communicate(timeout=10)
        kill_all(children)


def test_kill_9_of_the_launcher_stops_its_nodes(server: FastServer, tmp_path: Path) -> None:
    config = nodes_config(tmp_path, server.url("/sleep?ms=5"), 'mode = "closed"\nconnections = 2\nduration = "60s"')
    process = start_nodes(config, tmp_path / "r.json")
    children: set[int] = set()
    try:
        deadline = time.monotonic() + 60
        while server.counts()["requests"] < 100:
            assert time.monotonic() < deadline and process.poll() is None, "the nodes never got going"
            time.sleep(0.1)
        children = descendants(process.pid)
        process.kill()
        process.wait(timeout=10)
        assert wait_gone(children, timeout_s=3.0) == set()
        seen = server.counts()["requests"]
        time.sleep(1.0)
        assert server.counts()["requests"] == seen
    finally:
        process.kill()
        process.communicate(timeout=10)
        kill_all(children)


def test_ctrl_c_stops_the_nodes_and_reports_their_partial_result(server: FastServer, tmp_path: Path) -> None:
    config = nodes_config(tmp_path, server.url("/sleep?ms=5"), 'mode = "closed"\nconnections = 2\nduration = "60s"')
    report_path = tmp_path / "partial.json"
    process = start_nodes(config, report_path)
    try:
        deadline = time.monotonic() + 60
        while server.counts()["requests"] < 100:
            assert time.monotonic() < deadline and process.poll() is None, "the nodes never got going"
            time.sleep(0.1)
        os.killpg(process.pid, signal.SIGINT)  # a terminal's Ctrl-C: the launcher and its nodes
        _out, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 130, err
    merged = json.loads(report_path.read_text())
    assert merged["interrupted"] and merged["requests"]["ok"] >= 100
    assert server.counts()["requests"] == merged["requests"]["sent"]


def _environ(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/environ").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def test_a_nodes_output_folder_taken_by_a_file_is_refused_before_any_node(server: FastServer, tmp_path: Path) -> None:
    config = nodes_config(tmp_path, server.url("/fast"), 'mode = "closed"\nconnections = 2\nrequests = 4')
    (tmp_path / "r.json.nodes").write_text("not a folder")
    process = start_nodes(config, tmp_path / "r.json", env=dict(os.environ, MOETUI_TEST_KEY=KEY))
    out, err = process.communicate(timeout=120)
    assert process.returncode == 2, out + err
    assert f"--report: the nodes' output folder {tmp_path / 'r.json.nodes'} cannot be written:" in err
    assert "Traceback" not in err and server.counts()["requests"] == 0


@pytest.mark.slow
def test_local_nodes_load_the_one_local_endpoint_the_launcher_started(tmp_path: Path) -> None:
    """--local-nodes with [target.local]: one endpoint for all the nodes (each used to start its own), so what
    its scorer counted is what the merged report counts; the key reaches the nodes through the environment."""
    served = tmp_path / "served.txt"
    scorer = Path(__file__).parent.parent / "fixtures" / "count_score.py"
    config = tmp_path / "local.toml"
    config.write_text(
        f'[target.local]\nscorer = "{scorer}"\nworkers = 1\nmax_concurrency = 4\n'
        f'environment = {{ COUNT_FILE = "{served}", COUNT_SLEEP = "0.02" }}\n\n'
        '[load]\nmode = "closed"\nconnections = 2\nrequests = 200\nduration = "120s"\n'
    )
    report_path = tmp_path / "merged.json"
    process = start_nodes(config, report_path, "--set", "target.local.workers=2", env=dict(os.environ))
    key, argv = "", ""
    try:
        while process.poll() is None and not key:  # a node's environment while it runs: the key it was given
            for pid in descendants(process.pid):
                environ = _environ(pid).split(" ")
                key = next((v.split("=", 1)[1] for v in environ if v.startswith("MOETUI_NODE_KEY=")), key)
                if key:
                    argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
                    break
            time.sleep(0.02)
        out, err = process.communicate(timeout=240)
    finally:
        process.kill()
    assert report_path.is_file(), out + err
    merged = json.loads(report_path.read_text())
    assert_ran(process.returncode, merged, err + out)
    lines = served.read_text().split()
    # One inference server answered every request, and it answered as many as the merged report counts.
    assert len(set(lines)) == 1, set(lines)
    assert len(lines) == merged["requests"]["ok"] == merged["requests"]["sent"] == 200
    nodes = [json.loads((tmp_path / "merged.json.nodes" / f"node-{k}.json").read_text()) for k in range(2)]
    assert [n["target"]["kind"] for n in nodes] == ["url", "url"]
    assert {n["target"]["url"] for n in nodes} == {merged["target"]["url"]}
    assert merged["target"]["kind"] == "local" and merged["target"]["capacity"] == 4
    # The nodes used the timeout a one-process run of this configuration uses: the deployment's + 5 s.
    assert [n["request_timeout_s"] for n in nodes] == [merged["request_timeout_s"]] * 2
    assert merged["request_timeout_s"] == merged["target"]["request_timeout_ms"] / 1000 + 5
    assert set(merged["local_processes"]["processes"]) == {"gateway", "server-0"}
    assert merged["config"]["target"]["local"]["workers"] == 2  # the --set went to the launcher's endpoint
    # The endpoint's key went to the nodes in their environment only: not in argv, a file or the output.
    assert len(key) >= 16 and argv and key not in argv
    assert [n["config"]["target"]["url"]["key_env"] for n in nodes] == ["MOETUI_NODE_KEY"] * 2
    for path in [report_path, *(tmp_path / "merged.json.nodes").iterdir()]:
        assert key not in path.read_text(errors="replace"), path
    assert key not in out + err
