"""Workload bodies: synthetic prompts repeat for a seed and follow their spread; a JSONL file's prompts;
bad lines named; the chat plan's URL, body and stream settings from a configuration."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import pytest

from moetui.config.load import config_from_dict
from moetui.config.schema import TokenSpread, WorkloadConfig
from moetui.engine.streaming import chat_url
from moetui.engine.workload import workload_bodies
from moetui.errors import ConfigError
from moetui.session.compose import config_bodies, stream_plan


def test_synthetic_bodies_repeat_for_a_seed_and_follow_the_spread(tmp_path: Path) -> None:
    workload = WorkloadConfig(
        input_tokens=TokenSpread(mean=200, stddev=50), output_tokens=TokenSpread(mean=100, stddev=0), prompts=400
    )
    bodies = workload_bodies(workload, "chat", True, tmp_path)
    assert bodies == workload_bodies(workload, "chat", True, tmp_path)
    assert bodies != workload_bodies(WorkloadConfig(seed=2, prompts=400), "chat", True, tmp_path)
    parsed = [json.loads(body) for body in bodies]
    words = [len(body["messages"][0]["content"].split()) for body in parsed]
    assert 190 <= statistics.mean(words) <= 210 and 40 <= statistics.stdev(words) <= 60
    assert {body["max_tokens"] for body in parsed} == {100}
    assert parsed[0]["stream"] is True and parsed[0]["stream_options"] == {"include_usage": True}
    assert "model" not in parsed[0]


def test_prompts_from_a_jsonl_file(tmp_path: Path) -> None:
    path = tmp_path / "prompts.jsonl"
    path.write_text('{"prompt": "hello"}\n\n{"messages": [{"role": "user", "content": "hi"}], "max_tokens": 7}\n')
    workload = WorkloadConfig(prompts_file="prompts.jsonl", output_tokens=TokenSpread(mean=30), model="m")
    parsed = [json.loads(body) for body in workload_bodies(workload, "scoring", False, tmp_path)]
    assert parsed == [
        {"model": "m", "messages": [{"role": "user", "content": "hello"}], "max_tokens": 30},
        {"model": "m", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 7},
    ]


def test_a_bad_prompt_line_is_named(tmp_path: Path) -> None:
    (tmp_path / "p.jsonl").write_text('{"prompt": "ok"}\n{"text": "no"}\n')
    with pytest.raises(ConfigError, match="line 2"):
        workload_bodies(WorkloadConfig(prompts_file="p.jsonl"), "chat", True, tmp_path)


def test_a_chat_config_streams_with_default_prompts_and_its_url(tmp_path: Path) -> None:
    config = config_from_dict({"target": {"url": {"url": "http://127.0.0.1:9"}}, "load": {"api": "chat"}})
    plan = stream_plan(config)
    assert plan is not None and plan.api == "chat"
    bodies = config_bodies(config, tmp_path)
    assert bodies is not None and len(bodies) == WorkloadConfig().prompts
    assert chat_url("http://127.0.0.1:9") == "http://127.0.0.1:9/v1/chat/completions"
    aoai = "https://r.openai.azure.com/openai/deployments/d/chat/completions?api-version=2024-10-21"
    assert chat_url(aoai) == aoai
    scoring = config_from_dict({"target": {"url": {"url": "http://127.0.0.1:9/score"}}})
    assert stream_plan(scoring) is None and config_bodies(scoring, tmp_path) is None


def test_streaming_settings_are_checked_before_the_run() -> None:
    with pytest.raises(ConfigError) as caught:
        config_from_dict(
            {
                "target": {"url": {"url": "http://127.0.0.1:9/score"}},
                "thresholds": {"ttft_p99_ms": 100, "goodput": 0.9},
            }
        )
    message = str(caught.value)
    assert "thresholds.ttft_p99_ms" in message and "streamed answers only" in message
    assert "thresholds.goodput" in message and "[slo]" in message
