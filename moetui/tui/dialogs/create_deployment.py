"""The form that makes a DeploymentRequest: scoring_app/ with a random endpoint name and deployment.yml's
settings, each editable and checked as it is typed."""

from __future__ import annotations

from dataclasses import fields, replace
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from moetui.config.schema import MAX_REQUEST_TIMEOUT_MS
from moetui.deployments.base import DeploymentRequest

#: (DeploymentRequest field, label): the settings a deploy script sets.
REQUEST_FIELDS = (
    ("endpoint", "endpoint name (random, unique)"),
    ("deployment", "deployment name"),
    ("max_concurrent_requests_per_instance", "max_concurrent_requests_per_instance"),
    ("worker_count", "WORKER_COUNT"),
    ("request_timeout_ms", f"request_timeout_ms (max {MAX_REQUEST_TIMEOUT_MS})"),
    ("instance_type", "instance type"),
    ("instance_count", "instance count"),
    ("sleep_s", "SLEEP_SECONDS"),
)


def _typed(name: str, text: str) -> Any:
    kind = {f.name: f.type for f in fields(DeploymentRequest)}[name]
    if kind == "int":
        return int(text)
    if kind == "float":
        return float(text)
    return text


class CreateDeploymentDialog(ModalScreen[DeploymentRequest | None]):
    """Dismissed with the request to create, or None."""

    DEFAULT_CSS = """
    CreateDeploymentDialog { align: center middle; }
    CreateDeploymentDialog > VerticalScroll {
        width: 76; height: auto; max-height: 100%; padding: 0 1;
        border: thick $primary; background: $surface;
    }
    CreateDeploymentDialog .field Label { width: 40; }
    CreateDeploymentDialog #create-buttons { height: auto; }
    CreateDeploymentDialog Button { margin-right: 2; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel"), Binding("ctrl+s", "submit", "Create", priority=True)]

    def __init__(self, request: DeploymentRequest, where: str) -> None:
        super().__init__()
        self.request = request
        self.where = where

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Label(f"Create a deployment of scoring_app/ on {self.where}", classes="title")
            with Vertical(classes="form"):
                for name, label in REQUEST_FIELDS:
                    with Horizontal(classes="field"):
                        yield Label(label)
                        yield Input(str(getattr(self.request, name)), id=f"req-{name}", compact=True)
            yield Static("", id="create-error", classes="error")
            with Horizontal(id="create-buttons"):
                yield Button("Create (ctrl+s)", id="create", variant="primary")
                yield Button("Cancel (esc)", id="cancel")

    def build(self) -> tuple[DeploymentRequest | None, list[str]]:
        """The request the fields describe, or None and what is wrong."""
        values: dict[str, Any] = {}
        problems = []
        for name, label in REQUEST_FIELDS:
            text = self.query_one(f"#req-{name}", Input).value.strip()
            try:
                values[name] = _typed(name, text)
            except ValueError:
                problems.append(f"{label}: {text!r} is not a number")
        if problems:
            return None, problems
        request = replace(self.request, **values)
        problems = request.problems()
        return (None if problems else request), problems

    @on(Input.Changed)
    def _check(self) -> None:
        _, problems = self.build()
        self.query_one("#create-error", Static).update("\n".join(problems))

    @on(Button.Pressed, "#create")
    def action_submit(self) -> None:
        request, problems = self.build()
        if request is None:
            self.query_one("#create-error", Static).update("\n".join(problems))
            return
        self.dismiss(request)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
