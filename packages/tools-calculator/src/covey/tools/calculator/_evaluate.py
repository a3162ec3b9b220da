"""Arithmetic from a parsed syntax tree: an allow-list of nodes, and limits checked before work.

The expression is parsed with `ast.parse(mode="eval")` and walked by `Evaluator`; nothing is ever
compiled or run by Python. Only these nodes are accepted: int and float literals, the operators
`+ - * / // % **`, unary `+`/`-`, the names in `CONSTANTS` and calls of the names in `FUNCTIONS`
with positional arguments. Everything else (other names, attributes, subscripts, strings,
lambdas, comprehensions, keyword arguments...) is refused by name.

Work is bounded before it is done: the text's length, the tree's size and depth, the number of
bits a power or a factorial would produce (estimated from logarithms first), and every
intermediate integer's size and float's finiteness after each step.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["CONSTANTS", "FUNCTIONS", "CalculationError", "Evaluator", "Limits"]

Number = int | float

CONSTANTS: dict[str, float] = {"pi": math.pi, "e": math.e, "tau": math.tau}


@dataclass(frozen=True, slots=True)
class _Function:
    call: Callable[..., Any]
    """Its result is checked like every other value (`Evaluator._checked`)."""
    min_args: int
    max_args: int


def _round(x: Number, ndigits: Number | None = None) -> Number:
    if ndigits is None:
        return round(x)
    if isinstance(ndigits, float) and not ndigits.is_integer():
        raise CalculationError("round(x, n): n must be a whole number.")
    if abs(ndigits) > 1000:  # round(x, -n) of an int computes 10**n
        raise CalculationError("round(x, n): n must be between -1000 and 1000.")
    return round(x, int(ndigits))


FUNCTIONS: dict[str, _Function] = {
    "abs": _Function(abs, 1, 1),
    "round": _Function(_round, 1, 2),
    "min": _Function(lambda *a: min(a), 1, 100),
    "max": _Function(lambda *a: max(a), 1, 100),
    "sqrt": _Function(math.sqrt, 1, 1),
    "cbrt": _Function(math.cbrt, 1, 1),
    "exp": _Function(math.exp, 1, 1),
    "log": _Function(math.log, 1, 2),
    "log10": _Function(math.log10, 1, 1),
    "log2": _Function(math.log2, 1, 1),
    "sin": _Function(math.sin, 1, 1),
    "cos": _Function(math.cos, 1, 1),
    "tan": _Function(math.tan, 1, 1),
    "asin": _Function(math.asin, 1, 1),
    "acos": _Function(math.acos, 1, 1),
    "atan": _Function(math.atan, 1, 1),
    "atan2": _Function(math.atan2, 2, 2),
    "sinh": _Function(math.sinh, 1, 1),
    "cosh": _Function(math.cosh, 1, 1),
    "tanh": _Function(math.tanh, 1, 1),
    "hypot": _Function(math.hypot, 1, 100),
    "degrees": _Function(math.degrees, 1, 1),
    "radians": _Function(math.radians, 1, 1),
    "floor": _Function(math.floor, 1, 1),
    "ceil": _Function(math.ceil, 1, 1),
    "trunc": _Function(math.trunc, 1, 1),
    "factorial": _Function(math.factorial, 1, 1),
    "comb": _Function(math.comb, 2, 2),
    "perm": _Function(math.perm, 2, 2),
    "gcd": _Function(math.gcd, 1, 100),
    "lcm": _Function(math.lcm, 1, 100),
}

_BINARY: dict[type[ast.operator], tuple[str, Callable[[Number, Number], Number]]] = {
    ast.Add: ("+", lambda a, b: a + b),
    ast.Sub: ("-", lambda a, b: a - b),
    ast.Mult: ("*", lambda a, b: a * b),
    ast.Div: ("/", lambda a, b: a / b),
    ast.FloorDiv: ("//", lambda a, b: a // b),
    ast.Mod: ("%", lambda a, b: a % b),
}
_INTEGER_ONLY = {"factorial", "comb", "perm", "gcd", "lcm"}
_LOG2_10 = math.log2(10)


class CalculationError(Exception):
    """The expression cannot be evaluated; the message says why, for the model to correct it."""


@dataclass(frozen=True, slots=True)
class Limits:
    """How big an expression and its numbers may get."""

    max_length: int = 1000
    """Characters of expression text."""
    max_nodes: int = 300
    """Nodes of the syntax tree."""
    max_depth: int = 40
    """Nesting of the syntax tree (parentheses, unary signs, calls)."""
    max_int_digits: int = 1000
    """Decimal digits of any integer, intermediate ones included."""

    @property
    def max_bits(self) -> int:
        return math.ceil(self.max_int_digits * _LOG2_10)


class Evaluator:
    """Evaluates expressions under `limits`. Stateless apart from its limits: safe to share."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits

    def evaluate(self, expression: str) -> Number:
        """The value of `expression`.

        Raises:
            CalculationError: the text does not parse, uses something not allowed, exceeds a
                limit, divides by zero, leaves a function's domain or overflows.
        """
        limits = self.limits
        if len(expression) > limits.max_length:
            raise CalculationError(
                f"The expression is {len(expression)} characters long; the limit is "
                f"{limits.max_length}."
            )
        if not expression.strip():
            raise CalculationError("The expression is empty.")
        try:
            tree = ast.parse(expression.strip(), mode="eval")
        except SyntaxError as e:
            raise CalculationError(f"The expression does not parse: {e.msg}.") from None
        except (ValueError, MemoryError, RecursionError) as e:
            raise CalculationError(f"The expression does not parse: {e}.") from None
        nodes = sum(1 for _ in ast.walk(tree))
        if nodes > limits.max_nodes:
            raise CalculationError(
                f"The expression has {nodes} parts; the limit is {limits.max_nodes}."
            )
        return self._eval(tree.body, 1)

    def _eval(self, node: ast.expr, depth: int) -> Number:
        if depth > self.limits.max_depth:
            raise CalculationError(
                f"The expression is nested more than {self.limits.max_depth} levels deep."
            )
        if isinstance(node, ast.Constant):
            value = node.value
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise CalculationError(
                    f"Only numbers are allowed, not {type(value).__name__} literals "
                    f"({ast.unparse(node)[:40]})."
                )
            return self._checked(value)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.UAdd | ast.USub):
            operand = self._eval(node.operand, depth + 1)
            return self._checked(-operand if isinstance(node.op, ast.USub) else +operand)
        if isinstance(node, ast.BinOp):
            left = self._eval(node.left, depth + 1)
            right = self._eval(node.right, depth + 1)
            if isinstance(node.op, ast.Pow):
                return self._power(left, right)
            found = _BINARY.get(type(node.op))
            if found is None:
                raise CalculationError(
                    f"The operator {_op_text(node.op)} is not supported; use + - * / // % **."
                )
            symbol, apply = found
            try:
                return self._checked(apply(left, right))
            except ZeroDivisionError:
                raise CalculationError(f"Division by zero (in {symbol}).") from None
            except OverflowError:
                raise CalculationError(f"The result of {symbol} is too large.") from None
        if isinstance(node, ast.Name):
            if node.id in CONSTANTS:
                return CONSTANTS[node.id]
            raise CalculationError(
                f"Unknown name {node.id[:40]!r}. Constants: {', '.join(CONSTANTS)}; functions: "
                f"{', '.join(FUNCTIONS)}."
            )
        if isinstance(node, ast.Call):
            return self._call(node, depth)
        raise CalculationError(
            f"{_describe(node)} is not allowed; use numbers, + - * / // % **, parentheses, the "
            f"constants {', '.join(CONSTANTS)} and the functions {', '.join(FUNCTIONS)}."
        )

    def _call(self, node: ast.Call, depth: int) -> Number:
        if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
            what = node.func.id[:40] if isinstance(node.func, ast.Name) else _describe(node.func)
            raise CalculationError(
                f"Calling {what!r} is not allowed; the functions are {', '.join(FUNCTIONS)}."
            )
        name = node.func.id
        function = FUNCTIONS[name]
        if node.keywords or any(isinstance(a, ast.Starred) for a in node.args):
            raise CalculationError(f"{name}() takes plain positional arguments only.")
        if not function.min_args <= len(node.args) <= function.max_args:
            expected = (
                str(function.min_args)
                if function.min_args == function.max_args
                else f"{function.min_args} to {function.max_args}"
            )
            raise CalculationError(f"{name}() takes {expected} arguments, got {len(node.args)}.")
        args = [self._eval(a, depth + 1) for a in node.args]
        if name in _INTEGER_ONLY:
            args = [_whole(name, a) for a in args]
            self._check_combinatorics(name, args)
        try:
            result = function.call(*args)
        except ZeroDivisionError:
            raise CalculationError(f"Division by zero in {name}().") from None
        except OverflowError:
            raise CalculationError(f"The result of {name}() is too large.") from None
        except (ValueError, TypeError) as e:
            raise CalculationError(f"{name}() cannot take these arguments ({e}).") from None
        return self._checked(result)

    def _check_combinatorics(self, name: str, args: list[int]) -> None:
        """Refuse a factorial, comb or perm whose result would exceed the integer limit."""
        try:
            bits = _combinatorics_bits(name, args)
        except OverflowError:
            bits = math.inf
        if bits > self.limits.max_bits:
            raise CalculationError(
                f"{name}() of these arguments has more than {self.limits.max_int_digits} digits."
            )

    def _power(self, base: Number, exponent: Number) -> Number:
        """`base ** exponent`, refused before it is computed if the result would be too big."""
        if isinstance(base, int) and isinstance(exponent, int) and exponent > 0:
            magnitude = abs(base)
            too_big = exponent > self.limits.max_bits  # |base| ≥ 2 gives ≥ 1 bit per unit
            if magnitude > 1 and (
                too_big or exponent * math.log2(magnitude) > self.limits.max_bits
            ):
                raise CalculationError(
                    f"The power has more than {self.limits.max_int_digits} digits."
                )
        try:
            result = base**exponent
        except ZeroDivisionError:
            raise CalculationError("Zero cannot be raised to a negative power.") from None
        except OverflowError:
            raise CalculationError("The power is too large.") from None
        return self._checked(result)

    def _checked(self, value: object) -> Number:
        if isinstance(value, bool) or not isinstance(value, int | float):
            if isinstance(value, complex):
                raise CalculationError(
                    "The result is not a real number (a fractional power of a negative number)."
                )
            raise CalculationError(f"The result is a {type(value).__name__}, not a number.")
        if isinstance(value, int):
            if value.bit_length() > self.limits.max_bits:
                raise CalculationError(
                    f"An integer in the calculation has more than {self.limits.max_int_digits} "
                    "digits."
                )
        elif math.isinf(value):
            raise CalculationError("The result is too large for a floating-point number.")
        elif math.isnan(value):
            raise CalculationError("The result is not a number (NaN).")
        return value


