"""The scoring app: valid for the real azure-ai-ml SDK, and the sleep scorer answers as documented."""

from __future__ import annotations

import importlib.util
import json
import time
from pathlib import Path
from types import ModuleType

import pytest

from moetui.paths import SCORING_APP_DIR


def test_endpoint_yaml_loads_with_azure_ai_ml() -> None:
    from azure.ai.ml import load_online_endpoint

    endpoint = load_online_endpoint(SCORING_APP_DIR / "endpoint.yml")
    assert endpoint.auth_mode == "key"


def test_deployment_yaml_loads_with_azure_ai_ml() -> None:
    from azure.ai.ml import load_online_deployment

    deployment = load_online_deployment(SCORING_APP_DIR / "deployment.yml")
    assert deployment.request_settings.max_concurrent_requests_per_instance == 3
    assert 15_000 < deployment.request_settings.request_timeout_ms <= 180_000
    assert deployment.environment_variables == {"WORKER_COUNT": "3", "SLEEP_SECONDS": "15"}
    assert deployment.instance_type and deployment.instance_count == 1
    assert deployment.code_configuration.scoring_script == "score.py"
    assert (Path(SCORING_APP_DIR) / deployment.code_configuration.code / "score.py").is_file()
    assert "azureml-inference-server-http" in deployment.environment.conda_file["dependencies"][-1]["pip"][0]
    # The body the SDK would send to Azure carries the same request settings.
    body = deployment._to_rest_object("westeurope").as_dict()["properties"]
    assert body["requestSettings"]["maxConcurrentRequestsPerInstance"] == 3
    assert body["environmentVariables"]["WORKER_COUNT"] == "3"


def test_sample_payload_is_json() -> None:
    assert json.loads((SCORING_APP_DIR / "sample-request.json").read_text()) == {"request_id": 1}


@pytest.fixture
def score(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.setenv("SLEEP_SECONDS", "0.05")
    spec = importlib.util.spec_from_file_location("sleep_score", SCORING_APP_DIR / "score.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.init()
    return module


def test_run_sleeps_and_says_how_long(score: ModuleType) -> None:
    started = time.perf_counter()
    answer = score.run('{"request_id": 3}')
    assert time.perf_counter() - started >= 0.05
    prefix, seconds = answer.split("Elapsed time: ")
    assert prefix == "request 3 complete. "
    assert 0.05 <= float(seconds.removesuffix(" seconds")) < 1


def test_body_sleep_overrides_and_request_id_is_optional(score: ModuleType) -> None:
    assert score.run('{"sleep": 0}').startswith("request complete. Elapsed time: 0.0")
    assert score.run("").startswith("request complete.")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("{oops", "not valid JSON"),
        ("[1]", "JSON object"),
        ('{"sleep": -1}', "between 0 and"),
        ('{"sleep": true}', "number"),
    ],
)
def test_bad_input_is_a_400_with_a_reason(score: ModuleType, body: str, message: str) -> None:
    response = score.run(body)
    assert response.status_code == 400
    assert message in json.loads(response.get_data())["error"]


def test_fail_field_makes_run_raise(score: ModuleType) -> None:
    with pytest.raises(RuntimeError, match="asked it to"):
        score.run('{"fail": true}')


def test_a_bad_sleep_seconds_fails_init(score: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLEEP_SECONDS", "fifteen")
    with pytest.raises(ValueError, match="SLEEP_SECONDS"):
        score.init()
