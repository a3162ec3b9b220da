"""The rule that keeps conformance suites whole: no test may be deleted or quietly replaced.

A class that subclasses a suite inherits every `test_*` of it. It may override one only with a
function marked `@pytest.mark.xfail(reason="...")` (a non-empty reason), so that a known gap
stays visible in every test report. `covey.conformance.plugin` applies the rule at collection.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = ["SUITE_MARKER", "is_suite", "suite_violations"]

SUITE_MARKER = "__covey_conformance_suite__"
"""A suite class sets this attribute to True in its own body; subclasses inherit, not define, it."""


def is_suite(cls: type) -> bool:
    """Whether `cls` is itself a conformance suite (not a subclass of one)."""
    return cls.__dict__.get(SUITE_MARKER) is True


def _marks(value: Any) -> Iterable[Any]:
    function = getattr(value, "__func__", value)
    marks = getattr(function, "pytestmark", [])
    return marks if isinstance(marks, list) else [marks]  # pyright: ignore[reportUnknownVariableType]


def _has_xfail_reason(value: Any) -> bool:
    for mark in _marks(value):
        if getattr(mark, "name", None) != "xfail":
            continue
        reason = getattr(mark, "kwargs", {}).get("reason")
        if isinstance(reason, str) and reason.strip():
            return True
    return False


def _suite_tests(suite: type) -> dict[str, Any]:
    """The tests of `suite`: its own and those of the mixins it is assembled from.

    A large suite (`StoreSuite`) keeps its tests in one mixin class per domain; they are the
    suite's tests all the same, so a subclass may no more delete them than the suite's own.
    """
    tests: dict[str, Any] = {}
    for klass in reversed(suite.__mro__):
        for name, value in klass.__dict__.items():
            if name.startswith("test") and callable(value):
                tests[name] = value
    return tests


def _defining_class(cls: type, name: str) -> type | None:
    for klass in cls.__mro__:
        if name in klass.__dict__:
            return klass
    return None


def suite_violations(cls: type) -> list[str]:
    """How `cls` breaks the rule: one line per deleted or overridden suite test.

    Empty for classes that are not suite subclasses, and for suites themselves.
    """
    if not isinstance(cls, type) or is_suite(cls):  # pyright: ignore[reportUnnecessaryIsInstance]
        return []
    suites = [klass for klass in cls.__mro__ if is_suite(klass)]
    problems: list[str] = []
    for suite in suites:
        for name, original in _suite_tests(suite).items():
            definer = _defining_class(cls, name)
            if definer is None or is_suite(definer) or definer in suite.__mro__:
                continue
            value = definer.__dict__[name]
            where = f"{definer.__module__}.{definer.__qualname__}.{name}"
            if value is original:
                continue
            if not callable(getattr(value, "__func__", value)):
                problems.append(
                    f"{where} deletes {suite.__name__}.{name} (it is set to {value!r}). "
                    "Conformance tests cannot be removed."
                )
            elif not _has_xfail_reason(value):
                problems.append(
                    f"{where} overrides {suite.__name__}.{name} without "
                    '@pytest.mark.xfail(reason="..."). Remove the override, or mark it xfail '
                    "with the reason your implementation cannot pass the test."
                )
    return problems
