"""One typed reader of deployment YAMLs for the local endpoint, `--deploy` and the create form: real
azureml-examples files (tests/fixtures/deployment_yamls, sources in its README) each load or fail with a
message naming the file and the field; quoted numbers, which azure-ai-ml accepts, reach the PUT body."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest

from moetui.azure.deployments import read_request_defaults
from moetui.deployments.base import DeploymentRequest
from moetui.deployments.deployment_yaml import read_deployment_fields
from moetui.errors import ConfigError, ExitStatus
from moetui.local_endpoint.settings import read_deployment_yaml
from moetui.paths import SCORING_APP_DIR
from tests.azure.test_headless_deploy import deployed  # noqa: F401  (the fixture: a workspace that creates)

REAL = Path(__file__).parents[1] / "fixtures" / "deployment_yamls"

#: What each real file gives, or the words its refusal must hold (the field or the reason, by name).
LOADS = {
    "managed-blue-deployment.yml": {"deployment": "blue", "instance_type": "Standard_DS2_v2", "instance_count": 1},
    "kubernetes-blue-deployment.yml": {
        "deployment": "blue",
        "instance_count": 1,
        "max_concurrent_requests_per_instance": 1,
        "request_timeout_ms": 3000,
    },
    "tfserving-deployment.yml": {
        "deployment": "tfserving-deployment",
        "instance_type": "Standard_F2s_v2",
        "instance_count": 1,
    },
    "vllm-phi3-deployment.yml": {"deployment": "vllm-phi3-deployment", "instance_count": 1},
}
REFUSED = {
    "tgi-deployment.yml": "not valid YAML at line 8",
    "managed-endpoint.yml": "online endpoint YAML (it has $schema managedOnlineEndpoint.schema.json, auth_mode)",
    "profiling_job_tmpl.yml": "not a deployment YAML: its $schema is",
}


def test_every_real_file_is_covered() -> None:
    assert {p.name for p in REAL.glob("*.yml")} == set(LOADS) | set(REFUSED)


@pytest.mark.parametrize("name", sorted(LOADS))
def test_real_deployment_yamls_load(tmp_path: Path, name: str) -> None:
    shutil.copy(REAL / name, tmp_path / "deployment.yml")
    defaults = read_request_defaults(tmp_path)
    assert {k: defaults.get(k) for k in LOADS[name]} == LOADS[name]
    assert isinstance(DeploymentRequest(endpoint="endpt-a", **defaults).problems(), list)  # no TypeError
    read_deployment_yaml(REAL / name)  # the local endpoint reads the same file the same way


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_real_files_that_are_not_deployments_are_refused_by_name(name: str) -> None:
    with pytest.raises(ConfigError) as caught:
        read_deployment_fields(REAL / name)
    assert str(REAL / name) in str(caught.value) and REFUSED[name] in str(caught.value)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("environment_variables:\n  WORKER_COUNT: '{{WORKER_COUNT}}'\n", "environment_variables.WORKER_COUNT must be"),
        ("environment_variables:\n  WORKER_COUNT: null\n", "environment_variables.WORKER_COUNT must be a string"),
        (
            "environment_variables:\n  WORKER_COUNT: '2.5'\n",
            "WORKER_COUNT must be a number, a whole",
        ),
        ("- name: blue\n", "expected a mapping of deployment settings, not a list"),
        ("request_settings:\n  - request_timeout_ms: 3000\n", "request_settings must be a mapping"),
        ("request_settings:\n  request_timeout_ms: '3 s'\n", "request_settings.request_timeout_ms must be a number"),
        ("environment_variables: [WORKER_COUNT]\n", "environment_variables must be a mapping"),
        ("name: [blue]\n", "name must be a string, not a list"),
    ],
)
def test_bad_values_are_named_never_a_traceback(tmp_path: Path, text: str, words: str) -> None:
    (tmp_path / "deployment.yml").write_text(text)
    for read in (lambda: read_request_defaults(tmp_path), lambda: read_deployment_yaml(tmp_path / "deployment.yml")):
        with pytest.raises(ConfigError, match=words.replace("[", r"\[").replace("(", r"\(").replace("{", r"\{")):
            read()


QUOTED = """\
  max_concurrent_requests_per_instance: "4"
  request_timeout_ms: "45000"
"""


def scoring_app_with_quoted_numbers(tmp_path: Path) -> Path:
    """scoring_app/ with its deployment.yml's request settings quoted, as azure-ai-ml accepts them."""
    app = tmp_path / "scoring_app"
    shutil.copytree(SCORING_APP_DIR, app)
    text = (app / "deployment.yml").read_text()
    text = text.replace("  max_concurrent_requests_per_instance: 3\n", "").replace("  request_timeout_ms: 60000\n", "")
    text = text.replace("request_settings:\n", "request_settings:\n" + QUOTED)
    text = text.replace("instance_count: 1\n", 'instance_count: "2"\n')
    (app / "deployment.yml").write_text(text)
    return app


def test_quoted_numbers_are_numbers(tmp_path: Path) -> None:
    defaults = read_request_defaults(scoring_app_with_quoted_numbers(tmp_path))
    assert (defaults["max_concurrent_requests_per_instance"], defaults["request_timeout_ms"]) == (4, 45000)
    assert defaults["instance_count"] == 2 and defaults["worker_count"] == 3
    assert DeploymentRequest(endpoint="endpt-a", **defaults).problems() == []


async def test_deploy_with_quoted_numbers_puts_the_right_request_settings(
    deployed: object,  # noqa: F811
    arm: object,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from functools import partial

    import moetui.azure.lifecycle
    from moetui.azure.deployments import AzureDeployments
    from moetui.headless import run_config
    from tests.azure.fake_arm import RG, SUB, WS
    from tests.fixtures.azure_transport import CannedTransport

    assert isinstance(arm, CannedTransport)
    app = scoring_app_with_quoted_numbers(tmp_path)
    monkeypatch.setattr(moetui.azure.lifecycle, "AzureDeployments", partial(AzureDeployments, scoring_app=app))
    config = tmp_path / "azure.toml"
    # No request settings in the config: deployment.yml's (quoted) values are the ones created.
    config.write_text(
        f'[target.azure]\nsubscription_id = "{SUB}"\nresource_group = "{RG}"\nworkspace = "{WS}"\n'
        'sleep = 0.1\n\n[load]\nmode = "burst"\nrequests = 2\ntimeout = "5s"\n'
    )
    out, err = io.StringIO(), io.StringIO()
    status = await run_config(config, deploy=True, delete_after=True, out=out, err=err)
    assert status == ExitStatus.OK, out.getvalue() + err.getvalue()
    (put,) = arm.sent("PUT", r"/onlineEndpoints/[^/]+/deployments/blue$")
    settings = put.body["properties"]["requestSettings"]
    assert settings["maxConcurrentRequestsPerInstance"] == 4 and settings["requestTimeout"] == "PT45S"
    assert put.body["sku"]["capacity"] == 2
