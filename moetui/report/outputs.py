"""The files a report travels as, beside its JSON: the HTML page, HdrHistogram .hgrm files and JUnit XML.
One function writes whichever were asked for, for `moetui report` and for a headless run's [output] table.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from moetui.config.schema import OutputConfig
from moetui.report.model import Report


@dataclass(frozen=True)
class Outputs:
    """Where each format goes; None: not written."""

    html: Path | None = None
    hgrm: Path | None = None
    """A directory: one NAME.hgrm per histogram."""
    junit: Path | None = None

    def paths(self) -> list[tuple[str, Path]]:
        """(format, path) of the files (html, junit) to check before a run; the hgrm directory is created."""
        return [(name, path) for name, path in (("html", self.html), ("junit", self.junit)) if path is not None]


def config_outputs(output: OutputConfig, base_dir: Path) -> Outputs:
    """[output] html, hgrm and junit, relative to the configuration's directory."""

    def where(value: str | None) -> Path | None:
        return base_dir / Path(value).expanduser() if value else None

    return Outputs(html=where(output.html), hgrm=where(output.hgrm), junit=where(output.junit))


def write_outputs(report: Report, outputs: Outputs) -> list[str]:
    """Write each requested format of `report`; returns one line per file written ("html: PATH").

    Raises:
        OSError: A file could not be written.
    """
    lines = []
    if outputs.html is not None:
        from moetui.report.html import write_html_report

        lines.append(f"html: {write_html_report(report, outputs.html)}")
    if outputs.hgrm is not None:
        from moetui.report.hgrm import write_hgrm

        for path in write_hgrm(report, outputs.hgrm):
            lines.append(f"hgrm: {path}")
    if outputs.junit is not None:
        from moetui.report.junit import write_junit

        lines.append(f"junit: {write_junit(report, outputs.junit)}")
    return lines
