"""Credentials screen: the deployment's scoring URI and key, the key masked until revealed; optionally
saved to a 0600 file like a deploy script's cred.json. The run gets the key through the environment of the
engine process, never through a config or a report."""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Button, Checkbox, Footer, Header, Label, Static

from moetui.deployments.base import DeploymentInfo, DeploymentService, EndpointCredentials
from moetui.deployments.tokens import TokenKeeper
from moetui.local_endpoint.deployments import LocalDeployments
from moetui.paths import config_dir, write_secret
from moetui.redact import shown_url
from moetui.tui.messages import TargetChosen
from moetui.tui.state import TUI_KEY_ENV


def credentials_file(info: DeploymentInfo) -> Path:
    """Where the credentials of `info` are saved: the user's config directory, never the repository."""
    return config_dir() / "credentials" / f"{info.endpoint}.json"


class CredentialsScreen(Screen[None]):
    """Scoring URI and key of one deployment, on the way to the run setup."""

    BINDINGS = [
        Binding("v", "reveal", "Reveal key"),
        Binding("ctrl+n", "next", "Next", priority=True),
        Binding("escape", "back", "Back"),
    ]

    def __init__(self, service: DeploymentService, info: DeploymentInfo, credentials: EndpointCredentials) -> None:
        super().__init__()
        self.service = service
        self.info = info
        self.credentials = credentials
        self.revealed = False
        """Whether the key is shown in full (only on demand, never in a picture)."""

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="credentials-body"):
            yield Label(f"Credentials of {self.info.endpoint}/{self.info.name}", classes="title")
            yield Static(self._text(), id="credentials")
            with Horizontal(classes="field"):
                yield Checkbox("reveal the key", id="reveal")
            with Horizontal(classes="field"):
                yield Checkbox("save the key to a file (mode 0600)", id="save")
            # The path on a line of its own, which wraps: a checkbox's label is cut at the screen's edge.
            name = f"credentials/{self.info.endpoint}.json"
            yield Static(f"file: {name} in moetui's config directory", id="save-path", classes="hint")
            yield Static("", id="credentials-note")
            yield Button("Next: the load", id="next", variant="primary")
        yield Footer()

    def _text(self) -> str:
        credentials = self.credentials
        key = credentials.key if self.revealed else credentials.masked_key
        lines = [
            f"[b]scoring URI[/b]: {shown_url(credentials.scoring_uri)}",
            f"[b]azureml-model-deployment[/b]: {credentials.deployment or '(traffic split decides)'}",
            f"[b]auth mode[/b]: {credentials.auth_mode}",
            f"[b]{'key' if credentials.auth_mode == 'key' else 'token'}[/b]: {key}",
        ]
        if credentials.expires_at is not None:
            minutes = (credentials.expires_at - time.time()) / 60
            lines.append(f"[b]token expires[/b]: in {minutes:.0f} min")
        lines.append(
            f"[b]capacity[/b]: {self.info.capacity} in service at once (429 beyond {2 * self.info.capacity} in flight)"
        )
        return "\n".join(lines)

    def action_reveal(self) -> None:
        box = self.query_one("#reveal", Checkbox)
        box.value = not box.value

    @on(Checkbox.Changed, "#reveal")
    def _reveal(self, event: Checkbox.Changed) -> None:
        self.revealed = event.value
        self.query_one("#credentials", Static).update(self._text())

    @on(Button.Pressed, "#next")
    def action_next(self) -> None:
        credentials, info = self.credentials, self.info
        url: dict[str, object] = {"url": credentials.scoring_uri, "max_concurrency": info.capacity}
        if credentials.deployment:
            url["deployment"] = credentials.deployment
        if self.query_one("#save", Checkbox).value:
            document = {"url": credentials.scoring_uri, "key": credentials.key, "deployment": credentials.deployment}
            path = write_secret(credentials_file(info), json.dumps(document, indent=2) + "\n")
            url["key_file"] = str(path)
            self.query_one("#credentials-note", Static).update(f"Saved to {path} (mode 0600).")
            self.notify(f"Saved to {path} (mode 0600)", title="Credentials")
        else:
            os.environ[TUI_KEY_ENV] = credentials.key  # reaches the engine process, never a file
            url["key_env"] = TUI_KEY_ENV
        # A token expires (a key does not): runs ask for a fresh one through the service signed in here.
        keeper = None
        if credentials.expires_at is not None:
            keeper = TokenKeeper.on_loop(self.service, info.endpoint, credentials, asyncio.get_running_loop())
        # The app's own local endpoint: its runs' reports say so and sample its processes, as --run's do.
        processes = self.service.processes(info.endpoint) if isinstance(self.service, LocalDeployments) else None
        self.post_message(
            TargetChosen(
                {"url": url}, self.service.replay_target(info), keeper, info.request_timeout_ms or None, processes
            )
        )

    def action_back(self) -> None:
        self.app.pop_screen()
