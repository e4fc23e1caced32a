"""load_config / config_from_dict: types, bounds, durations, cross-field rules, --set, and the messages."""

from __future__ import annotations

import dataclasses
import typing
from pathlib import Path

import pytest

from moetui.config.load import config_from_dict, load_config
from moetui.config.schema import MODE_MEANINGS, MODES, Config, LoadConfig, LocalTarget, Mode, TargetConfig, UrlTarget
from moetui.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "moetui.toml"
    path.write_text(text, encoding="utf-8")
    return path


def problems(tmp_path: Path, text: str, overrides: tuple[str, ...] = ()) -> list[str]:
    """The lines of the ConfigError that loading `text` raises."""
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path, overrides)
    return caught.value.message.splitlines()


def only_problem(tmp_path: Path, text: str) -> str:
    lines = problems(tmp_path, text)
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"{tmp_path / 'moetui.toml'}: ")
    return lines[0]


def test_empty_file_gives_the_defaults_with_a_local_target(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, "")) == Config()


def test_empty_target_table_means_local(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "[target]\n"))
    assert config.target == TargetConfig(local=LocalTarget())


def test_reads_every_kind_of_value(tmp_path: Path) -> None:
    config = load_config(
        write(
            tmp_path,
            """
[target.url]
url = "https://example.com/score"
headers = { "X-Trace" = "1" }
key_env = "MOETUI_KEY"
max_concurrency = 4

[load]
mode = "open"
duration = "5m"
rate = 20
http2 = true
client = "httpx"

[steps]
levels = [1, 2.5]
over = "rate"
""",
        )
    )
    assert config.target.url == UrlTarget(
        url="https://example.com/score", headers={"X-Trace": "1"}, key_env="MOETUI_KEY", max_concurrency=4
    )
    assert config.target.local is None
    assert config.load.duration_s == 300.0
    assert isinstance(config.load.rate, float) and config.load.rate == 20.0
    assert config.load.http2 is True
    assert config.steps.levels == (1.0, 2.5)


@pytest.mark.parametrize(
    ("written", "seconds"),
    [
        ('"300s"', 300.0),
        ('"5m"', 300.0),
        ('"1h"', 3600.0),
        ('"250ms"', 0.25),
        ('"1.5s"', 1.5),
        ("30", 30.0),
        ("1.5", 1.5),
    ],
)
def test_durations(tmp_path: Path, written: str, seconds: float) -> None:
    config = load_config(write(tmp_path, f"[load]\ntimeout = {written}\n"))
    assert config.load.timeout_s == seconds
    assert isinstance(config.load.timeout_s, float)


@pytest.mark.parametrize("written", ['"5 minutes"', '"300"', '"5d"', '"-5s"', "true"])
def test_bad_duration_says_what_is_allowed(tmp_path: Path, written: str) -> None:
    line = only_problem(tmp_path, f"[load]\nwarmup = {written}\n")
    assert ": load.warmup: " in line
    assert "warmup_s" not in line
    assert '"300s"' in line and '"5m"' in line and "a number of seconds" in line


def test_duration_out_of_range_uses_the_toml_key(tmp_path: Path) -> None:
    line = only_problem(tmp_path, '[output]\nprogress_interval = "0s"\n')
    assert ": output.progress_interval: " in line
    assert "out of range" in line and "above 0s" in line


def test_unknown_key_suggests_the_nearest(tmp_path: Path) -> None:
    line = only_problem(tmp_path, "[load]\nconections = 8\n")
    assert ": load.conections: unknown key." in line
    assert "Allowed keys in [load]: mode, duration, requests, connections," in line
    assert line.endswith("Did you mean 'connections'?")


def test_unknown_table_suggests_the_nearest(tmp_path: Path) -> None:
    line = only_problem(tmp_path, "[laod]\nmode = 'open'\n")
    assert ": laod: unknown table. Allowed tables: target, load, steps, thresholds, output, workload, slo, job." in line
    assert line.endswith("Did you mean 'load'?")


def test_unknown_target_table(tmp_path: Path) -> None:
    line = only_problem(tmp_path, "[target.uri]\nurl = 'http://x'\n")
    assert ": target.uri: unknown table. Allowed tables in [target]: url, local, azure." in line
    assert "Did you mean 'url'?" in line


def test_wrong_type(tmp_path: Path) -> None:
    line = only_problem(tmp_path, '[load]\nconnections = "eight"\n')
    assert ': load.connections: expected a whole number from 1 to 10000; got "eight".' in line


