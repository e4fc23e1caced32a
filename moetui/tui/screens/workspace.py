"""Workspace screen (Azure): who is signed in, then subscription, resource group and workspace pickers,
or the portal's config.json; on to the workspace's deployments. Talks to a WorkspaceBrowser only."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, Footer, Header, Input, Label, Select, Static

from moetui.deployments.base import Identity, Workspace, WorkspaceBrowser
from moetui.errors import MoetuiError
from moetui.tui.host import BrowserFactory

#: How often a device-code message from the sign-in thread is picked up.
PROMPT_TICK_S = 0.5


def _message(exc: BaseException) -> str:
    return exc.message if isinstance(exc, MoetuiError) else f"{type(exc).__name__}: {exc}"


class WorkspaceScreen(Screen[None]):
    """Pick an Azure ML workspace."""

    BINDINGS = [
        Binding("ctrl+b", "sign_in", "Sign in (browser)", priority=True),
        Binding("ctrl+n", "next", "Next", priority=True),
        Binding("escape", "back", "Back"),
    ]

    def __init__(self, browser_factory: BrowserFactory) -> None:
        super().__init__()
        self.browser_factory = browser_factory
        self.browser: WorkspaceBrowser | None = None
        """Made in a thread on mount: the Azure SDK takes seconds to import."""
        self.identity: Identity | None = None
        self.workspaces: list[Workspace] = []
        self.chosen: Workspace | None = None
        """The workspace picked (or read from config.json)."""
        self._device_code = ""

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="workspace-form", can_focus=False):
            yield Label("Azure workspace", classes="title")
            yield Static("Signing in ...", id="identity")
            with Vertical(classes="form"):
                for name, label in (
                    ("subscription", "subscription"),
                    ("resource-group", "resource group"),
                    ("workspace", "workspace"),
                ):
                    with Horizontal(classes="field"):
                        yield Label(label)
                        yield Select[str]([], prompt=f"choose a {label}", id=name, disabled=True, compact=True)
                with Horizontal(classes="field"):
                    yield Label("or the portal's config.json")
                    yield Input(placeholder="path/to/config.json", id="config-json", compact=True)
            yield Static("", id="workspace-error", classes="error")
            yield Button("Next: deployments", id="next", variant="primary")
        yield Footer()

    def on_mount(self) -> None:
        self.set_interval(PROMPT_TICK_S, self._show_device_code)
        self._sign_in(interactive=False)

    def _error(self, exc: BaseException | str) -> None:
        message = exc if isinstance(exc, str) else _message(exc)
        self.query_one("#workspace-error", Static).update(message)
        if not isinstance(exc, str):
            title = exc.title if isinstance(exc, MoetuiError) else "Azure"
            self.notify(message.splitlines()[0], title=title, severity="error", timeout=8)

    def _on_device_code(self, message: str) -> None:
        """Called by the sign-in (perhaps from its thread): picked up by the timer."""
        self._device_code = message

    def _show_device_code(self) -> None:
        if self._device_code and self.identity is None:
            self.query_one("#identity", Static).update(self._device_code)

    def action_sign_in(self) -> None:
        self._sign_in(interactive=True)

    @work(exclusive=True, group="azure", exit_on_error=False)
    async def _sign_in(self, interactive: bool) -> None:
        identity_line = self.query_one("#identity", Static)
        identity_line.update("Signing in (a browser may open) ..." if interactive else "Signing in ...")
        self.query_one("#workspace-error", Static).update("")
        try:
            if self.browser is None:
                self.browser = await asyncio.to_thread(self.browser_factory)
            self.identity = await self.browser.sign_in(interactive=interactive, on_device_code=self._on_device_code)
        except Exception as exc:
            identity_line.update(
                "Not signed in: press ctrl+b to sign in with a browser, or run `az login` and come back."
            )
            self._error(exc)
            return
        who = self.identity
        identity_line.update(f"Signed in as [b]{who.user}[/b] (tenant {who.tenant_id}) via {who.method}.")
        await self._load("subscription", self.browser.subscriptions(), lambda s: (f"{s.name} ({s.id[:8]}…)", s.id))

    async def _load(self, select_id: str, fetch: Any, option: Callable[[Any], tuple[str, str]]) -> None:
        """Fill a picker from an awaitable list, or show why it cannot be filled."""
        select = self.query_one(f"#{select_id}", Select)
        select.disabled = True
        try:
            items = await fetch
        except Exception as exc:
            self._error(exc)
            return
        if select_id == "workspace":
            self.workspaces = list(items)
        if not items:
            self._error(f"Nothing to choose as {select_id.replace('-', ' ')} here.")
            return
        select.set_options([option(item) for item in items])
        select.disabled = False
        if len(items) == 1:
            select.value = option(items[0])[1]

    @on(Select.Changed, "#subscription")
    @work(exclusive=True, group="azure", exit_on_error=False)
    async def _subscription_chosen(self, event: Select.Changed) -> None:
        if self.browser is None or event.value is Select.BLANK:
            return
        for below in ("resource-group", "workspace"):
            self.query_one(f"#{below}", Select).set_options([])
        await self._load("resource-group", self.browser.resource_groups(str(event.value)), lambda g: (g, g))

    @on(Select.Changed, "#resource-group")
    @work(exclusive=True, group="azure", exit_on_error=False)
    async def _group_chosen(self, event: Select.Changed) -> None:
        subscription = self.query_one("#subscription", Select).value
        if self.browser is None or event.value is Select.BLANK or subscription is Select.BLANK:
            return
        self.query_one("#workspace", Select).set_options([])
        fetch = self.browser.workspaces(str(subscription), str(event.value))
        await self._load("workspace", fetch, lambda w: (f"{w.name}  ({w.location})" if w.location else w.name, w.name))

    @on(Select.Changed, "#workspace")
    def _workspace_chosen(self, event: Select.Changed) -> None:
        self.chosen = next((w for w in self.workspaces if w.name == event.value), None)

    @on(Button.Pressed, "#next")
    def action_next(self) -> None:
        if self.browser is None:
            self._error("Sign in first (ctrl+b signs in with a browser).")
            return
        path = self.query_one("#config-json", Input).value.strip()
        workspace = self.chosen
        if path:
            try:
                workspace = self.browser.workspace_from_config_json(path)
            except MoetuiError as exc:
                self._error(exc)
                return
        if workspace is None:
            self._error("Choose a subscription, a resource group and a workspace, or give a config.json.")
            return
        from moetui.tui.screens.deployment import DeploymentScreen

        self.app.push_screen(DeploymentScreen(self.browser.deployments(workspace)))

    def action_back(self) -> None:
        self.app.pop_screen()
