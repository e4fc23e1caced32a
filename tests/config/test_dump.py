"""config_to_dict / dump_config: TOML key names, left-out None values, and the round trip through load."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from moetui.config.dump import config_to_dict, dump_config, dumps_config
from moetui.config.load import config_from_dict, load_config
from moetui.config.schema import (
    AzureTarget,
    Config,
    LoadConfig,
    LocalTarget,
    OutputConfig,
    StepsConfig,
    TargetConfig,
    Thresholds,
    UrlTarget,
)
from moetui.errors import ConfigError

EVERY_TABLE = Config(
    target=TargetConfig(
        url=UrlTarget(
            url="https://endpoint.example.com/score",
            headers={"X-Trace": "moetui", "Content-Type": "application/json"},
            key_env="MOETUI_KEY",
            key_file="cred.json",
            deployment="blue",
            max_concurrency=8,
        )
    ),
    load=LoadConfig(
        mode="open",
        duration_s=90.5,
        requests=1000,
        connections=4,
        clients=16,
        rate=12.5,
        arrivals="poisson",
        timeout_s=0.25,
        warmup_s=5.0,
        payload='{"x": 1}',
        method="PUT",
        client="httpx",
        http2=True,
        workers=2,
        seed=7,
    ),
    steps=StepsConfig(
        over="rate",
        levels=(0.5, 1.0, 20.0),
        step_duration_s=10.0,
        percentile=99.9,
        threshold_ms=250.0,
        error_limit=0.0,
    ),
    thresholds=Thresholds(p50_ms=10.0, p90_ms=50.5, p99_ms=100.0, error_rate=0.01, min_rps=3.0),
    output=OutputConfig(report="out/report.json", recent_requests=0, progress_interval_s=0.5),
)

LOCAL = Config(
    target=TargetConfig(
        local=LocalTarget(
            deployment_file="d.yml",
            scorer="score.py",
            sleep=0.1,
            workers=2,
            max_concurrency=3,
            instances=1,
            timeout_ms=5000,
            deployment="blue",
        )
    )
)
AZURE = Config(
    target=TargetConfig(
        azure=AzureTarget(
            subscription_id="sub",
            resource_group="rg",
            workspace="ws",
            endpoint="ep",
            deployment="green",
        )
    )
)


@pytest.mark.parametrize("config", [Config(), EVERY_TABLE, LOCAL, AZURE], ids=["defaults", "every", "local", "azure"])
def test_round_trip_through_dict(config: Config) -> None:
    assert config_from_dict(config_to_dict(config)) == config


@pytest.mark.parametrize("config", [Config(), EVERY_TABLE, LOCAL, AZURE], ids=["defaults", "every", "local", "azure"])
def test_round_trip_through_a_file(tmp_path: Path, config: Config) -> None:
    path = tmp_path / "moetui.toml"
    dump_config(config, path)
    assert load_config(path) == config
    assert tomllib.loads(path.read_text(encoding="utf-8")) == tomllib.loads(dumps_config(config))


def test_uses_toml_key_names_and_leaves_out_none() -> None:
    data = config_to_dict(EVERY_TABLE)
    assert data["load"]["duration"] == 90.5 and data["load"]["timeout"] == 0.25 and data["load"]["warmup"] == 5
    assert data["steps"]["step_duration"] == 10 and data["output"]["progress_interval"] == 0.5
    assert not any(key.endswith("_s") for table in data.values() for key in table)
    assert "payload_file" not in data["load"]
    assert set(data["target"]) == {"url"}
    assert data["steps"]["levels"] == [0.5, 1, 20]
    assert data["target"]["url"]["headers"] == {"X-Trace": "moetui", "Content-Type": "application/json"}


def test_defaults_dump_a_local_target_and_no_none() -> None:
    data = config_to_dict(Config())
    assert data["target"] == {"local": {}}
    assert data["thresholds"] == {"max_not_sent": 0.01}  # the one threshold on by default
    assert "requests" not in data["load"] and "seed" not in data["load"]
    assert data["load"]["duration"] == 300
    assert data["steps"]["levels"] == [1, 2, 4, 8]


def test_dump_replaces_an_existing_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "moetui.toml"
    dump_config(Config(), path)
    path.chmod(0o640)
    dump_config(EVERY_TABLE, path)
    assert load_config(path) == EVERY_TABLE
    assert path.stat().st_mode & 0o777 == 0o640
    assert [p.name for p in path.parent.iterdir()] == ["moetui.toml"]


def test_dump_to_an_unwritable_place_is_a_config_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("", encoding="utf-8")
    with pytest.raises(ConfigError, match="cannot be written"):
        dump_config(Config(), blocker / "moetui.toml")