def test_float_for_a_whole_number_is_refused(tmp_path: Path) -> None:
    line = only_problem(tmp_path, "[load]\nworkers = 2.0\n")
    assert ": load.workers: expected a whole number from 1 to 64; got 2.0" in line


@pytest.mark.parametrize(("table", "key"), [("load", "rate"), ("load", "connections"), ("load", "duration")])
def test_bool_is_not_a_number(tmp_path: Path, table: str, key: str) -> None:
    line = only_problem(tmp_path, f"[{table}]\n{key} = true\n")
    assert f": {table}.{key}: expected a " in line
    assert "got true (a boolean)" in line


def test_nan_and_inf_are_not_numbers(tmp_path: Path) -> None:
    lines = problems(tmp_path, "[thresholds]\np99_ms = inf\nerror_rate = nan\n")
    assert [line.split(": ")[1] for line in lines] == ["thresholds.p99_ms", "thresholds.error_rate"]


def test_out_of_range(tmp_path: Path) -> None:
    line = only_problem(tmp_path, "[load]\nconnections = 0\n")
    assert ": load.connections: 0 is out of range; allowed: a whole number from 1 to 10000." in line


def test_exclusive_lower_bound(tmp_path: Path) -> None:
    line = only_problem(tmp_path, "[load]\nrate = 0\n")
    assert ": load.rate: 0 is out of range; allowed: a number above 0 and at most 1000000." in line


def test_bad_choice_lists_the_choices_and_suggests(tmp_path: Path) -> None:
    line = only_problem(tmp_path, '[load]\nmode = "brust"\n')
    assert ': load.mode: "brust" is not allowed; allowed: one of burst, closed, open, steps.' in line
    assert line.endswith("Did you mean 'burst'?")


def test_mode_choices_are_the_mode_type_s(tmp_path: Path) -> None:
    """One list of modes: LoadConfig.mode is typed Mode, and the loader reads the choices from the Literal."""
    field = next(f for f in dataclasses.fields(LoadConfig) if f.name == "mode")
    assert "choices" not in field.metadata and typing.get_type_hints(LoadConfig)["mode"] == Mode
    assert MODES == typing.get_args(Mode) == tuple(MODE_MEANINGS)
    assert only_problem(tmp_path, '[load]\nmode = "opne"\n').endswith("Did you mean 'open'?")
    line = only_problem(tmp_path, "[load]\nmode = 3\n")
    assert line.endswith(": load.mode: expected one of burst, closed, open, steps; got 3 (a number).")
    assert load_config(write(tmp_path, '[load]\nmode = "steps"\n')).load.mode == "steps"


def test_choice_suggestion_ignores_case(tmp_path: Path) -> None:
    assert only_problem(tmp_path, '[load]\nmethod = "post"\n').endswith("Did you mean 'POST'?")


def test_not_a_table(tmp_path: Path) -> None:
    line = only_problem(tmp_path, "load = 3\n")
    assert ": load: expected a table; got 3" in line


def test_required_key_missing_and_empty(tmp_path: Path) -> None:
    lines = problems(tmp_path, '[target.azure]\nsubscription_id = ""\nresource_group = "rg"\nworkspace = "ws"\n')
    assert any(": target.azure.subscription_id: is empty; allowed: a non-empty string." in line for line in lines)
    assert any(": target.azure.endpoint: missing; allowed: a non-empty string." in line for line in lines)
    assert len(lines) == 2


def test_two_targets(tmp_path: Path) -> None:
    line = only_problem(tmp_path, '[target.url]\nurl = "http://localhost:1"\n[target.local]\nsleep = 1\n')
    assert ": target: has [target.url] and [target.local]" in line
    assert "exactly one of [target.url], [target.local], [target.azure]" in line


def test_url_must_be_http(tmp_path: Path) -> None:
    line = only_problem(tmp_path, '[target.url]\nurl = "ftp://example.com/?code=hush"\n')
    assert ": target.url.url: " in line and "http:// or https://" in line
    assert "hush" not in line


