"""The `Guardrail` base: texts found in any value, put back where they came from, and named trips."""

from __future__ import annotations

from typing import Any

import pytest

from covey.guardrails import Guardrail
from covey.spec import RunContext
from covey.spec.errors import GuardrailTripped


def ctx() -> RunContext[Any]:
    return RunContext(run_id="r", deps=None)


class Upper(Guardrail):
    name = "upper"

    def __init__(self) -> None:
        self.seen: list[list[str]] = []

    async def inspect(self, ctx: RunContext[Any], texts: list[str]) -> list[str]:
        self.seen.append(texts)
        return [t.upper() for t in texts]


class Unnamed(Guardrail):
    name = "mine"

    async def inspect(self, ctx: RunContext[Any], texts: list[str]) -> list[str]:
        raise GuardrailTripped("no")


class Short(Guardrail):
    async def inspect(self, ctx: RunContext[Any], texts: list[str]) -> list[str]:
        return texts[:-1]


async def test_strings_in_dicts_lists_and_tuples_are_inspected_in_one_call_and_put_back() -> None:
    guard = Upper()
    value = {"a": ["x", ("y", 1)], "b": None, "c": 2.5}
    assert await guard(ctx(), value) == {"A": ["X", ("Y", 1)], "B": None, "C": 2.5}
    assert guard.seen == [["a", "x", "y", "b", "c"]]


async def test_a_value_without_text_is_returned_as_is_without_a_call() -> None:
    guard = Upper()
    value = [1, 2, None]
    assert await guard(ctx(), value) is value
    assert guard.seen == []


async def test_an_unnamed_trip_takes_the_guardrails_name() -> None:
    with pytest.raises(GuardrailTripped) as raised:
        await Unnamed()(ctx(), "x")
    assert raised.value.guardrail == "mine"
    assert str(raised.value) == "Guardrail 'mine' tripped: no"


async def test_a_guardrail_that_loses_texts_trips_instead_of_guessing() -> None:
    with pytest.raises(GuardrailTripped, match="wrong number"):
        await Short()(ctx(), ["a", "b"])
