"""One rule for the configuration that replays a run from the app (issue 26 item 1): the report's `t` writes
what the run setup's ctrl+s writes, the deployment's own [target.local], never the URL the app's endpoint had
and the key variable only the app set. Before, `t` wrote that URL and MOETUI_TUI_KEY: exit 2, then 3."""

from __future__ import annotations

from pathlib import Path

import pytest

from moetui.config.load import load_config
from moetui.paths import runs_dir
from moetui.tui.app import make_app
from moetui.tui.screens.credentials import CredentialsScreen
from moetui.tui.screens.run_setup import RunSetupScreen
from moetui.tui.state import RunSeams
from tests.fixtures import canned
from tests.fixtures.memory_targets import MemoryDeployments, azure_deployment
from tests.tui.test_flow import wait_for, wait_for_report


async def test_the_reports_t_writes_the_same_replayable_target_as_the_setups_ctrl_s(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    service = MemoryDeployments(kind="local", deployments=[azure_deployment()])  # replays as [target.local]
    _, finished = canned.burst_finished()
    seams: list[RunSeams] = []

    def factory(config: object, base_dir: Path, given: RunSeams) -> canned.FakeRun:
        seams.append(given)
        return canned.FakeRun([], finished)

    app = make_app(run_factory=factory, base_dir=tmp_path, local_service=service)
    async with app.run_test(size=(100, 30)) as pilot:
        info = service.deployments[0]
        app.push_screen(CredentialsScreen(service, info, await service.credentials(info.endpoint, info.name)))
        await pilot.pause()
        await pilot.press("ctrl+n")
        setup = await wait_for(pilot, RunSetupScreen)
        setup.query_one("#save-path").value = "setup.toml"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.state.target_table["url"]["key_env"]  # the run itself goes through the URL and a variable
        await pilot.press("ctrl+r")
        await wait_for_report(app, pilot, timeout_s=10)
        await pilot.press("t")
        await pilot.pause(0.3)
    saved = load_config(runs_dir() / "setup.toml")
    (exported_path,) = runs_dir().glob("moetui-run-*.toml")
    exported = load_config(exported_path)
    assert exported.target.local is not None and exported.target.url is None
    assert exported.target == saved.target and exported.load == saved.load
    assert "MOETUI_TUI_KEY" not in exported_path.read_text()
    assert seams[0].local_processes is None  # a service without processes of this machine's (not LocalDeployments)
