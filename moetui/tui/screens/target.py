"""Target screen: the local endpoint (no account needed), an Azure workspace (with the Azure issue), or
any scoring URI with its key."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from typing import Any

from textual import getters, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, Checkbox, Footer, Header, Input, Label, RadioButton, RadioSet, Static

from moetui.config.load import config_from_dict, typed_number
from moetui.errors import ConfigError
from moetui.paths import config_dir, write_secret
from moetui.redact import split_secret_query
from moetui.tui.host import MoetuiHost
from moetui.tui.messages import TargetChosen
from moetui.tui.state import TUI_KEY_ENV, TUI_QUERY_ENV, forget_target, remember_target, remembered_target

LOCAL_FIELDS = (
    ("sleep", "sleep (SLEEP_SECONDS)", "from deployment.yml: 15"),
    ("workers", "WORKER_COUNT", "3"),
    ("max_concurrency", "max_concurrent_requests_per_instance", "3"),
    ("instances", "instance_count", "1"),
    ("timeout_ms", "request_timeout_ms", "60000"),
)
URL_FIELDS = (
    ("url", "scoring URI", "https://<endpoint>.<region>.inference.ml.azure.com/score"),
    ("deployment", "azureml-model-deployment (optional)", "blue"),
    ("key_env", "key from environment variable (optional)", "MOETUI_KEY"),
    ("max_concurrency", "deployment capacity (optional)", "3"),
)


#: [target.local] key -> DeploymentRequest field.
LOCAL_TO_REQUEST = {
    "sleep": "sleep_s",
    "workers": "worker_count",
    "max_concurrency": "max_concurrent_requests_per_instance",
    "instances": "instance_count",
    "timeout_ms": "request_timeout_ms",
}


def _kind(remembered: dict[str, Any]) -> str:
    return next((kind for kind in ("url", "azure") if kind in remembered), "local")


def _request_overrides(local: dict[str, Any]) -> dict[str, Any]:
    return {LOCAL_TO_REQUEST[key]: value for key, value in local.items() if key in LOCAL_TO_REQUEST}


def _fields(kind: str, fields: tuple[tuple[str, str, str], ...], values: dict[str, Any]) -> ComposeResult:
    """A labelled one-line input per field, filled with the remembered values (marked: a value typed in an
    earlier session is no default, and it changes what the run measures)."""
    for key, label, placeholder in fields:
        yield Horizontal(
            Label(label),
            Input(str(values.get(key, "")), placeholder=placeholder, id=f"{kind}-{key}", compact=True),
            classes="field -remembered" if key in values else "field",
        )


def remembered_words(kind: str, values: dict[str, Any]) -> str:
    """'remembered from last time: sleep 1, WORKER_COUNT 1 (ctrl+l: defaults)', or "" for none."""
    fields = LOCAL_FIELDS if kind == "local" else URL_FIELDS if kind == "url" else ()
    named = [f"{label.split(' (')[0]} {values[key]}" for key, label, _ in fields if key in values]
    return f"remembered from last time: {', '.join(named)} (ctrl+l: defaults)" if named else ""


def _remembered_hint(kind: str, values: dict[str, Any]) -> Static:
    words = remembered_words(kind, values)
    hint = Static(words, id=f"{kind}-remembered")
    hint.display = bool(words)
    return hint


def _take_secret_query(target: dict[str, Any]) -> dict[str, str]:
    """Move a pasted URL's secret query values (`?code=...`) into the environment, as a typed key: the
    URL keeps the rest and the run reads them through query_env. Returns the query_env table."""
    url = target.get("url", {}).get("url")
    if not isinstance(url, str):
        return {}
    try:
        target["url"]["url"], secret = split_secret_query(url)
    except ValueError:
        return {}  # not a URL: the config check says so
    query_env = {}
    for index, (name, value) in enumerate(secret.items()):
        variable = f"{TUI_QUERY_ENV}_{index}"
        os.environ[variable] = value  # reaches the engine process, never a file
        query_env[name] = variable
    return query_env


class TargetScreen(Screen[None]):
    """Choose where the load goes."""

    app = getters.app(MoetuiHost)
    BINDINGS = [
        Binding("ctrl+n", "next", "Next", priority=True),
        Binding("ctrl+o", "open_matrix", "Matrix file", priority=True),
        Binding("ctrl+l", "defaults", "Defaults", priority=True),
    ]

    def compose(self) -> ComposeResult:
        remembered = remembered_target()
        yield Header()
        with VerticalScroll(id="target-form", can_focus=False):
            yield Label("Where should the load go?", classes="title")
            kind = _kind(remembered)
            with RadioSet(id="kind"):
                yield RadioButton("Local endpoint (no Azure account needed)", id="local", value=kind == "local")
                yield RadioButton("Azure workspace (sign in to Azure)", id="azure", value=kind == "azure")
                yield RadioButton("Any URL", id="url", value=kind == "url")
            with Vertical(id="local-form", classes="form"):
                yield _remembered_hint("local", remembered.get("local", {}))
                yield from _fields("local", LOCAL_FIELDS, remembered.get("local", {}))
            with Vertical(id="azure-form", classes="form"):
                yield Static(
                    "Next signs in (Azure CLI, environment or managed identity; a browser when none of them has an "
                    "account), then lists subscriptions, resource groups, workspaces and their deployments.",
                    classes="hint",
                )
            with Vertical(id="url-form", classes="form"):
                yield _remembered_hint("url", remembered.get("url", {}))
                yield from _fields("url", URL_FIELDS, remembered.get("url", {}))
                with Horizontal(classes="field"):
                    yield Label("or the key itself")
                    yield Input(
                        password=True, placeholder="hidden; never written to a config", id="url-key", compact=True
                    )
                with Horizontal(classes="field"):
                    yield Checkbox("reveal", id="reveal")
                    yield Checkbox("save the key to a credentials file (mode 0600)", id="save-key")
            yield Static("", id="target-error", classes="error")
            yield Button("Next", id="next", variant="primary")
        yield Footer()

    def on_mount(self) -> None:
        self._show_form()

    @on(RadioSet.Changed)
    def _show_form(self) -> None:
        kind = self._kind()
        self.query_one("#local-form").display = kind == "local"
        self.query_one("#url-form").display = kind == "url"
        self.query_one("#azure-form").display = kind == "azure"

    @on(Checkbox.Changed, "#reveal")
    def _reveal(self, event: Checkbox.Changed) -> None:
        self.query_one("#url-key", Input).password = not event.value

    def action_defaults(self) -> None:
        """Back to the defaults: every remembered value cleared, and forgotten for the next session."""
        forget_target()
        for field in self.query(".field.-remembered"):
            field.remove_class("-remembered")
        for kind, fields in (("local", LOCAL_FIELDS), ("url", URL_FIELDS)):
            for key, _, _ in fields:
                self.query_one(f"#{kind}-{key}", Input).value = ""
            self.query_one(f"#{kind}-remembered", Static).display = False
        self.notify("Back to the defaults (the remembered values are forgotten)", title="Defaults")

    def _kind(self) -> str:
        pressed = self.query_one("#kind", RadioSet).pressed_button
        return pressed.id if pressed is not None and pressed.id else "local"

    def _table(self) -> dict[str, Any]:
        kind = self._kind()
        fields = LOCAL_FIELDS if kind == "local" else URL_FIELDS
        table: dict[str, Any] = {}
        for key, _, _ in fields:
            text = self.query_one(f"#{kind}-{key}", Input).value.strip()
            if text:
                table[key] = text if key in ("url", "deployment", "key_env") else typed_number(text)
        return {kind: table}

    @on(Button.Pressed, "#next")
    def action_open_matrix(self) -> None:
        """Ask for a matrix file and run its cells on the matrix screen."""
        from moetui.tui.dialogs.matrix_file import MatrixFileDialog
        from moetui.tui.state import MatrixOpen

        def opened(matrix: MatrixOpen | None) -> None:
            if matrix is not None:
                self.app.open_matrix(matrix)

        self.app.push_screen(MatrixFileDialog(self.app.base_dir), opened)

    def action_next(self) -> None:
        if self._kind() == "azure":
            remember_target({"azure": {}})
            from moetui.tui.screens.workspace import WorkspaceScreen

            self.app.push_screen(WorkspaceScreen(self.app.azure_browser))
            return
        target = self._table()
        secret_query = _take_secret_query(target)
        error = self.query_one("#target-error", Static)
        try:
            config_from_dict({"target": target}, source="target")
        except ConfigError as exc:
            error.update(exc.message)
            return
        error.update("")
        remember_target(target)  # the URL without its secret query values: they are pasted again
        if secret_query:
            target["url"]["query_env"] = secret_query
        if "local" in target:
            from moetui.tui.screens.deployment import DeploymentScreen

            service = self.app.local_service
            typed = _request_overrides(target["local"])
            request = replace(service.default_request(), **typed)
            self.app.push_screen(DeploymentScreen(service, request, create_when_empty=True, typed=typed))
            return
        if "url" in target:
            key = self.query_one("#url-key", Input).value.strip()
            if key:
                target["url"].pop("key_env", None)
                if self.query_one("#save-key", Checkbox).value:
                    path = write_secret(config_dir() / "credentials" / "url.json", json.dumps({"key": key}) + "\n")
                    target["url"]["key_file"] = str(path)
                    self.notify(f"Key saved to {path} (mode 0600)", title="Credentials")
                else:
                    os.environ[TUI_KEY_ENV] = key  # reaches the engine process, never a file
                    target["url"]["key_env"] = TUI_KEY_ENV
        self.post_message(TargetChosen(target))
