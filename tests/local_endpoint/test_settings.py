"""Local endpoint settings: read from the deployment YAML, overridden by flags, refused when Azure would."""

from __future__ import annotations

from pathlib import Path

import pytest

from moetui.errors import ConfigError
from moetui.local_endpoint.settings import (
    DeploymentSettings,
    LocalEndpointSettings,
    build_settings,
    parse_traffic,
    read_deployment_yaml,
)
from moetui.paths import SCORING_APP_DIR


def test_reads_the_scoring_apps_deployment() -> None:
    deployment = read_deployment_yaml(SCORING_APP_DIR / "deployment.yml")
    assert deployment.name == "blue"
    assert deployment.max_concurrent_requests_per_instance == 3
    assert deployment.worker_count == 3
    assert deployment.sleep_s == 15.0
    assert deployment.instance_count == 1
    assert 15_000 < deployment.request_timeout_ms <= 180_000
    assert deployment.capacity == 3 and deployment.pending_limit == 6


def test_azure_defaults_for_what_the_yaml_leaves_out(tmp_path: Path) -> None:
    path = tmp_path / "d.yml"
    path.write_text("name: red\n")
    deployment = read_deployment_yaml(path)
    assert (deployment.max_concurrent_requests_per_instance, deployment.request_timeout_ms) == (1, 5000)
    assert deployment.worker_count == 1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "request_settings: {request_timeout_ms: soon}\n",
            "request_settings.request_timeout_ms must be a number",
        ),
        ("[1, 2]\n", "expected a mapping"),
        ("name: [unclosed\n", "not valid YAML"),
    ],
)
def test_bad_yaml_names_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "d.yml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message) as caught:
        read_deployment_yaml(path)
    assert str(path) in str(caught.value)


def test_flags_override_and_traffic_makes_deployments() -> None:
    base = read_deployment_yaml(SCORING_APP_DIR / "deployment.yml")
    settings = build_settings(base, traffic={"blue": 90, "green": 10}, worker_count=1, sleep_s=None)
    assert [(d.name, d.traffic_percent, d.worker_count, d.sleep_s) for d in settings.deployments] == [
        ("blue", 90, 1, 15.0),
        ("green", 10, 1, 15.0),
    ]
    assert settings.total_processes == 2


@pytest.mark.parametrize(
    ("deployments", "message"),
    [
        (
            (DeploymentSettings(request_timeout_ms=180_001),),
            "request_timeout_ms must be a whole number from 1 to 180000",
        ),
        (
            (DeploymentSettings(max_concurrent_requests_per_instance=0),),
            "max_concurrent_requests_per_instance",
        ),
        ((DeploymentSettings(name="b"),), "a deployment name has 3 to 32 characters"),
        ((DeploymentSettings(name="blue-"),), "ends with a letter or digit"),
        ((DeploymentSettings(), DeploymentSettings()), "named twice"),
        ((DeploymentSettings(traffic_percent=50),), "traffic must add up to 100"),
        ((), "at least one deployment"),
    ],
)
def test_refuses_what_azure_would(deployments: tuple[DeploymentSettings, ...], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        LocalEndpointSettings(deployments=deployments)


def test_zero_traffic_everywhere_is_allowed_for_header_routing() -> None:
    LocalEndpointSettings(deployments=(DeploymentSettings(traffic_percent=0),))


def test_reports_every_problem_at_once() -> None:
    with pytest.raises(ConfigError) as caught:
        LocalEndpointSettings(deployments=(DeploymentSettings(worker_count=0, instance_count=0),), port=70000)
    assert len(caught.value.message.splitlines()) == 3


def test_never_anything_but_loopback() -> None:
    with pytest.raises(ConfigError, match="loopback"):
        LocalEndpointSettings(host="0.0.0.0")


def test_key_is_not_in_repr() -> None:
    assert "s3cret" not in repr(LocalEndpointSettings(key="s3cret"))


@pytest.mark.parametrize("text", ["blue", "blue=x", "=", ","])
def test_parse_traffic_refuses_bad_parts(text: str) -> None:
    with pytest.raises(ConfigError, match="NAME=PERCENT"):
        parse_traffic(text)


def test_scorers_by_name_or_path(tmp_path: Path) -> None:
    from moetui.local_endpoint.settings import scorer_path

    assert scorer_path("stream") == SCORING_APP_DIR / "stream_score.py"
    assert scorer_path("sleep") == SCORING_APP_DIR / "score.py"
    assert (SCORING_APP_DIR / "stream_score.py").is_file()
    assert scorer_path("my/score.py", tmp_path) == tmp_path / "my/score.py"
    assert scorer_path(None) is None


def test_local_flags_choose_the_stream_scorer_and_the_buffer() -> None:
    from moetui.cli import build_parser
    from moetui.commands.endpoint_args import describe, settings_from_args

    settings = settings_from_args(build_parser().parse_args(["local", "--scorer", "stream", "--buffer"]))
    assert settings.scorer == SCORING_APP_DIR / "stream_score.py"
    assert settings.buffer_responses is True
    assert describe(settings)[-2:] == [f"scorer {settings.scorer}", "gateway buffers streamed answers (--buffer)"]
    plain = settings_from_args(build_parser().parse_args(["check"]))
    assert plain.scorer == SCORING_APP_DIR / "score.py" and plain.buffer_responses is False


def test_target_local_scorer_stream(tmp_path: Path) -> None:
    from moetui.config.load import load_config
    from moetui.targets.local import local_settings

    path = tmp_path / "stream.toml"
    path.write_text('[target.local]\nscorer = "stream"\nbuffer = true\n[load]\nmode = "closed"\nduration = "1s"\n')
    config = load_config(path)
    assert config.target.local is not None
    settings = local_settings(config.target.local, tmp_path)
    assert settings.scorer == SCORING_APP_DIR / "stream_score.py"
    assert settings.buffer_responses is True


def test_target_local_scorer_path_must_exist(tmp_path: Path) -> None:
    from moetui.config.schema import LocalTarget
    from moetui.targets.local import local_settings

    (tmp_path / "mine.py").write_text("def init():\n    pass\n\n\ndef run(raw_data):\n    return 'ok'\n")
    assert local_settings(LocalTarget(scorer="mine.py"), tmp_path).scorer == tmp_path / "mine.py"
    missing = r"\[target.local\] scorer: .*nope\.py does not exist; allowed: sleep, stream"
    with pytest.raises(ConfigError, match=missing):
        local_settings(LocalTarget(scorer="nope.py"), tmp_path)
