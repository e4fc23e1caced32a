"""The one reader of Azure ML deployment YAMLs (scoring_app/deployment.yml and the user's own): typed fields,
for both implementations of the control plane (the local endpoint's settings, `--deploy` and the create
form on Azure) and the matrix's instance types. Below both, so neither imports the other for it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from moetui.config.files import CONFIG_MAX_BYTES, read_named_text
from moetui.errors import ConfigError


@dataclass(frozen=True)
class DeploymentYaml:
    """What an Azure ML deployment YAML says about the settings moetui reads, typed; None where it says
    nothing. The one reader of deployment YAMLs: the local endpoint, `--deploy` and the create form."""

    path: Path
    name: str | None = None
    instance_type: str | None = None
    instance_count: int | None = None
    max_concurrent_requests_per_instance: int | None = None
    request_timeout_ms: int | None = None
    worker_count: int | None = None
    """environment_variables.WORKER_COUNT."""
    sleep_s: float | None = None
    """environment_variables.SLEEP_SECONDS."""
    environment: Mapping[str, str] = field(default_factory=dict)
    """The other environment variables, as strings."""
    model: str | None = None
    """The model it serves, in words: a registered model's reference ("azureml:bert:3"), or a local one's
    name or path; None when the YAML names none (scoring_app's sleep scorer)."""


def read_deployment_fields(path: Path) -> DeploymentYaml:
    """Read an Azure ML deployment YAML (such as scoring_app/deployment.yml) into typed fields.

    Numbers may be quoted, as azure-ai-ml accepts them ("3" for 3); a whole-number field holds a whole
    number ("2.5" is refused). An endpoint YAML (managedOnlineEndpoint schema, or auth_mode / traffic /
    deployments without endpoint_name) and any other schema (a command job) are refused by name.

    Raises:
        ConfigError: The file is missing, is not YAML, is not a deployment YAML, or a field has the wrong
            type; the message names the file and the field, never a traceback.
    """
    import yaml  # deferred: only the local endpoint and deployment creation read YAML

    if not path.exists() and not path.is_symlink():
        raise ConfigError(f"{path}: no such deployment file")
    try:
        doc: Any = yaml.safe_load(read_named_text(path, "", max_bytes=CONFIG_MAX_BYTES))
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        at = f" at line {where.line + 1}" if where is not None else ""
        problem = getattr(exc, "problem", None) or exc
        raise ConfigError(
            f"{path}: not valid YAML{at} ({problem}); a template's {{{{...}}}} placeholders must be filled in first"
        ) from None
    if not isinstance(doc, dict):
        raise ConfigError(f"{path}: expected a mapping of deployment settings, not {_kind(doc)}")
    schema = str(doc.get("$schema") or "")
    if "onlineendpoint" in schema.casefold() or (
        "endpoint_name" not in doc and any(key in doc for key in ("auth_mode", "traffic", "deployments"))
    ):
        raise ConfigError(
            f"{path}: this is an online endpoint YAML (it has {_endpoint_marks(doc, schema)}), not a deployment "
            "YAML: give the deployment's file (managedOnlineDeployment schema, with endpoint_name)"
        )
    if schema and "deployment" not in schema.casefold():
        raise ConfigError(f"{path}: not a deployment YAML: its $schema is {schema}")
    env_raw = _mapping(doc, "environment_variables", path)
    request = _mapping(doc, "request_settings", path)
    env: dict[str, str] = {}
    for key, value in env_raw.items():
        if value is None or isinstance(value, dict | list):
            raise ConfigError(f"{path}: environment_variables.{key} must be a string or a number, not {_kind(value)}")
        env[str(key)] = str(value).lower() if isinstance(value, bool) else str(value)
    worker = env.pop("WORKER_COUNT", None)
    sleep = env.pop("SLEEP_SECONDS", None)
    return DeploymentYaml(
        path=path,
        name=_text(doc, "name", path),
        instance_type=_text(doc, "instance_type", path),
        instance_count=_whole(doc.get("instance_count"), "instance_count", path),
        max_concurrent_requests_per_instance=_whole(
            request.get("max_concurrent_requests_per_instance"),
            "request_settings.max_concurrent_requests_per_instance",
            path,
        ),
        request_timeout_ms=_whole(request.get("request_timeout_ms"), "request_settings.request_timeout_ms", path),
        worker_count=_whole(worker, "environment_variables.WORKER_COUNT", path, absent=worker is None),
        sleep_s=_real(sleep, "environment_variables.SLEEP_SECONDS", path),
        environment=env,
        model=_model(doc.get("model")),
    )


def _model(value: Any) -> str | None:
    """A deployment's `model:` in words: the reference as written, or an inline model's name (and version)
    or path."""
    if isinstance(value, str) and value.strip():
        return value.strip()
    if isinstance(value, dict):
        name, version, where = value.get("name"), value.get("version"), value.get("path")
        if name:
            return f"{name}:{version}" if version is not None else str(name)
        if where:
            return f"local model {where}"
    return None


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {list: "a list", dict: "a mapping", str: f"{value!r}", bool: f"{value!r}"}.get(type(value), repr(value))


def _endpoint_marks(doc: dict[str, Any], schema: str) -> str:
    marks = [f"$schema {schema.rsplit('/', 1)[-1]}"] if "onlineendpoint" in schema.casefold() else []
    marks += [key for key in ("auth_mode", "traffic", "deployments") if key in doc]
    return ", ".join(marks)


def _mapping(doc: dict[str, Any], key: str, path: Path) -> dict[str, Any]:
    value = doc.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"{path}: {key} must be a mapping of names to values, not {_kind(value)}")
    return value


def _text(doc: dict[str, Any], key: str, path: Path) -> str | None:
    value = doc.get(key)
    if value is None:
        return None
    if isinstance(value, dict | list | bool):
        raise ConfigError(f"{path}: {key} must be a string, not {_kind(value)}")
    return str(value)


def _whole(value: Any, key: str, path: Path, *, absent: bool | None = None) -> int | None:
    """A whole number from a YAML value: 3 or "3" (azure-ai-ml accepts quoted numbers); None when absent."""
    if absent if absent is not None else value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lstrip("+").isdigit():
        return int(value.strip())
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise ConfigError(f"{path}: {key} must be a number, a whole one, not {_kind(value)}")


def _real(value: str | None, key: str, path: Path) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        raise ConfigError(f"{path}: {key} must be a number, not {value!r}") from None
    if number != number or number in (float("inf"), float("-inf")):
        raise ConfigError(f"{path}: {key} must be a finite number, not {value!r}")
    return number
