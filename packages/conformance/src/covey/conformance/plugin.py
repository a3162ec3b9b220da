"""The pytest plugin of `covey-conformance` (entry point `pytest11: covey_conformance`).

At collection, every class in a test module that subclasses a conformance suite is checked:
each `test_*` of the suite must still be there, un-overridden, unless the override carries
`@pytest.mark.xfail(reason="...")`. A class that breaks the rule fails the collection of its
module with an error naming the class, the test and the rule, so pytest exits non-zero.

The plugin imports nothing from the suites, so it costs nothing in projects that do not use them.
"""

from __future__ import annotations

from typing import Any

import pytest

from covey.conformance.rules import suite_violations

__all__ = ["pytest_pycollect_makeitem"]


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makeitem(collector: pytest.Collector, name: str, obj: Any) -> None:
    """Refuse to collect a module holding a suite subclass that deletes or overrides a test."""
    if not isinstance(obj, type):
        return None
    problems = suite_violations(obj)
    if problems:
        lines = "\n".join(f"  - {p}" for p in problems)
        raise collector.CollectError(
            f"covey-conformance: class {obj.__module__}.{obj.__qualname__} breaks the "
            f"conformance rule (every suite test must run; skip one only by overriding it with "
            f'@pytest.mark.xfail(reason="...")):\n{lines}'
        )
    return None
