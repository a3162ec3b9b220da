"""What `calculate` computes, and the error results a model gets for its mistakes."""

from __future__ import annotations

import math
from typing import Any

import pytest

from covey.spec.context import RunContext
from covey.spec.errors import ConfigurationError
from covey.spec.tools import ToolResult
from covey.tools.calculator import CalculatorToolset

CTX = RunContext(run_id="calc")


async def calculate(expression: str, **options: Any) -> ToolResult:
    return await CalculatorToolset(**options).call_tool(
        "calculate", {"expression": expression}, CTX
    )


@pytest.mark.parametrize(
    ("expression", "value"),
    [
        ("1 + 2 * 3", 7),
        ("(1 + 2) * 3", 9),
        ("7 / 2", 3.5),
        ("7 // 2", 3),
        ("-7 // 2", -4),
        ("7 % 3", 1),
        ("2 ** 10", 1024),
        ("2 ** -1", 0.5),
        ("-3 ** 2", -9),
        ("+-+3", -3),
        ("1_000_000 * 3", 3_000_000),
        ("0x10 + 0b11", 19),
        ("1e3 + .5", 1000.5),
        ("sqrt(16)", 4.0),
        ("log(8, 2)", 3.0),
        ("log10(1000)", 3.0),
        ("exp(0)", 1.0),
        ("sin(pi / 2)", 1.0),
        ("degrees(pi)", 180.0),
        ("atan2(1, 1) * 4", math.pi),
        ("round(2.675, 2)", 2.67),
        ("round(7.5)", 8),
        ("min(3, 1, 2) + max(3, 1, 2)", 4),
        ("hypot(3, 4)", 5.0),
        ("floor(-2.5) + ceil(2.5) + trunc(-2.5)", -2),
        ("factorial(20)", 2432902008176640000),
        ("comb(52, 5)", 2598960),
        ("perm(5, 2)", 20),
        ("gcd(12, 18) + lcm(4, 6)", 18),
        ("abs(-2) + tau / tau + e / e", 4.0),
        ("2 ** 64", 18446744073709551616),
        ("factorial(5.0)", 120),
    ],
)
async def test_values(expression: str, value: float) -> None:
    result = await calculate(expression)
    assert not result.is_error, result.content
    assert result.metadata["value"] == pytest.approx(value)
    assert type(result.metadata["value"]) is type(value)
    assert result.content == repr(result.metadata["value"])


async def test_big_integers_stay_exact_up_to_the_limit() -> None:
    result = await calculate("2 ** 3000 + 1")
    assert result.metadata["value"] == 2**3000 + 1
    assert result.content == str(2**3000 + 1)


@pytest.mark.parametrize(
    ("expression", "says"),
    [
        ("1 / 0", "Division by zero"),
        ("5 // 0", "Division by zero"),
        ("5 % 0.0", "Division by zero"),
        ("0 ** -1", "Zero cannot be raised"),
        ("sqrt(-1)", "math domain error"),
        ("log(0)", "math domain error"),
        ("(-8) ** (1 / 3)", "not a real number"),
        ("factorial(2.5)", "whole numbers"),
        ("factorial(-1)", "n ≥ 0"),
        ("round(1.5, 0.5)", "whole number"),
        ("sqrt(1, 2)", "takes 1 arguments, got 2"),
        ("min()", "takes 1 to 100 arguments, got 0"),
        ("log(x=1)", "positional"),
        ("1 +", "does not parse"),
        ("", "empty"),
        ("   ", "empty"),
        ("x + 1", "Unknown name 'x'"),
        ("1 < 2", "comparison is not allowed"),
        ("1 if 1 else 2", "conditional expression is not allowed"),
        ("1 << 3", "<<"),
        ("~1", "not and ~"),
        ("not 1", "not and ~"),
        ("1j", "complex"),
        ("True + 1", "bool"),
    ],
)
async def test_mistakes_are_error_results(expression: str, says: str) -> None:
    result = await calculate(expression)
    assert result.is_error
    assert says in result.content


def test_options_are_checked() -> None:
    with pytest.raises(ConfigurationError, match="max_int_digits"):
        CalculatorToolset(max_int_digits=5000)
    with pytest.raises(ConfigurationError, match="max_length"):
        CalculatorToolset(max_length=0)
    with pytest.raises(ConfigurationError, match="id"):
        CalculatorToolset(id="two words")
    assert repr(CalculatorToolset()) == "CalculatorToolset(id='calculator')"
