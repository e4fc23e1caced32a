"""A run whose every answer is 401 says "give the key" as it goes and at its end (issue 26 item 10): it used to
run its whole duration saying nothing of it."""

from __future__ import annotations

from dataclasses import replace

from moetui.report.progress import progress_line
from moetui.report.statuses import KEY_REFUSED_AFTER, key_refused
from tests.fixtures import canned


def test_the_progress_line_says_give_the_key_once_every_answer_is_401() -> None:
    snapshot = canned.open_snapshot()
    refused = replace(snapshot, ok=0, statuses={401: KEY_REFUSED_AFTER})
    assert "every answer is 401" in progress_line(refused) and "give it with" in progress_line(refused)
    assert "401" not in progress_line(replace(snapshot, ok=0, statuses={401: KEY_REFUSED_AFTER - 1}))  # a few
    assert "every answer" not in progress_line(replace(snapshot, ok=1, statuses={401: 50, 200: 1}))


def test_one_other_answer_among_the_401s_is_not_a_missing_key() -> None:
    assert key_refused(0, {"401": 50}) is not None  # a report's by_status has string codes
    assert key_refused(0, {"401": 50, "429": 1}) is None
