"""Attack tests: code execution, resource exhaustion and parser tricks, as a hostile model would
write them. Every one must come back as an error result, quickly, with nothing run."""

from __future__ import annotations

import builtins
from pathlib import Path

import pytest

from covey.spec.context import RunContext
from covey.tools.calculator import CalculatorToolset

CTX = RunContext(run_id="attack")

CODE_EXECUTION = [
    "__import__('os').system('touch /tmp/covey-calculator-pwned')",
    "__import__('os')",
    "().__class__",
    "().__class__.__bases__[0].__subclasses__()",
    "(1).__class__.__mro__",
    "[c for c in ().__class__.__base__.__subclasses__()]",
    "eval('1+1')",
    "exec('import os')",
    "open('/etc/passwd').read()",
    "globals()",
    "__builtins__",
    "(lambda: 1)()",
    "sqrt.__globals__",
    "sqrt.__self__",
    "pi.real",
    "(x := 5)",
    "f'{1+1}'",
    "b'abc'",
    "{'a': 1}['a']",
    "sqrt(*[4])",
    "sqrt(**{'x': 4})",
    "await sqrt(4)",
    "(yield)",
    "import os",
    "1; import os",
    "sqrt(4)\nimport os",
]


@pytest.mark.parametrize("expression", CODE_EXECUTION)
async def test_code_execution_attempts_are_refused(expression: str) -> None:
    result = await CalculatorToolset().call_tool("calculate", {"expression": expression}, CTX)
    assert result.is_error, result.content
    assert "value" not in result.metadata


RESOURCE_EXHAUSTION = [
    ("9**9**9", "digits"),
    ("9**9**9**9", "digits"),
    ("2**10**100", "digits"),
    ("(-2)**10**7", "digits"),
    ("10**1000 * 10**1000", "digits"),
    ("(10**999)**2", "digits"),
    ("factorial(10**6)", "digits"),
    ("factorial(10**400)", "digits"),
    ("comb(10**7, 5 * 10**6)", "digits"),
    ("perm(10**6, 10**5)", "digits"),
    ("lcm(10**999 + 1, 10**999 + 3)", "digits"),
    ("round(1, -10**9)", "between"),
    ("1e308 * 10", "too large"),
    ("1e309", "too large"),
    ("exp(10**6)", "too large"),
    ("2.0 ** 10000", "too large"),
    ("10**400 / 3", "too large"),
    ("sqrt(10**999)", "too large"),
    ("1e308 - 1e308 * 10", "too large"),
    ("1" * 1001, "1000"),
    ("+".join(["1"] * 200), "parts"),
    ("-" * 60 + "1", "nested"),
    ("sqrt(" * 45 + "1" + ")" * 45, "nested"),
    ("(" * 300 + "1" + ")" * 300, "parse"),
]


@pytest.mark.parametrize(("expression", "says"), RESOURCE_EXHAUSTION)
async def test_resource_exhaustion_is_refused_before_the_work(expression: str, says: str) -> None:
    result = await CalculatorToolset().call_tool("calculate", {"expression": expression}, CTX)
    assert result.is_error, str(result.content)[:200]
    assert says in result.content


@pytest.mark.parametrize(
    "expression",
    [
        "١٢٣ + 1",  # Arabic-Indic digits
        "１＋１",  # full-width digits and plus
        "²",  # superscript two
        "1 ＋ 1",
        "\u202e1+1",  # right-to-left override
        "1\x00+1",
    ],
)
async def test_unicode_digits_and_control_characters_do_not_parse(expression: str) -> None:
    result = await CalculatorToolset().call_tool("calculate", {"expression": expression}, CTX)
    assert result.is_error


async def test_full_width_letters_are_only_ever_the_allowed_names() -> None:
    """Python folds identifiers with NFKC: `ｓｑｒｔ` is `sqrt`, `ｏｓ` is `os` (refused)."""
    toolset = CalculatorToolset()
    folded = await toolset.call_tool("calculate", {"expression": "ｓｑｒｔ(4)"}, CTX)
    assert folded.metadata["value"] == 2.0
    other = await toolset.call_tool("calculate", {"expression": "ｏｓ"}, CTX)
    assert other.is_error and "Unknown name 'os'" in other.content


async def test_a_tighter_digit_limit_holds() -> None:
    toolset = CalculatorToolset(max_int_digits=20)
    assert (await toolset.call_tool("calculate", {"expression": "2**64"}, CTX)).metadata[
        "value"
    ] == 2**64
    refused = await toolset.call_tool("calculate", {"expression": "2**70"}, CTX)
    assert refused.is_error and "20 digits" in refused.content
    grown = await toolset.call_tool("calculate", {"expression": "10**19 * 10**19"}, CTX)
    assert grown.is_error


async def test_nothing_is_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The evaluator never calls `eval` or `exec`, and a payload has no effect."""

    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("eval/exec was called")

    toolset = CalculatorToolset()
    await toolset.list_tools(CTX)  # the schema is built first (type hints are `eval`ed there)
    monkeypatch.setattr(builtins, "eval", forbidden)
    monkeypatch.setattr(builtins, "exec", forbidden)
    marker = tmp_path / "pwned"
    payload = f"__import__('pathlib').Path({str(marker)!r}).touch()"
    assert (await toolset.call_tool("calculate", {"expression": payload}, CTX)).is_error
    assert not marker.exists()
    assert (await toolset.call_tool("calculate", {"expression": "2 + 2"}, CTX)).content == "4"
