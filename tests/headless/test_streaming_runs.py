"""`moetui --run` against streaming chat endpoints on 127.0.0.1: the Azure OpenAI URL form with its
`api-key` header (never shown), the report's `streaming` block and summary, streaming thresholds with
--set, and `moetui merge` of streaming reports (histograms added exactly)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path
from typing import Any

from hdrh.histogram import HdrHistogram

from moetui.engine.histogram import new_histogram
from tests.headless.test_headless import run_moetui, write
from tests.helpers import assert_failed, assert_ran
from tests.http_server import FastServer

KEY = "aoai-k3y-that-must-never-leak"


def chat_config(tmp_path: Path, url: str, extra: str = "", name: str = "chat.toml") -> Path:
    return write(
        tmp_path / name,
        f'[target.url]\nurl = "{url}"\nheader_env = {{"api-key" = "MOETUI_AOAI_KEY"}}\n\n'
        f'[load]\napi = "chat"\nmode = "closed"\nconnections = 2\nduration = "1.5s"\n\n'
        "[workload]\ninput_tokens = {mean = 20, stddev = 5}\noutput_tokens = {mean = 12, stddev = 0}\nseed = 3\n"
        f"{extra}",
    )


def aoai_url(server: FastServer) -> str:
    digest = hashlib.sha256(KEY.encode()).hexdigest()
    return server.url(f"/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21&sha256={digest}&gap_ms=5")


def env() -> dict[str, str]:
    return dict(os.environ, MOETUI_AOAI_KEY=KEY)


def test_azure_openai_form_with_api_key_streams_and_reports(server: FastServer, tmp_path: Path) -> None:
    config = chat_config(tmp_path, aoai_url(server), "[slo]\nttft_ms = 1000\ntpot_ms = 100\n")
    report_path = tmp_path / "report.json"
    result = run_moetui("--run", str(config), "--report", str(report_path), env=env())
    text = report_path.read_text()
    assert KEY not in text + result.stdout + result.stderr
    report = json.loads(text)
    assert_ran(result.returncode, report, result.stdout + result.stderr)  # about the key and the streams
    streaming = report["streaming"]
    assert report["requests"]["ok"] == streaming["streams"] == server.counts()["requests"] > 2
    assert report["requests"]["by_status"] == {"200": report["requests"]["ok"]}  # the api-key was accepted
    assert streaming["api"] == "chat" and streaming["verdict"] == "streamed"
    assert streaming["tokens"]["output"] == 12 * streaming["streams"]  # max_tokens of the workload
    assert streaming["tokens"]["output_source"] == "usage" and streaming["tokens"]["input"] > 0
    assert streaming["goodput"]["share"] == 1.0
    assert {"ttft", "itl", "tpot", "tokens_rate"} <= set(report["histograms"])
    assert "Streaming:" in result.stdout and "verdict            streamed" in result.stdout
    assert "goodput            100.0%" in result.stdout


def test_without_the_key_every_request_is_refused(server: FastServer, tmp_path: Path) -> None:
    config = chat_config(tmp_path, aoai_url(server))
    result = run_moetui("--run", str(config), env=dict(env(), MOETUI_AOAI_KEY="wrong"))
    assert_failed(result.returncode, result.stdout + result.stderr)
    assert "401" in result.stdout


def test_streaming_thresholds_set_on_the_command_line_fail_the_run(server: FastServer, tmp_path: Path) -> None:
    url = server.url("/v1/chat/completions?ttft_ms=50&gap_ms=5")
    config = chat_config(tmp_path, url, "[slo]\nttft_ms = 10\n")
    result = run_moetui("--run", str(config), "--set", "thresholds.ttft_p99_ms=20", env=env())
    assert_failed(result.returncode, result.stdout + result.stderr)
    assert "FAIL  ttft_p99_ms" in result.stdout
    result = run_moetui("--run", str(config), "--set", "thresholds.goodput=0.5", env=env())
    assert_failed(result.returncode, result.stdout + result.stderr)
    assert "FAIL  goodput" in result.stdout
    passing = ("--set", "thresholds.ttft_p99_ms=2000", "--set", "thresholds.itl_p99_ms=1000")
    result = run_moetui("--run", str(config), *passing, "--report", str(tmp_path / "held.json"), env=env())
    assert_ran(result.returncode, json.loads((tmp_path / "held.json").read_text()), result.stdout + result.stderr)


def test_counted_tokens_are_labelled_in_the_summary(server: FastServer, tmp_path: Path) -> None:
    config = chat_config(tmp_path, server.url("/v1/chat/completions?gap_ms=2&usage=0"))
    result = run_moetui("--run", str(config), "--report", str(tmp_path / "r.json"), env=env())
    report = json.loads((tmp_path / "r.json").read_text())
    assert_ran(result.returncode, report, result.stdout + result.stderr)
    assert report["streaming"]["tokens"]["output_source"] == "counted"
    assert "counted from the chunks (no usage reported)" in result.stdout


def test_merge_adds_streaming_histograms_exactly(server: FastServer, tmp_path: Path) -> None:
    reports = []
    for index in range(2):
        config = chat_config(tmp_path, server.url("/v1/chat/completions?gap_ms=3&ttft_ms=10"), name=f"c{index}.toml")
        path = tmp_path / f"r{index}.json"
        result = run_moetui("--run", str(config), "--report", str(path), env=env())
        reports.append(json.loads(path.read_text()))
        assert_ran(result.returncode, reports[-1], result.stdout + result.stderr)  # about the merged histograms
    merged_path = tmp_path / "merged.json"
    sequential = ("--sequential", str(tmp_path / "r0.json"), str(tmp_path / "r1.json"))  # one after the other
    result = run_moetui("merge", *sequential, "-o", str(merged_path))
    assert result.returncode == 0, result.stdout + result.stderr
    merged = json.loads(merged_path.read_text())
    for name in ("ttft", "itl", "tpot", "tokens_rate"):
        expected = new_histogram()
        for report in reports:
            expected.add(HdrHistogram.decode(report["histograms"][name]))
        got = HdrHistogram.decode(merged["histograms"][name])
        assert got.get_total_count() == expected.get_total_count() > 0
        assert got.get_value_at_percentile(99) == expected.get_value_at_percentile(99)
    streams = [report["streaming"] for report in reports]
    assert merged["streaming"]["streams"] == sum(s["streams"] for s in streams)
    assert merged["streaming"]["tokens"]["output"] == sum(s["tokens"]["output"] for s in streams)
    assert merged["streaming"]["itl_ms"]["p99"] == round(expected_p99_ms(reports, "itl"), 3)


def expected_p99_ms(reports: list[dict[str, object]], name: str) -> float:
    from moetui.engine.histogram import percentiles_ms

    merged = new_histogram()
    for report in reports:
        merged.add(HdrHistogram.decode(report["histograms"][name]))  # type: ignore[index]
    return percentiles_ms(merged)[99.0]


def run_chat(tmp_path: Path, url: str, *args: str) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    """`moetui --run` of chat_config against `url`: the process and its report."""
    report_path = tmp_path / "report.json"
    result = run_moetui("--run", str(chat_config(tmp_path, url)), *args, "--report", str(report_path), env=env())
    assert report_path.exists(), result.stdout + result.stderr
    return result, json.loads(report_path.read_text())


def test_an_over_long_event_is_counted_and_the_run_goes_on(server: FastServer, tmp_path: Path) -> None:
    """A 10 MB event in every other stream: the run ends with its summary and report, those requests counted
    as line_too_long, the others read whole; exit 1 by the default error_rate threshold, or 4 when reading
    8 MiB at loopback speed kept the generator's loop busy past its limit (the README's order: 4 before 1)."""
    url = server.url("/stream-long-line?mb=10&every=2&gap_ms=2")
    result, report = run_chat(tmp_path, url, "--set", "load.timeout=60s")
    assert "Traceback" not in result.stderr
    assert not report["passed"] and result.returncode == report["exit_status"], result.stdout + result.stderr
    assert result.returncode == (1 if report["valid"] else 4), result.stdout + result.stderr
    requests = report["requests"]
    assert set(requests["by_error"]) == {"line_too_long"} and requests["by_error"]["line_too_long"] >= 1
    assert requests["ok"] == report["streaming"]["streams"] >= 1
    assert requests["ok"] + requests["by_error"]["line_too_long"] == server.counts()["requests"]
    assert "over 8 MiB" in report["meanings"]["line_too_long"]
    assert f"line_too_long x{requests['by_error']['line_too_long']:,} (a line of a streamed answer" in result.stdout
    assert "FAIL  error_rate" in result.stdout


def test_a_200_with_an_error_object_fails_the_run_naming_the_kind(server: FastServer, tmp_path: Path) -> None:
    result, report = run_chat(tmp_path, server.url("/chat-answer?body=error"))
    assert_failed(result.returncode, result.stdout + result.stderr)  # instant answers: the loop may be busy
    assert report["requests"]["ok"] == 0 and set(report["requests"]["by_error"]) == {"answer_error"}
    assert "answer_error x" in result.stdout and "a 2xx chat answer carrying an error object" in result.stdout


def test_a_non_streamed_completion_succeeds_with_its_usage_tokens(server: FastServer, tmp_path: Path) -> None:
    result, report = run_chat(tmp_path, server.url("/chat-answer?body=completion&pretty=1"))
    assert_ran(result.returncode, report, result.stdout + result.stderr)  # an instant answer: the loop is busy
    streaming = report["streaming"]
    assert report["requests"]["by_error"] == {} and report["requests"]["ok"] == streaming["streams"] > 2
    assert streaming["tokens"]["output"] == 12 * streaming["streams"]  # the workload's max_tokens, from usage
    assert streaming["tokens"]["output_source"] == "usage" and streaming["tokens"]["input"] == 7 * streaming["streams"]