def _combinatorics_bits(name: str, args: list[int]) -> float:
    """About how many bits factorial, comb or perm of `args` has (0 for other functions)."""
    if name == "factorial":
        (n,) = args
        if n < 0:
            raise CalculationError("factorial() is defined for n ≥ 0 only.")
        return math.lgamma(n + 1) / math.log(2)
    if name in ("comb", "perm"):
        n, k = args
        if n < 0 or k < 0:
            raise CalculationError(f"{name}() takes n ≥ 0 and k ≥ 0.")
        if k > n:
            return 0.0
        k = min(k, n - k) if name == "comb" else k
        bits = (math.lgamma(n + 1) - math.lgamma(n - k + 1)) / math.log(2)
        if name == "comb":
            bits -= math.lgamma(k + 1) / math.log(2)
        return bits
    return 0.0


def _whole(name: str, value: Number) -> int:
    if isinstance(value, float):
        if not value.is_integer():
            raise CalculationError(f"{name}() takes whole numbers, got {value!r}.")
        return int(value)
    return value


_OPERATOR_TEXT: dict[type[ast.operator], str] = {
    ast.LShift: "<<",
    ast.RShift: ">>",
    ast.BitOr: "|",
    ast.BitAnd: "&",
    ast.BitXor: "^",
    ast.MatMult: "@",
}


def _op_text(op: ast.operator) -> str:
    return _OPERATOR_TEXT.get(type(op), type(op).__name__)


def _describe(node: ast.AST) -> str:
    kinds: dict[type[ast.AST], str] = {
        ast.Attribute: "Attribute access (a.b)",
        ast.Subscript: "Indexing (a[b])",
        ast.Lambda: "A lambda",
        ast.Compare: "A comparison",
        ast.BoolOp: "and/or",
        ast.IfExp: "A conditional expression",
        ast.JoinedStr: "An f-string",
        ast.List: "A list",
        ast.Tuple: "A tuple",
        ast.Dict: "A dict",
        ast.Set: "A set",
        ast.ListComp: "A comprehension",
        ast.SetComp: "A comprehension",
        ast.DictComp: "A comprehension",
        ast.GeneratorExp: "A generator expression",
        ast.NamedExpr: "An assignment (:=)",
        ast.Await: "await",
        ast.Yield: "yield",
        ast.YieldFrom: "yield",
        ast.Starred: "Unpacking (*a)",
    }
    if isinstance(node, ast.UnaryOp):
        return "The operators not and ~"
    return kinds.get(type(node), type(node).__name__)
