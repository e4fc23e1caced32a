"""The endpoint model profiler's environment variables as a moetui configuration: each variable's key,
the profiler's defaults, errors that name the variable, the key kept out of the config, and the layering
over a config file (file < environment < --set)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from moetui.config.dump import config_to_dict
from moetui.config.load import load_config
from moetui.config.profiler_env import PROFILER_KEY_ENV, read_profiler_env
from moetui.config.schema import Config
from moetui.errors import ConfigError

URI = "https://ep.westeurope.inference.ml.azure.com/score"
KEY = "pr0filer-key-that-must-never-leak"


def config_of(env: dict[str, str], path: Path | None = None, overrides: tuple[str, ...] = ()) -> Config:
    return load_config(path, overrides, layer=read_profiler_env(env, needs_target=path is None).layer)


def problems_of(env: dict[str, str], path: Path | None = None) -> str:
    with pytest.raises(ConfigError) as caught:
        config_of(env, path)
    return caught.value.message


def attribute(config: Config, dotted: str) -> Any:
    value: Any = config
    for part in dotted.split("."):
        value = getattr(value, part)
    return value


@pytest.mark.parametrize(
    ("variables", "dotted", "expected"),
    [
        ({"PROFILING_TOOL": "wrk"}, "load.mode", "closed"),
        ({"PROFILING_TOOL": "wrk2"}, "load.mode", "open"),
        ({"PROFILING_TOOL": "labench"}, "load.mode", "open"),
        ({"PROFILING_TOOL": "WRK2"}, "load.mode", "open"),
        ({"DURATION": "60s"}, "load.duration_s", 60.0),
        ({"DURATION": "90"}, "load.duration_s", 90.0),
        ({"DURATION": "5m"}, "load.duration_s", 300.0),
        ({"CONNECTIONS": "16"}, "load.connections", 16),
        ({"PROFILING_TOOL": "wrk", "CONNECTIONS": "16"}, "load.connections", 16),
        # wrk2's connections carry one request at a time each: they cap requests in flight.
        ({"PROFILING_TOOL": "wrk2", "CONNECTIONS": "16"}, "load.clients", 16),
        ({"PROFILING_TOOL": "wrk", "CONNECTIONS": "4", "THREAD": "2"}, "load.workers", 2),
        ({"PROFILING_TOOL": "wrk2", "CONNECTIONS": "4", "THREAD": "2"}, "load.workers", 2),
        ({"THREAD": "2"}, "load.workers", 2),
        ({"PROFILING_TOOL": "wrk2", "TARGET_RPS": "120"}, "load.rate", 120.0),
        ({"PROFILING_TOOL": "labench", "TARGET_RPS": "7.5"}, "load.rate", 7.5),
        ({"PROFILING_TOOL": "labench", "CLIENTS": "12"}, "load.clients", 12),
        ({"CLIENTS": "12"}, "load.clients", 12),
        ({"TIMEOUT": "3s"}, "load.timeout_s", 3.0),
        ({"TIMEOUT": "30"}, "load.timeout_s", 30.0),
        ({"PAYLOAD": '{"data": [[1, 2, 3]]}'}, "load.payload", '{"data": [[1, 2, 3]]}'),
        ({"SCORING_URI": URI}, "target.url.url", URI),
        ({"DEPLOYMENT": "blue"}, "target.url.deployment", "blue"),
        ({"SCORING_HEADERS": '{"azureml-model-deployment": "green"}'}, "target.url.deployment", "green"),
        (
            {"SCORING_HEADERS": '{"x-ms-client-request-id": "ci"}'},
            "target.url.headers",
            {"x-ms-client-request-id": "ci"},
        ),
        ({"SCORING_HEADERS": json.dumps({"Authorization": f"Bearer {KEY}"})}, "target.url.key_env", PROFILER_KEY_ENV),
    ],
)
def test_each_variable_has_its_key(variables: dict[str, str], dotted: str, expected: Any) -> None:
    env = {"SCORING_URI": URI, **variables}
    assert attribute(config_of(env), dotted) == expected


def test_unset_and_empty_variables_leave_the_profilers_defaults() -> None:
    # A job template whose placeholders were left empty reads as unset.
    env = {"SCORING_URI": URI, "DURATION": "", "CONNECTIONS": " ", "TARGET_RPS": "", "PROFILING_TOOL": ""}
    load = config_of(env).load
    assert load.mode == "closed"  # wrk
    assert load.duration_s == 300.0 and load.rate == 50.0 and load.timeout_s is None
    assert load.connections is None and load.clients is None  # max_concurrent_requests_per_instance
    assert load.workers == 1  # THREAD 1


def test_online_endpoint_and_deployment_make_an_azure_target() -> None:
    env = {
        "SUBSCRIPTION": "0000-sub",
        "RESOURCE_GROUP": "rg",
        "WORKSPACE": "ws",
        "ONLINE_ENDPOINT": "endpt-moe-1",
        "DEPLOYMENT": "blue",
    }
    config = config_of(env)
    assert config.target.kind == "azure" and config.target.azure is not None
    azure = config.target.azure
    assert (azure.subscription_id, azure.resource_group, azure.workspace) == ("0000-sub", "rg", "ws")
    assert (azure.endpoint, azure.deployment) == ("endpt-moe-1", "blue")


def test_azure_target_defaults_to_the_azure_ml_jobs_own_workspace() -> None:
    env = {
        "AZUREML_ARM_SUBSCRIPTION": "job-sub",
        "AZUREML_ARM_RESOURCEGROUP": "job-rg",
        "AZUREML_ARM_WORKSPACE_NAME": "job-ws",
        "ONLINE_ENDPOINT": "ep",
        "DEPLOYMENT": "blue",
        "SCORING_URI": URI,
    }
    profiler = read_profiler_env(env, needs_target=True)
    azure = load_config(None, layer=profiler.layer).target.azure
    assert azure is not None and (azure.subscription_id, azure.resource_group, azure.workspace) == (
        "job-sub",
        "job-rg",
        "job-ws",
    )
    assert any("SCORING_URI" in note and "not used" in note for note in profiler.notes)  # ONLINE_ENDPOINT wins


def test_azure_target_without_its_workspace_names_the_variables() -> None:
    message = problems_of({"ONLINE_ENDPOINT": "ep", "DEPLOYMENT": "blue"})
    for variable, key in (
        ("SUBSCRIPTION", "target.azure.subscription_id"),
        ("RESOURCE_GROUP", "target.azure.resource_group"),
        ("WORKSPACE", "target.azure.workspace"),
    ):
        assert f"environment variable {variable}: {key}: missing" in message


def test_bad_values_are_all_reported_naming_the_variable() -> None:
    message = problems_of(
        {"SCORING_URI": "ftp://x", "CONNECTIONS": "many", "DURATION": "forever", "TARGET_RPS": "-5", "TIMEOUT": "0"}
    )
    lines = message.splitlines()
    assert len(lines) == 5, message
    assert any(
        line.startswith("environment variable CONNECTIONS: load.connections: expected a whole number") for line in lines
    )
    assert any(
        line.startswith('environment variable DURATION: load.duration: "forever" is not a duration') for line in lines
    )
    assert any(line.startswith("environment variable TARGET_RPS: load.rate: -5 is out of range") for line in lines)
    assert any(line.startswith("environment variable TIMEOUT: load.timeout: 0 is out of range") for line in lines)
    assert any(
        line.startswith("environment variable SCORING_URI: target.url.url: is not an HTTP URL") for line in lines
    )


def test_a_scoring_uri_with_a_bad_port_is_named_without_showing_it() -> None:
    message = problems_of({"SCORING_URI": "http://127.0.0.1:99999/score?code=hush"})
    assert message.startswith("environment variable SCORING_URI: target.url.url: has a port that is not a number")
    assert "hush" not in message


def test_a_bad_profiling_tool_is_named_with_the_tools_and_a_suggestion() -> None:
    message = problems_of({"SCORING_URI": URI, "PROFILING_TOOL": "labnech", "CONNECTIONS": "x"})
    assert (
        "environment variable PROFILING_TOOL: 'labnech' is not a profiling tool; allowed: wrk, wrk2, labench" in message
    )
    assert "Did you mean 'labench'?" in message
    assert "environment variable CONNECTIONS" in message  # reported together, not one at a time


def test_more_threads_than_connections_is_refused_as_wrk_does() -> None:
    message = problems_of({"SCORING_URI": URI, "PROFILING_TOOL": "wrk", "THREAD": "4", "CONNECTIONS": "2"})
    assert message.startswith("environment variable THREAD: 4 threads for 2 connections")


def test_variables_a_tool_does_not_read_are_ignored_with_a_note() -> None:
    profiler = read_profiler_env({"SCORING_URI": URI, "PROFILING_TOOL": "wrk", "TARGET_RPS": "80", "CLIENTS": "3"})
    load = load_config(None, layer=profiler.layer).load
    assert load.rate == 50.0 and load.clients is None
    assert profiler.notes == (
        "TARGET_RPS is not used with PROFILING_TOOL=wrk, as in the profiler.",
        "CLIENTS is not used with PROFILING_TOOL=wrk, as in the profiler.",
        "PROFILING_TOOL=wrk: requests time out after 2s, wrk's own socket timeout; the profiler's TIMEOUT "
        "applies to labench only.",
    )
    labench = read_profiler_env({"SCORING_URI": URI, "PROFILING_TOOL": "labench", "CONNECTIONS": "8", "THREAD": "2"})
    assert load_config(None, layer=labench.layer).load.workers == 1
    assert len(labench.notes) == 2


def test_a_target_is_required_without_a_config_file() -> None:
    assert "profiler environment: no target; allowed: SCORING_URI" in problems_of({"CONNECTIONS": "4"})
    assert "environment variable DEPLOYMENT: set without a target" in problems_of({"DEPLOYMENT": "blue"})


def test_the_key_in_scoring_headers_never_enters_the_config() -> None:
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {KEY}", "azureml-model-deployment": "blue"}
    profiler = read_profiler_env({"SCORING_URI": URI, "SCORING_HEADERS": json.dumps(headers)})
    config = load_config(None, layer=profiler.layer)
    assert profiler.secrets == {PROFILER_KEY_ENV: KEY}
    assert config.target.url is not None
    assert config.target.url.key_env == PROFILER_KEY_ENV and config.target.url.deployment == "blue"
    assert config.target.url.headers == {"Content-Type": "application/json"}
    for text in (repr(config), json.dumps(config_to_dict(config)), repr(profiler), " ".join(profiler.notes)):
        assert KEY not in text


@pytest.mark.parametrize(
    "scoring_headers",
    [
        '{"Authorization": "Basic pr0filer-key-that-must-never-leak"}',
        '{"Authorization": "pr0filer-key-that-must-never-leak"}',
        '{"Authorization": "Bearer pr0filer-key-that-must-never-leak"',  # not JSON
        '["Bearer pr0filer-key-that-must-never-leak"]',
    ],
)
def test_bad_scoring_headers_are_named_without_showing_the_key(scoring_headers: str) -> None:
    message = problems_of({"SCORING_URI": URI, "SCORING_HEADERS": scoring_headers})
    assert message.startswith("environment variable SCORING_HEADERS:")
    assert KEY not in message


def test_the_environment_is_laid_over_a_config_file_and_set_wins(tmp_path: Path) -> None:
    path = tmp_path / "ci.toml"
    path.write_text(
        "[target.local]\nsleep = 1\n\n"
        '[load]\nmode = "closed"\nconnections = 2\nduration = "10s"\n\n'
        "[thresholds]\np99_ms = 500\n"
    )
    config = config_of({"SCORING_URI": URI, "CONNECTIONS": "8"}, path, ("load.connections=12",))
    assert config.target.kind == "url"  # the environment's target replaces the file's
    assert config.load.duration_s == 10.0  # the file's, where the environment says nothing
    assert config.load.connections == 12  # --set over the environment
    assert config.thresholds.p99_ms == 500
    # No target variables: the file's target stays.
    assert config_of({"CONNECTIONS": "8"}, path).target.kind == "local"


def test_a_file_gives_the_azure_workspace_the_environment_lacks(tmp_path: Path) -> None:
    path = tmp_path / "azure.toml"
    path.write_text(
        '[target.azure]\nsubscription_id = "s"\nresource_group = "rg"\nworkspace = "ws"\nendpoint = "old"\n'
    )
    azure = config_of({"ONLINE_ENDPOINT": "ep", "DEPLOYMENT": "blue"}, path).target.azure
    assert azure is not None and (azure.subscription_id, azure.endpoint, azure.deployment) == ("s", "ep", "blue")


def test_problems_name_the_file_or_the_variable_that_set_the_key(tmp_path: Path) -> None:
    path = tmp_path / "ci.toml"
    path.write_text('[load]\nrate = -1\n\n[target.url]\nurl = "http://127.0.0.1:1/score"\n')
    message = problems_of({"CONNECTIONS": "0"}, path)
    assert f"{path}: load.rate: -1 is out of range" in message
    assert "environment variable CONNECTIONS: load.connections: 0 is out of range" in message


@pytest.mark.parametrize("tool", ["wrk", "wrk2"])
def test_wrk_uses_its_own_two_second_timeout_and_says_so(tool: str) -> None:
    from moetui.config.profiler_env import read_profiler_env

    env = {"SCORING_URI": URI, "PROFILING_TOOL": tool}
    assert attribute(config_of(env), "load.timeout_s") == 2.0  # not moetui's 10 s default
    notes = read_profiler_env(env).notes
    assert any(f"PROFILING_TOOL={tool}: requests time out after 2s" in note for note in notes)
    # TIMEOUT is labench's only, as in the profiler's table.
    env["TIMEOUT"] = "30"
    assert attribute(config_of(env), "load.timeout_s") == 2.0
    assert any("TIMEOUT is not used with it" in note for note in read_profiler_env(env).notes)


def test_labench_reads_timeout() -> None:
    env = {"SCORING_URI": URI, "PROFILING_TOOL": "labench", "TIMEOUT": "30"}
    assert attribute(config_of(env), "load.timeout_s") == 30.0
