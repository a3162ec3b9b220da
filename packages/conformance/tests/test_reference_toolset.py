"""A `FunctionToolset` passes `ToolsetSuite`."""

from __future__ import annotations

from typing import Any, Literal

import pytest

from covey.conformance import ToolsetSuite
from covey.spec.context import RunContext
from covey.spec.function_toolset import FunctionToolset
from covey.spec.tools import Toolset


def add(a: int, b: int) -> int:
    """Add two numbers.

    Args:
        a: The first number.
        b: The second number.
    """
    return a + b


async def greet(ctx: RunContext[Any], name: str, tone: Literal["warm", "dry"] = "warm") -> str:
    """Greet someone.

    Args:
        name: Who to greet.
        tone: How.
    """
    return f"{'Hello' if tone == 'warm' else 'Hi'}, {name} (run {ctx.run_id})"


def lookup(city: str) -> dict[str, Any]:
    """The weather in a known city."""
    known = {"Paris": {"temp_c": 18, "sky": "clear"}}
    if city not in known:
        return {"error": f"unknown city {city}"}
    return known[city]


class TestFunctionToolset(ToolsetSuite):
    @pytest.fixture
    def toolset(self) -> Toolset:
        return FunctionToolset([add, greet, lookup])

    @pytest.fixture
    def toolset_calls(self) -> dict[str, dict[str, Any]]:
        return {"lookup": {"city": "Paris"}}
