"""A report is input: markup in any of its fields is shown as text on the HTML page, never run. Every string
of real reports (the canned runs' and a merge of them), every key of their objects and every number (a crafted
report may put a string where a number belongs) is replaced by markup; the page is parsed, and opened in
headless chromium, and neither shows an element or a script of the payload's."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from moetui.report.html import render_html
from moetui.report.merge import merge_reports
from tests.fixtures import canned
from tests.report.conftest import chromium, open_in_browser

pytestmark = pytest.mark.skipif(
    chromium() is None, reason="chromium is not installed (apt-get install chromium; .ci/run installs it)"
)

#: Markup that runs a script if it lands in the page as HTML: an element with a handler, a script that closes
#: the page's own <script> element, an attribute break-out. Each marks the document when it runs.
_MARK = "document.documentElement.setAttribute('data-pwned','1')"
PAYLOADS = (
    f'<img src=x onerror="{_MARK}">',
    f"</script><script>{_MARK}</script>",
    f'"><svg onload="{_MARK}">',
    f"'><img src=x onerror={_MARK}>",
)
#: All of them in one string, for the field-by-field pass.
EVERY_PAYLOAD = "".join(PAYLOADS)


def _reports() -> dict[str, dict[str, Any]]:
    runs = {
        "burst": canned.burst_finished(),
        "open": canned.open_finished(),
        "steps": canned.steps_finished(),
        "stream": canned.stream_finished(),
        "stream_burst": canned.stream_burst_finished(),
    }
    reports = {name: finished.report for name, (_config, finished) in runs.items()}
    reports["merged"] = merge_reports([reports["open"], reports["stream"]], ["a.json", "b.json"], mixed=True)
    return reports


def _leaves(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    """(path, value) of every string and number in a JSON value; of a list, its first and last items only."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, (*path, key))
    elif isinstance(value, list):
        for index in sorted({0, len(value) - 1}) if value else ():
            yield from _leaves(value[index], (*path, index))
    elif isinstance(value, str | int | float) and not isinstance(value, bool):
        yield path, value


def _put(report: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    changed = copy.deepcopy(report)
    holder: Any = changed
    for step in path[:-1]:
        holder = holder[step]
    holder[path[-1]] = value
    return changed


def _every_string_hostile(value: Any, counter: list[int]) -> Any:
    """`value` with every string replaced by a payload and a payload key added to every object."""
    if isinstance(value, dict):
        counter[0] += 1
        hostile = {key: _every_string_hostile(item, counter) for key, item in value.items()}
        hostile[PAYLOADS[counter[0] % len(PAYLOADS)]] = PAYLOADS[(counter[0] + 1) % len(PAYLOADS)]
        return hostile
    if isinstance(value, list):
        return [_every_string_hostile(item, counter) for item in value]
    if isinstance(value, str) and not _is_histogram(value):
        counter[0] += 1
        return PAYLOADS[counter[0] % len(PAYLOADS)]
    return value


def _is_histogram(value: str) -> bool:
    return value.startswith("HISTF")  # HdrHistogram's compressed base64 form, decoded, never drawn as text


class _Elements(HTMLParser):
    """The page's elements as a parser (a browser's first pass) sees them."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.handlers: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.handlers += [(tag, name) for name, _ in attrs if name.startswith("on")]


def _injected(page: str) -> list[str]:
    """What of a payload became markup: img elements, scripts beyond the page's own three, handlers."""
    parsed = _Elements()
    parsed.feed(page)
    found = [tag for tag in parsed.tags if tag == "img"]
    if parsed.tags.count("script") != 3:  # the data, uPlot and the page's script
        found.append(f"{parsed.tags.count('script')} scripts")
    return found + [f"{tag} {name}" for tag, name in parsed.handlers]


def test_the_check_sees_a_payload_that_became_markup() -> None:
    """The parse check can fail: the same page with one payload put in raw shows it."""
    page = render_html(_reports()["burst"])
    for payload in PAYLOADS:
        assert _injected(page.replace("<h2>Summary</h2>", payload, 1)), payload
    assert _injected(page) == []


@pytest.mark.parametrize("name", list(_reports()))
def test_markup_in_any_one_field_stays_text(name: str) -> None:
    """Each string, and each number in turn (a crafted report's string where a number belongs, as
    steps.percentile was drawn unescaped), replaced by each payload: the page holds none of it as markup."""
    report = _reports()[name]
    rendered = 0
    for path, value in _leaves(report):
        if isinstance(value, str) and _is_histogram(value):
            continue  # decoded, never drawn as text (read_report refuses what does not decode)
        try:
            page = render_html(_put(report, path, EVERY_PAYLOAD))
        except (TypeError, ValueError, KeyError, AttributeError):
            continue  # a string where a number belongs that the page cannot draw: read_report refuses it
        rendered += 1
        assert _injected(page) == [], path
    assert rendered > 50, rendered


def _dom(page_html: str, tmp_path: Path) -> str:
    page = tmp_path / "page.html"
    page.write_text(page_html, encoding="utf-8")
    opened = open_in_browser(page, tmp_path / "profile", "--dump-dom")
    assert opened.returncode == 0, opened.stderr[-2000:]
    return opened.stdout


def test_chromium_sees_a_payload_that_ran(tmp_path: Path) -> None:
    """The browser check can fail: a page with the payloads put in raw is marked by them."""
    page = render_html(_reports()["burst"]).replace("<h2>Summary</h2>", "".join(PAYLOADS), 1)
    dom = _dom(page, tmp_path)
    assert 'data-pwned="1"' in dom


@pytest.mark.parametrize("name", ["steps", "stream_burst", "merged"])
def test_markup_in_every_field_runs_nothing_in_chromium(name: str, tmp_path: Path) -> None:
    """Every string and key of a report made markup, and steps.percentile a string of markup: the page opens
    with its charts, no payload ran and no element of one is in the DOM."""
    report = _every_string_hostile(_reports()[name], [0])
    if report.get("steps"):
        report["steps"]["percentile"] = PAYLOADS[0]
    page = render_html(report)
    dom = _dom(page, tmp_path)
    assert 'data-pwned="1"' not in dom
    assert 'data-charts="' in dom, "the page's script did not finish"
    assert _injected(dom) == []
    assert PAYLOADS[0].replace("<", "&lt;").replace(">", "&gt;") in dom  # shown as text
