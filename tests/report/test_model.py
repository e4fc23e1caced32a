"""The typed Report (moetui.report.model) describes exactly what a run's report holds: every golden
report (one per mode) has each key its TypedDict requires, no key the type does not name, and values of
the kinds it names, block by block."""

from __future__ import annotations

import json
import types
from pathlib import Path
from typing import Any, Union, get_args, get_origin, get_type_hints, is_typeddict

import pytest

from moetui.report.codec import REPORT
from moetui.report.fields import Checked, Kind, List, Map, Num, Obj, Opt
from moetui.report.model import Report

GOLDEN = Path(__file__).resolve().parent / "golden"


def _mismatches(value: Any, kind: Any, where: str) -> list[str]:
    """Where `value` does not fit the annotation `kind` (TypedDicts checked key by key, both ways)."""
    origin = get_origin(kind)
    if kind is Any:
        return []
    if origin in (Union, types.UnionType):
        options = [_mismatches(value, option, where) for option in get_args(kind)]
        return [] if any(not found for found in options) else min(options, key=len)
    if kind is type(None):
        return [] if value is None else [f"{where}: {value!r} is not null"]
    if is_typeddict(kind):
        if not isinstance(value, dict):
            return [f"{where}: not an object"]
        hints = get_type_hints(kind)
        found = [f"{where}.{key}: missing" for key in kind.__required_keys__ if key not in value]
        found += [f"{where}.{key}: not in {kind.__name__}" for key in value if key not in hints]
        for key, item in value.items():
            if key in hints:
                found += _mismatches(item, hints[key], f"{where}.{key}")
        return found
    if origin is list:
        if not isinstance(value, list):
            return [f"{where}: not a list"]
        (item_kind,) = get_args(kind)
        return [problem for i, item in enumerate(value) for problem in _mismatches(item, item_kind, f"{where}[{i}]")]
    if origin is dict:
        if not isinstance(value, dict):
            return [f"{where}: not an object"]
        _, item_kind = get_args(kind)
        return [problem for key, item in value.items() for problem in _mismatches(item, item_kind, f"{where}.{key}")]
    if kind is float:  # JSON writes 2.0 as 2.0 but a whole limit as an int: an int is a float to mypy too
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    else:
        ok = isinstance(value, kind) and (kind is bool or not isinstance(value, bool))
    return [] if ok else [f"{where}: {value!r} is not {kind.__name__}"]


@pytest.mark.parametrize("path", sorted(GOLDEN.glob("*.json")), ids=lambda p: p.stem)
def test_every_golden_report_fits_the_typed_report(path: Path) -> None:
    report = json.loads(path.read_text())
    assert _mismatches(report, Report, "report") == []


def test_the_check_finds_a_missing_block_an_extra_key_and_a_wrong_kind() -> None:
    report = json.loads((GOLDEN / "burst.json").read_text())
    del report["windows"]
    report["requests"]["surprise"] = 1
    report["burst"]["expected"] = "three"
    assert sorted(_mismatches(report, Report, "report")) == [
        "report.burst.expected: 'three' is not int",
        "report.requests.surprise: not in Requests",
        "report.windows: missing",
    ]


def test_merged_and_ramp_only_keys_are_not_required() -> None:
    assert Report.__optional_keys__ == {
        "notes",
        "merged_from",
        "merged_modes",
        "merged_as",
        "node",
        "nodes",
        "start_spread_s",
        "start_spread_bound_s",
        "matrix",
        "stages",  # a ramped run's only
        "serving",  # only when answers named their deployment
    }


def _unnamed(kind: Kind, annotation: Any, where: str) -> list[str]:
    """Fields the reader's schema (moetui.report.codec.REPORT) checks that the typed Report does not name."""
    while isinstance(kind, Opt | Checked):
        kind = kind.kind if isinstance(kind, Opt) else kind.base
    options = (
        [a for a in get_args(annotation) if a is not type(None)]
        if get_origin(annotation)
        in (
            Union,
            types.UnionType,
        )
        else [annotation]
    )
    if len(options) == 1:
        annotation = options[0]
    if isinstance(kind, Obj) and is_typeddict(annotation):
        hints = get_type_hints(annotation)
        found = [f"{where}.{name}" for name in kind.fields if name not in hints]
        for name, inner in kind.fields.items():
            if name in hints:
                found += _unnamed(inner, hints[name], f"{where}.{name}")
        return found
    if isinstance(kind, List) and get_origin(annotation) is list:
        return _unnamed(kind.items, get_args(annotation)[0], f"{where}[]")
    if isinstance(kind, Map) and get_origin(annotation) is dict:
        return _unnamed(kind.values, get_args(annotation)[1], f"{where}.*")
    if isinstance(kind, Obj | List | Map) and annotation is not Any and get_origin(annotation) is not dict:
        return [f"{where}: {type(kind).__name__} in the schema, {annotation} in the model"]
    return []


def test_every_field_the_reader_checks_is_named_by_the_typed_report() -> None:
    """The codec's schema and the model describe one report: a field read from a file is a field of the type."""
    assert _unnamed(REPORT, Report, "report") == []
    bogus = Obj({"streaming": Opt(Obj({"evidence": Obj({"bogus": Num()})})), "nodes": List(Obj({"surprise": Num()}))})
    assert _unnamed(bogus, Report, "report") == ["report.streaming.evidence.bogus", "report.nodes[].surprise"]
