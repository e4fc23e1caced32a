"""The report's banner: the run's verdict word (moetui.report.verdict, as the HTML report says it), its exit
status and meaning (moetui.errors.ExitStatus), the burst verdict or the sweep's knee, coloured by the
verdict's tone from the theme."""

from __future__ import annotations

from textual.widgets import Static

from moetui.errors import ExitStatus
from moetui.redact import shown_url
from moetui.report.model import Report
from moetui.report.verdict import burst_words, verdict_of

#: The banner's class of each verdict tone.
_CLASSES = {"good": "-ok", "warn": "-warn", "bad": "-bad"}


def verdict_lines(report: Report) -> tuple[str, str]:
    """(headline, details): 'PASSED · exit 0 · all thresholds passed · burst concurrent', and the run's what
    and when."""
    status = int(report.get("exit_status", 0))
    try:
        meaning = ExitStatus(status).meaning
    except ValueError:
        meaning = "unknown exit status"
    parts = [verdict_of(report).word, f"exit {status}", meaning]
    burst = report.get("burst")
    if burst:
        parts.append(burst_words(burst))
    steps = report.get("steps")
    if steps:
        parts.append(f"knee {steps['knee']:g}" if steps.get("knee") is not None else "no knee")
    if report.get("interrupted") and status != ExitStatus.INTERRUPTED:
        parts.append("interrupted: partial result")
    target = report.get("target")
    details = [f"{report.get('mode', '')} run", f"{report.get('measured_s', report.get('wall_s', 0)):.1f} s"]
    if target and target.get("url"):
        details.append(shown_url(str(target["url"])))
    if report.get("started_at"):
        details.append(str(report["started_at"]).replace("T", " ")[:16])
    return " · ".join(parts), " · ".join(details)


def verdict_class(report: Report) -> str:
    """-ok (passed), -warn (interrupted, invalid or never judged), -bad (failed): the verdict's tone."""
    return _CLASSES[verdict_of(report).tone]


class VerdictBanner(Static):
    DEFAULT_CSS = """
    VerdictBanner { height: auto; padding: 0 1; text-wrap: nowrap; text-overflow: ellipsis; }
    VerdictBanner.-ok { background: $success-muted; border-left: outer $success; }
    VerdictBanner.-warn { background: $warning-muted; border-left: outer $warning; }
    VerdictBanner.-bad { background: $error-muted; border-left: outer $error; }
    """

    def __init__(self, report: Report, *, id: str | None = None) -> None:
        headline, details = verdict_lines(report)
        super().__init__(f"[b]{headline}[/b]\n[dim]{details}[/dim]", id=id, classes=verdict_class(report), markup=True)