@pytest.mark.parametrize(
    ("url", "wrong"),
    [
        ("http://127.0.0.1:99999/score?code=hush", "has a port that is not a number from 1 to 65535"),
        ("http://127.0.0.1:0/score?code=hush", "has a port that is not a number from 1 to 65535"),
        ("http://127.0.0.1:http/score?code=hush", "has a port that is not a number from 1 to 65535"),
        ("http:///score?code=hush", "has no host"),
        ("https://:8080/score?code=hush", "has no host"),
        ("ws://example.com/score?code=hush", "is not an HTTP URL"),
        ("example.com/score?code=hush", "is not an HTTP URL"),
        ("http://exa mple.com/score?code=hush", "holds spaces"),
    ],
)
def test_an_unusable_url_is_named_in_the_file_and_in_set(tmp_path: Path, url: str, wrong: str) -> None:
    """Each of these reached the engine before and failed every request instantly."""
    line = only_problem(tmp_path, f'[target.url]\nurl = "{url}"\n')
    assert f": target.url.url: {wrong}" in line and "allowed: an http:// or https:// URL" in line
    assert "hush" not in line
    (line,) = problems(tmp_path, "", (f"target.url.url={url}",))
    assert line.startswith("--set target.url.url: target.url.url: ") and wrong in line and "hush" not in line


@pytest.mark.parametrize("url", ["http://127.0.0.1:65535/score", "https://[::1]:1/s", "HTTP://example.com"])
def test_usable_urls_pass(tmp_path: Path, url: str) -> None:
    config = load_config(write(tmp_path, f'[target.url]\nurl = "{url}"\n'))
    assert config.target.url is not None and config.target.url.url == url


@pytest.mark.parametrize("header", ["Authorization", "authorization", "AUTHORIZATION", "api-key"])
def test_authorization_header_is_refused_without_echoing_it(tmp_path: Path, header: str) -> None:
    line = only_problem(
        tmp_path, f'[target.url]\nurl = "https://x"\nheaders = {{ "{header}" = "Bearer s3cr3t-value" }}\n'
    )
    assert f": target.url.headers.{header}: " in line
    if header.lower() == "authorization":
        assert "key_env" in line and "key_file" in line
    assert f'header_env = {{ "{header}" = "VARIABLE" }}' in line and "header_file" in line
    assert "s3cr3t" not in line


@pytest.mark.parametrize(
    ("table", "key"),
    [
        ("target.url", "key"),
        ("target.url", "api_key"),
        ("target.azure", "token"),
        ("target.local", "Password"),
        ("target", "secret"),
    ],
)
def test_secret_keys_are_refused_without_echoing_them(tmp_path: Path, table: str, key: str) -> None:
    text = f'[{table}]\n{key} = "s3cr3t-value"\n'
    lines = problems(tmp_path, text)
    line = next(line for line in lines if f": {table}.{key}: " in line)
    assert "key_env" in line and "key_file" in line and "unknown" not in line
    assert all("s3cr3t" not in line for line in lines)


def test_secret_of_the_wrong_type_is_not_echoed(tmp_path: Path) -> None:
    lines = problems(tmp_path, '[target.url]\nurl = "https://x"\nheaders = "Bearer s3cr3t-value"\n')
    assert lines and all("s3cr3t" not in line for line in lines)


def test_http2_needs_httpx(tmp_path: Path) -> None:
    line = only_problem(tmp_path, "[load]\nhttp2 = true\n")
    assert ': load.http2: true needs client = "httpx"' in line


def test_http2_with_a_bad_client_reports_the_client_only(tmp_path: Path) -> None:
    line = only_problem(tmp_path, '[load]\nhttp2 = true\nclient = "httpxx"\n')
    assert ": load.client: " in line and "Did you mean 'httpx'?" in line


def test_payload_and_payload_file_exclude_each_other(tmp_path: Path) -> None:
    line = only_problem(tmp_path, '[load]\npayload = "{}"\npayload_file = "bodies.jsonl"\n')
    assert ": load.payload_file: " in line and "payload or payload_file, not both" in line


def test_steps_levels(tmp_path: Path) -> None:
    assert problems(tmp_path, "[steps]\nlevels = []\n")[0].endswith(
        "steps.levels: is empty; allowed: one or more levels above 0, such as [1, 2, 4, 8]."
    )
    lines = problems(tmp_path, "[steps]\nlevels = [1, 0, 2.5, true]\n")
    assert [line.split(": ")[1] for line in lines] == ["steps.levels[3]"]
    lines = problems(tmp_path, "[steps]\nlevels = [1, 0, 2.5]\n")
    assert [line.split(": ")[1] for line in lines] == ["steps.levels[1]", "steps.levels[2]"]
    assert "not a whole number" in lines[1]
    assert load_config(write(tmp_path, '[steps]\nover = "rate"\nlevels = [2.5]\n')).steps.levels == (2.5,)


