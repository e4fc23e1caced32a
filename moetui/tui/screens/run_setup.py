"""Run setup: the load model and its parameters, checked as you type; start, or save as TOML for
`moetui --run` to replay exactly; for an Azure ML deployment, run it as an Azure ML job next to the
endpoint (compute cluster and node count, as `moetui --run CONFIG --on-azure --compute NAME --nodes N`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual import getters, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, Footer, Header, Input, Label, Select, Static

from moetui.config.dump import dump_config
from moetui.config.load import config_from_dict, typed_number
from moetui.config.schema import MODE_MEANINGS, Config, Mode
from moetui.config.timing import REQUEST_TIMEOUT_MARGIN_S, request_timeout_s
from moetui.errors import ConfigError
from moetui.nodes.job import DEFAULT_COMPUTE
from moetui.paths import in_runs_dir
from moetui.session.compose import known_request_timeout_ms
from moetui.tui.host import MoetuiHost

#: The mode picker's lines (config.schema.MODE_MEANINGS is the one list of modes).
MODES = [(f"{mode}: {meaning}", mode) for mode, meaning in MODE_MEANINGS.items()]
#: (field, TOML key, label, which modes use it); values typed are TOML values. load.requests means two
#: things, so it has two fields: a burst's size, and a closed or open run's optional budget (one typed for
#: a burst once capped a "30 s" closed run at 3 requests, unseen).
LOAD_FIELDS: tuple[tuple[str, str, str, set[Mode]], ...] = (
    ("at_once", "requests", "requests at once", {"burst"}),
    ("connections", "connections", "connections", {"closed"}),
    ("clients", "clients", "clients (most in flight)", {"open", "steps"}),
    ("rate", "rate", "rate (requests/s)", {"open"}),
    ("duration", "duration", "duration", {"closed", "open"}),
    ("budget", "requests", "stop after N requests (optional)", {"closed", "open"}),
    ("warmup", "warmup", "warm-up", {"closed", "open", "steps"}),
    ("timeout", "timeout", "per-request timeout", {"burst", "closed", "open", "steps"}),
)
STEPS_FIELDS = (
    ("over", "sweep over (connections or rate)"),
    ("levels", "levels, e.g. 1, 2, 4, 8"),
    ("step_duration", "each level for"),
    ("percentile", "knee percentile"),
    ("threshold_ms", "knee threshold (ms)"),
)
#: The timeout is not among them: empty, a run takes the target's default (config.timing.request_timeout_s),
#: shown as the field's placeholder, as a headless run of the same target would.
DEFAULTS = {"at_once": "3", "duration": "30s", "rate": "50"}


def default_load() -> dict[str, Any]:
    """The load the form starts with ([load] as TOML holds it): a burst of DEFAULTS["at_once"]."""
    return {"mode": "burst", "requests": int(DEFAULTS["at_once"])}


def default_timeout_text(target_table: dict[str, Any], base_dir: Path, chosen_ms: int | None = None) -> tuple[str, str]:
    """The request timeout a run of `target_table` takes when none is typed: (the field's placeholder, short
    enough for an 80-column screen, and why, in words on the line below it).

    Args:
        chosen_ms: The chosen deployment's request_timeout_ms when the table is its URL (TuiState's).
    """
    try:
        config = config_from_dict({"target": target_table, "load": {"mode": "burst"}}, source="setup")
        known_ms = chosen_ms or known_request_timeout_ms(config, base_dir)
    except ConfigError:
        return "default", ""  # the form's own check names the problem
    margin = REQUEST_TIMEOUT_MARGIN_S
    if known_ms is None and config.target.azure is not None:
        return "default", f"empty: the deployment's request_timeout_ms + {margin:g} s"
    seconds = request_timeout_s(None, known_ms)
    why = f"request_timeout_ms {known_ms} + {margin:g} s" if known_ms else "no request_timeout_ms known"
    return f"default {seconds:g}s", f"empty: {seconds:g} s ({why})"


def _value(key: str, text: str) -> Any:
    """A typed value as TOML would read it: numbers as numbers, lists from commas, the rest as strings."""
    if key == "levels":
        return [_value("", part.strip()) for part in text.split(",") if part.strip()]
    return typed_number(text)


class RunSetupScreen(Screen[None]):
    """Choose the load; the configuration is validated on every keystroke."""

    app = getters.app(MoetuiHost)
    BINDINGS = [
        Binding("ctrl+r", "start", "Start", priority=True),
        Binding("ctrl+s", "save", "Save TOML", priority=True),
        Binding("ctrl+o", "azure", "Run on Azure", priority=True),
        Binding("escape", "back", "Back"),
    ]

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="setup-form", can_focus=False):
            yield Label("What load?", classes="title")
            yield Select(MODES, value="burst", allow_blank=False, id="mode")
            with Vertical(classes="form"):
                for name, _, label, _ in LOAD_FIELDS:
                    with Horizontal(classes="field", id=f"row-{name}"):
                        yield Label(label)
                        yield Input(DEFAULTS.get(name, ""), placeholder="default", id=f"load-{name}", compact=True)
                yield Static("", id="timeout-why", classes="hint")  # under the timeout, the last field
            with Vertical(classes="form", id="steps-form"):
                for key, label in STEPS_FIELDS:
                    with Horizontal(classes="field"):
                        yield Label(label)
                        yield Input(placeholder="default", id=f"steps-{key}", compact=True)
            yield Static("", id="setup-error", classes="error")
            with Horizontal(classes="field"):
                yield Label("save as")
                yield Input("moetui-run.toml", id="save-path", compact=True)
            with Horizontal(classes="field", id="azure-job"):
                yield Label("Azure ML job: compute, nodes")
                yield Input(DEFAULT_COMPUTE, id="azure-compute", compact=True)
                yield Input("1", id="azure-nodes", type="integer", compact=True)
            with Horizontal(id="setup-buttons"):
                yield Button("Start", id="start", variant="primary")
                yield Button("Save as TOML", id="save")
                yield Button("Run on Azure", id="azure-run")
        yield Footer()

    def on_mount(self) -> None:
        timeout = self.query_one("#load-timeout", Input)
        chosen_ms = self.app.state.request_timeout_ms
        timeout.placeholder, why = default_timeout_text(self._target(), self.app.base_dir, chosen_ms)
        self.query_one("#timeout-why", Static).update(why)
        on_azure = self.app.state.azure_target is not None
        self.query_one("#azure-job").display = on_azure
        self.query_one("#azure-run").display = on_azure
        self._refresh_fields()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Run on Azure only for an Azure ML deployment (hidden otherwise, its key too)."""
        if action == "azure":
            return self.app.state.azure_target is not None
        return True

    @on(Select.Changed, "#mode")
    def _refresh_fields(self) -> None:
        mode = str(self.query_one("#mode", Select).value)
        for name, _, _, modes in LOAD_FIELDS:
            self.query_one(f"#row-{name}").display = mode in modes
        self.query_one("#steps-form").display = mode == "steps"
        self.check_settings()

    @on(Input.Changed)
    def _changed(self) -> None:
        self.check_settings()

    def build(self) -> dict[str, Any]:
        """The configuration as TOML would hold it, from the target chosen and the fields shown."""
        mode = str(self.query_one("#mode", Select).value)
        load: dict[str, Any] = {"mode": mode}
        for name, key, _, modes in LOAD_FIELDS:
            text = self.query_one(f"#load-{name}", Input).value.strip()
            if text and mode in modes:
                load[key] = _value(key, text)
        chosen_ms = self.app.state.request_timeout_ms
        if "timeout" not in load and chosen_ms:  # a URL carries no request_timeout_ms: the rule's answer goes in
            load["timeout"] = request_timeout_s(None, chosen_ms)
        data: dict[str, Any] = {"target": self._target(), "load": load}
        if mode == "steps":
            steps = {}
            for key, _ in STEPS_FIELDS:
                text = self.query_one(f"#steps-{key}", Input).value.strip()
                if text:
                    steps[key] = _value(key, text)
            data["steps"] = steps
        return data

    def _target(self) -> dict[str, Any]:
        """The target table a run from here uses (none chosen: the local endpoint's defaults)."""
        return dict(self.app.state.target_table or {"local": {}})

    def check_settings(self) -> Config | None:
        """The configuration if it is valid; otherwise its problems are shown and None returned."""
        error = self.query_one("#setup-error", Static)
        try:
            config = config_from_dict(self.build(), source="setup")
        except ConfigError as exc:
            error.update(exc.message)
            return None
        error.update("")
        return config

    @on(Button.Pressed, "#start")
    def action_start(self) -> None:
        config = self.check_settings()
        if config is None:
            self.notify("Fix the settings shown in red first.", severity="error", title="Run setup")
            return
        from moetui.tui.screens.live import LiveScreen

        self.app.push_screen(LiveScreen(config))

    @on(Button.Pressed, "#save")
    def action_save(self) -> None:
        config = self.check_settings()
        if config is None:
            self.notify("Fix the settings shown in red first.", severity="error", title="Save as TOML")
            return
        path = in_runs_dir(Path(self.query_one("#save-path", Input).value.strip() or "moetui-run.toml"))
        try:
            dump_config(self.app.state.replay_config(config), path)
        except ConfigError as exc:
            self.notify(exc.message, severity="error", title="Save as TOML")
            return
        self.notify(f"Saved {path}: replay it with moetui --run {path}", title="Save as TOML")

    @on(Button.Pressed, "#azure-run")
    def action_azure(self) -> None:
        """Submit the run as an Azure ML job on the compute and nodes given, and follow it on its screen."""
        azure = self.app.state.azure_target
        if azure is None:
            return
        config = self.check_settings()
        compute = self.query_one("#azure-compute", Input).value.strip()
        nodes_text = self.query_one("#azure-nodes", Input).value.strip()
        problem = None
        if config is None:
            problem = "Fix the settings shown in red first."
        elif not compute:
            problem = "Name the compute cluster (created when missing)."
        elif not nodes_text.isdigit() or int(nodes_text) < 1:
            problem = f"nodes: give a whole number of 1 or more, not {nodes_text!r}."
        else:
            try:  # the job's nodes reach the deployment themselves: its [target.azure], never its URL and key
                config = config_from_dict({**self.build(), "target": {"azure": azure}}, source="setup")
            except ConfigError as exc:
                problem = exc.message
        if problem is not None or config is None:
            self.notify(problem or "", severity="error", title="Run on Azure")
            return
        from moetui.tui.screens.azure_job import AzureJobScreen

        self.app.push_screen(AzureJobScreen(config, compute, int(nodes_text)))

    def action_back(self) -> None:
        self.app.pop_screen()
