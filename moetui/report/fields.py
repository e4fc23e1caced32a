"""Declarative field kinds for checking JSON read from a file: a schema is a tree of these (Obj of fields,
List and Map of a kind, Opt for null), and `problems(value, kind)` walks the value along it and says, for each
field that does not fit, its dotted path and what was expected. Fields a schema leaves out are not checked
(and not read); an object's other keys are allowed, so newer writers stay readable. No moetui imports: the
report's codec (moetui.report.codec) holds the report's schema.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

#: Problems listed in one error at most; the rest are counted.
MAX_PROBLEMS = 5


class Kind:
    """A kind of value; `expected` is how an error names it."""

    expected = "a value"

    def problems(self, value: Any, where: str) -> Iterator[str]:
        """(path: what is wrong) for each problem of `value` at `where`."""
        if not self.fits(value):
            yield f"{where or 'the file'}: expected {self.expected}, got {shown(value)}"
            return
        yield from self.inner(value, where)

    def fits(self, value: Any) -> bool:
        return True

    def inner(self, value: Any, where: str) -> Iterator[str]:
        return iter(())


class Num(Kind):
    """A finite number (NaN and Infinity, which Python's json reads, are refused)."""

    expected = "a finite number"

    def fits(self, value: Any) -> bool:
        return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


class Count(Kind):
    """A whole number, 0 or more."""

    expected = "a whole number >= 0"

    def fits(self, value: Any) -> bool:
        return isinstance(value, int) and not isinstance(value, bool) and value >= 0


class Int(Kind):
    expected = "a whole number"

    def fits(self, value: Any) -> bool:
        return isinstance(value, int) and not isinstance(value, bool)


class Str(Kind):
    expected = "a string"

    def fits(self, value: Any) -> bool:
        return isinstance(value, str)


class Bool(Kind):
    expected = "true or false"

    def fits(self, value: Any) -> bool:
        return isinstance(value, bool)


@dataclass(frozen=True)
class Equal(Kind):
    value: Any

    @property
    def expected(self) -> str:  # type: ignore[override]
        return shown(self.value)

    def fits(self, value: Any) -> bool:
        return bool(value == self.value)


class Timestamp(Str):
    expected = "an ISO 8601 time (2026-11-30T12:00:00+00:00)"

    def fits(self, value: Any) -> bool:
        try:
            datetime.fromisoformat(value)
        except (TypeError, ValueError):
            return False
        return True


@dataclass(frozen=True)
class Checked(Kind):
    """A value of `base` that `check` accepts; `check` returns None, or what is wrong with it."""

    base: Kind
    check: Callable[[Any], str | None]

    @property
    def expected(self) -> str:  # type: ignore[override]
        return self.base.expected

    def problems(self, value: Any, where: str) -> Iterator[str]:
        inner = list(self.base.problems(value, where))  # the base's own items too (a List's, an Obj's)
        if inner:
            yield from inner
            return
        problem = self.check(value)
        if problem is not None:
            yield f"{where}: {problem}"


@dataclass(frozen=True)
class Opt(Kind):
    """`kind`, or null."""

    kind: Kind

    def problems(self, value: Any, where: str) -> Iterator[str]:
        if value is not None:
            yield from self.kind.problems(value, where)


@dataclass(frozen=True)
class Obj(Kind):
    """An object whose `fields`, when present, are of their kinds; `required` ones must be present."""

    fields: Mapping[str, Kind]
    required: tuple[str, ...] = ()
    expected = "an object"

    def fits(self, value: Any) -> bool:
        return isinstance(value, dict)

    def inner(self, value: Any, where: str) -> Iterator[str]:
        for name in self.required:
            if name not in value:
                yield f"{_join(where, name)}: missing"
        for name, kind in self.fields.items():
            if name in value:
                yield from kind.problems(value[name], _join(where, name))


@dataclass(frozen=True)
class Map(Kind):
    """An object of any keys (or only `keys`), each value of one kind."""

    values: Kind = field(default_factory=Kind)
    keys: tuple[str, ...] | None = None
    expected = "an object"

    def fits(self, value: Any) -> bool:
        return isinstance(value, dict)

    def inner(self, value: Any, where: str) -> Iterator[str]:
        for key, item in value.items():
            if self.keys is not None and key not in self.keys:
                yield f"{_join(where, shown(key))}: not one of {', '.join(self.keys)}"
                continue
            yield from self.values.problems(item, _join(where, key))


@dataclass(frozen=True)
class List(Kind):
    items: Kind = field(default_factory=Kind)
    expected = "a list"

    def fits(self, value: Any) -> bool:
        return isinstance(value, list)

    def inner(self, value: Any, where: str) -> Iterator[str]:
        for index, item in enumerate(value):
            yield from self.items.problems(item, f"{where}[{index}]")


def problems(value: Any, kind: Kind) -> list[str]:
    """What does not fit `kind` in `value`: at most MAX_PROBLEMS lines, and how many more there were."""
    found: list[str] = []
    more = 0
    for problem in kind.problems(value, ""):
        if len(found) < MAX_PROBLEMS:
            found.append(problem)
        else:
            more += 1
    return found + ([f"... and {more} more"] if more else [])


def depth(value: Any) -> int:
    """How deeply lists and objects nest in `value` (a scalar: 0), without recursion."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, level = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        deepest = max(deepest, level)
        stack.extend((child, level + 1) for child in children)
    return deepest


def shown(value: Any, limit: int = 40) -> str:
    """A value as an error message quotes it: JSON-like, cut to `limit` characters."""
    if value is None:
        text = "null"
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, dict):
        text = "an object"
    elif isinstance(value, list):
        text = "a list"
    else:
        text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _join(where: str, name: str) -> str:
    return f"{where}.{name}" if where else name