def test_burst_of_more_than_ten_thousand_is_refused(tmp_path: Path) -> None:
    line = only_problem(tmp_path, '[load]\nmode = "burst"\nrequests = 10001\n')
    assert ": load.requests: 10001 is too many" in line and "at most 10000" in line
    assert load_config(write(tmp_path, '[load]\nmode = "burst"\nrequests = 10000\n')).load.requests == 10000
    assert load_config(write(tmp_path, '[load]\nmode = "closed"\nrequests = 10001\n')).load.requests == 10001


def test_every_problem_is_reported_once(tmp_path: Path) -> None:
    lines = problems(
        tmp_path,
        """
[target.url]
url = "ws://x"
[target.local]
sleep = -1

[load]
conections = 8
mode = "brust"
rate = true
http2 = true
payload = "a"
payload_file = "b"

[output]
recent_requests = "many"
""",
    )
    keys = [line.split(": ")[1] for line in lines]
    assert sorted(keys) == sorted(
        [
            "target.local.sleep",
            "target",
            "target.url.url",
            "load.conections",
            "load.mode",
            "load.rate",
            "load.http2",
            "load.payload_file",
            "output.recent_requests",
        ]
    )
    assert all(line.startswith(f"{tmp_path / 'moetui.toml'}: ") for line in lines)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope\.toml: no such file"):
        load_config(tmp_path / "nope.toml")


def test_invalid_toml_names_the_file_and_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, "[load]\nmode = \n"))
    assert "moetui.toml: not valid TOML: " in caught.value.message
    assert "line 2" in caught.value.message


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is a directory; allowed: a regular file"):
        load_config(tmp_path)
    path = tmp_path / "latin1.toml"
    path.write_bytes(b'[load]\npayload = "\xe9"\n')
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(path)


def test_set_number_string_and_bool(tmp_path: Path) -> None:
    config = load_config(
        write(tmp_path, "[load]\nconnections = 2\n"),
        [
            "load.connections=16",
            "load.mode=open",
            "load.client = httpx",
            "load.http2=true",
            "load.duration=5m",
        ],
    )
    assert config.load.connections == 16
    assert config.load.mode == "open"
    assert config.load.client == "httpx" and config.load.http2 is True
    assert config.load.duration_s == 300.0


def test_set_quoted_string_and_array(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, ""), ['load.payload="{\\"x\\": 1}"', "steps.levels=[1, 3]"])
    assert config.load.payload == '{"x": 1}'
    assert config.steps.levels == (1.0, 3.0)


def test_set_nested_key(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "[target.local]\nworkers = 2\n"), ["target.local.sleep=0.5"])
    assert config.target.local == LocalTarget(workers=2, sleep=0.5)


def test_set_creates_missing_tables(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, ""), ["target.url.url=https://example.com/score"])
    assert config.target == TargetConfig(url=UrlTarget(url="https://example.com/score"))


def test_bad_key_in_a_set_is_named_as_such(tmp_path: Path) -> None:
    lines = problems(tmp_path, "", ("load.conections=5",))
    assert lines == [
        "--set load.conections: load.conections: unknown key. Allowed keys in [load]: mode, duration, "
        "requests, connections, clients, rate, arrivals, stages, timeout, warmup, payload, payload_file, method, "
        "client, http2, workers, seed, api, stream. Did you mean 'connections'?"
    ]


def test_bad_table_and_value_in_a_set(tmp_path: Path) -> None:
    lines = problems(tmp_path, "[load]\nrate = 0\n", ("lod.mode=open", "load.connections=many"))
    assert lines[0].startswith("--set lod.mode: lod: unknown table.") and lines[0].endswith("Did you mean 'load'?")
    assert any(line.startswith("--set load.connections: load.connections: expected a whole number") for line in lines)
    assert any(line.startswith(f"{tmp_path / 'moetui.toml'}: load.rate: 0 is out of range") for line in lines)


def test_malformed_sets(tmp_path: Path) -> None:
    lines = problems(tmp_path, '[load]\nmode = "open"\n', ("load.connections", "load..mode=x", "load.mode.x=1"))
    assert lines[0] == "--set load.connections: expected section.key=value, such as load.connections=8."
    assert lines[1].startswith("--set load..mode: expected section.key=value")
    assert lines[2] == "--set load.mode.x: load.mode is not a table, so it has no key 'x'."


