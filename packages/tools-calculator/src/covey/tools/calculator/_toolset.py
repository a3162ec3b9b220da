"""`CalculatorToolset`: one `calculate` tool over the safe evaluator."""

from __future__ import annotations

import re
from typing import Any

from covey.spec.context import RunContext
from covey.spec.errors import ConfigurationError
from covey.spec.function_toolset import FunctionToolset
from covey.spec.tools import ToolDefinition, ToolResult, Toolset
from covey.tools.calculator._evaluate import CalculationError, Evaluator, Limits

__all__ = ["CalculatorToolset"]

_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
# Python refuses to turn longer integers into text (sys.int_info.default_max_str_digits).
_MAX_INT_DIGITS = 4300


class CalculatorToolset(Toolset):
    """A `calculate` tool: arithmetic and math functions, evaluated without `eval`.

    The expression is parsed into a syntax tree and walked over an allow-list: numbers,
    `+ - * / // % **`, unary signs, parentheses, the constants `pi`, `e`, `tau` and a fixed set
    of functions (`sqrt`, `log`, `sin`, `round`, `min`, `factorial`...). Anything else (names,
    attributes, strings, subscripts, lambdas...) is an error result telling the model what is
    allowed. Sizes are bounded before the work is done: the text, the tree's size and depth, and
    the digits of every integer (a power like `9**9**9` is refused from its logarithm, not
    computed). Errors (division by zero, a math domain error, an overflow) come back as error
    results (`ToolResult(is_error=True)`).

    Args:
        max_length: The most characters an expression may have.
        max_nodes: The most nodes its syntax tree may have.
        max_depth: How deeply it may nest.
        max_int_digits: The most decimal digits of any integer in the calculation (at most
            4300, Python's own limit for turning integers into text).
        id: The toolset's name, the prefix its tool gets when names clash.

    Raises:
        ConfigurationError: an option is out of range.

    Example:
        ```python
        toolset = CalculatorToolset()  # or Agent(tools=["calculator"])
        ```
    """

    def __init__(
        self,
        *,
        max_length: int = 1000,
        max_nodes: int = 300,
        max_depth: int = 40,
        max_int_digits: int = 1000,
        id: str = "calculator",
    ) -> None:
        for name, value, top in (
            ("max_length", max_length, 100_000),
            ("max_nodes", max_nodes, 10_000),
            ("max_depth", max_depth, 200),
            ("max_int_digits", max_int_digits, _MAX_INT_DIGITS),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= top:  # pyright: ignore[reportUnnecessaryIsInstance]
                raise ConfigurationError(
                    f"CalculatorToolset: {name} must be an int from 1 to {top}, got {value!r}."
                )
        if not _ID.fullmatch(id):
            raise ConfigurationError(
                f"CalculatorToolset: id {id!r} must be 1-64 letters, digits, '_' or '-'."
            )
        self.id = id
        self.limits = Limits(
            max_length=max_length,
            max_nodes=max_nodes,
            max_depth=max_depth,
            max_int_digits=max_int_digits,
        )
        self._evaluator = Evaluator(self.limits)
        self._tools = FunctionToolset([self.calculate], id=id)

    def __repr__(self) -> str:
        return f"CalculatorToolset(id={self.id!r})"

    async def list_tools(self, ctx: RunContext[Any]) -> list[ToolDefinition]:
        """The one tool, `calculate`."""
        return await self._tools.list_tools(ctx)

    async def call_tool(self, name: str, args: dict[str, Any], ctx: RunContext[Any]) -> ToolResult:
        """Evaluate an expression; mistakes in it are error results the model can correct."""
        return await self._tools.call_tool(name, args, ctx)

    async def calculate(self, expression: str) -> ToolResult:
        """Evaluate an arithmetic expression exactly as written and return its value. Integers
        are exact (any size up to the digit limit); `/` gives a float, `//` floor division,
        `**` a power. Functions: abs, round, min, max, sqrt, cbrt, exp, log (log(x, base)),
        log10, log2, sin, cos, tan, asin, acos, atan, atan2, sinh, cosh, tanh, hypot, degrees,
        radians, floor, ceil, trunc, factorial, comb, perm, gcd, lcm (angles in radians).
        Constants: pi, e, tau.

        Args:
            expression: The expression to evaluate, built from the numbers of the task at
                hand, in Python syntax (`*`, `/`, `**`, parentheses).
        """
        # Bounded work (microseconds to a few milliseconds): evaluated on the event loop.
        try:
            value = self._evaluator.evaluate(expression)
        except CalculationError as e:
            return ToolResult(content=str(e), is_error=True)
        return ToolResult(content=repr(value), metadata={"value": value})
