"""The engine, config, report and target interface import neither the UI nor Azure; the headless runner
never imports textual; the engine imports nothing from the layers above it. Checked in a fresh
interpreter, where sys.modules and -X importtime tell the truth (lint-imports checks the same layers
statically: pyproject.toml [tool.importlinter])."""

from __future__ import annotations

import subprocess
import sys

import pytest

FORBIDDEN = ("textual", "rich", "azure")


@pytest.mark.parametrize(
    ("module", "forbidden"),
    [
        ("moetui.engine.run", FORBIDDEN),
        ("moetui.engine.judge", FORBIDDEN),
        ("moetui.config.load", FORBIDDEN),
        ("moetui.config.dump", FORBIDDEN),
        ("moetui.report.json_report", FORBIDDEN),
        ("moetui.report.build", FORBIDDEN),
        ("moetui.report.judge", FORBIDDEN),
        ("moetui.report.summary", FORBIDDEN),
        ("moetui.report.html", FORBIDDEN),
        ("moetui.report.compare_html", FORBIDDEN),
        ("moetui.report.hgrm", FORBIDDEN),
        ("moetui.report.junit", FORBIDDEN),
        ("moetui.commands.report", FORBIDDEN),
        ("moetui.engine.request_log", FORBIDDEN),
        ("moetui.targets.base", FORBIDDEN),
        ("moetui.targets.factory", FORBIDDEN),
        ("moetui.deployments.base", FORBIDDEN),
        ("moetui.deployments.tokens", FORBIDDEN),
        ("moetui.session.run_session", ("textual", "azure")),
        ("moetui.session.process", FORBIDDEN),
        ("moetui.headless", ("textual", "azure")),
        ("moetui.local_endpoint", FORBIDDEN),
    ],
)
def test_module_does_not_import(module: str, forbidden: tuple[str, ...]) -> None:
    code = f"import sys, {module}\nprint(sorted({{m.split('.')[0] for m in sys.modules}} & {set(forbidden)!r}))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip() == "[]"


#: What the engine must never load: it receives a LoadPlan and nothing from above.
ABOVE_THE_ENGINE = ("moetui.targets", "moetui.session", "moetui.report", "moetui.tui", "moetui.azure")
EVERY_ENGINE_MODULE = (
    "import importlib, pkgutil, moetui.engine\n"
    "for found in pkgutil.walk_packages(moetui.engine.__path__, 'moetui.engine.'):\n"
    "    importlib.import_module(found.name)"
)


@pytest.mark.parametrize("code", ["import moetui.engine", EVERY_ENGINE_MODULE], ids=["package", "every-module"])
def test_the_engine_imports_nothing_from_above(code: str) -> None:
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    # -X importtime writes "import time: self [us] | cumulative | imported package" per module to stderr.
    lines = [line for line in result.stderr.splitlines() if line.startswith("import time:")]
    imported = [line.rsplit("|", 1)[1].strip() for line in lines]
    assert "moetui.engine" in imported
    above = [name for name in imported if any(name.split(".")[:2] == layer.split(".") for layer in ABOVE_THE_ENGINE)]
    assert above == []


#: The app imports the screens it pushes; they know it as MoetuiHost (moetui.tui.host) and never load it.
EVERY_SCREEN_DIALOG_AND_WIDGET = (
    "import importlib, pkgutil, sys\n"
    "import moetui.tui.screens, moetui.tui.dialogs, moetui.tui.widgets\n"
    "for package in (moetui.tui.screens, moetui.tui.dialogs, moetui.tui.widgets):\n"
    "    for found in pkgutil.walk_packages(package.__path__, package.__name__ + '.'):\n"
    "        importlib.import_module(found.name)\n"
    "print([name in sys.modules for name in ('moetui.tui.screens.target', 'moetui.tui.host', 'moetui.tui.app')])"
)


def test_screens_dialogs_and_widgets_never_load_the_app() -> None:
    result = subprocess.run(
        [sys.executable, "-c", EVERY_SCREEN_DIALOG_AND_WIDGET], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "[True, True, False]"