def test_set_secret_is_refused_without_echoing_it(tmp_path: Path) -> None:
    lines = problems(tmp_path, '[target.url]\nurl = "https://x"\n', ("target.url.api_key=s3cr3t-value",))
    assert len(lines) == 1 and lines[0].startswith("--set target.url.api_key: target.url.api_key: ")
    assert "s3cr3t" not in lines[0]


def test_config_from_dict_names_its_source() -> None:
    with pytest.raises(ConfigError, match=r"^<config>: load\.mode: "):
        config_from_dict({"load": {"mode": "x"}})
    with pytest.raises(ConfigError, match=r"^cli: load\.mode: "):
        config_from_dict({"load": {"mode": "x"}}, source="cli")


def test_huge_integers_are_refused_not_crashed_on(tmp_path: Path) -> None:
    lines = problems(tmp_path, f"[load]\nconnections = 1{'0' * 400}\nrate = 1{'0' * 400}\n")
    assert [line.split(": ")[1] for line in lines] == ["load.connections", "load.rate"]


def test_secret_headers_and_query_values_are_named_where_they_come_from(tmp_path: Path) -> None:
    config = load_config(
        write(
            tmp_path,
            '[target.url]\nurl = "https://x/score?api-version=1"\nheaders = { "X-Tag" = "t" }\n'
            'header_env = { "api-key" = "AOAI_KEY", "Authorization" = "AUTH" }\n'
            'header_file = { "Ocp-Apim-Subscription-Key" = "apim.key" }\nquery_env = { "code" = "FUNC_CODE" }\n',
        )
    )
    assert config.target.url is not None
    assert config.target.url.header_env == {"api-key": "AOAI_KEY", "Authorization": "AUTH"}
    assert config.target.url.header_file == {"Ocp-Apim-Subscription-Key": "apim.key"}
    assert config.target.url.query_env == {"code": "FUNC_CODE"}


@pytest.mark.parametrize(
    ("lines", "key", "says"),
    [
        ('headers = { "X-Tag" = "t" }\nheader_env = { "x-tag" = "V" }', "target.url.header_env.x-tag", "headers.X-Tag"),
        (
            'header_env = { "api-key" = "V" }\nheader_file = { "API-Key" = "f" }',
            "target.url.header_file.API-Key",
            "one source",
        ),
        ('key_env = "K"\nheader_env = { "Authorization" = "V" }', "target.url.header_env.Authorization", "key_env"),
        ('header_env = { "api-key" = " " }', "target.url.header_env.api-key", "is empty"),
    ],
)
def test_each_secret_has_one_source(tmp_path: Path, lines: str, key: str, says: str) -> None:
    line = only_problem(tmp_path, f'[target.url]\nurl = "https://x/score"\n{lines}\n')
    assert f": {key}: " in line and says in line


def test_a_secret_query_value_is_refused_by_name_and_never_echoed(tmp_path: Path) -> None:
    line = only_problem(tmp_path, '[target.url]\nurl = "https://x/api?api-version=1&code=s3cr3t-value"\n')
    assert ": target.url.url: its query parameter 'code' looks like a secret" in line
    assert 'query_env = { "code" = "VARIABLE" }' in line and "s3cr3t" not in line


def test_header_text_with_line_breaks_or_nul_is_refused_naming_key_and_file(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[target.url]\nurl = "http://127.0.0.1:9/score"\ndeployment = "blue\\r\\nX-Evil: 1"\n'
        'headers = { "X-A" = "v4lue\\r\\nX-Evil: 1", "X-B\\u0000" = "ok", "X-C" = "tab\\there" }\n',
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    lines = caught.value.message.splitlines()
    assert lines == [
        f"{path}: target.url.deployment: holds a line break, NUL or another control character; "
        "allowed: one line of text (a tab is allowed).",
        f"{path}: target.url.headers.X-A: holds a line break, NUL or another control character (not shown); "
        "allowed: one line of text (a tab is allowed).",
        f'{path}: target.url.headers: the header name "X-B\\x00" is not an HTTP token; '
        "allowed: letters, digits and !#$%&'*+-.^_`|~.",
    ]
    assert "v4lue" not in caught.value.message
    for kind in ("local", "azure"):
        extra = 'endpoint = "ep"\n' if kind == "azure" else ""
        with pytest.raises(ConfigError, match=rf"target\.{kind}\.deployment: holds a line break"):
            load_config(write(tmp_path, f'[target.{kind}]\n{extra}deployment = "a\\nb"\n'))
