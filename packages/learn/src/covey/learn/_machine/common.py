"""Small pieces the learning stores share: the scope of a tool call, error results, budgets."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from covey.spec.context import RunContext
from covey.spec.store import Scope
from covey.spec.tools import ToolResult

__all__ = [
    "NO_USER",
    "READ_ONLY",
    "SECRET",
    "error",
    "invalid",
    "tool_scope",
    "within_chars",
]

NO_USER = (
    "This is kept per user, and this run has no user: nothing was read or saved. Go on without it."
)
SECRET = (
    "Not saved: the text looks like a secret (a key, a password or a card number). "
    "Never store credentials; tell the user to keep them elsewhere."
)
READ_ONLY = {"read_only": True}
"""`Tool(metadata=READ_ONLY)`: a tool that only reads, so propose mode never asks a person
about it. Every other tool of a propose-mode store waits for approval."""


def tool_scope(ctx: RunContext[Any]) -> Scope | None:
    """The run's tenant and user, or `None` for a run without a user (never tenant-wide)."""
    if ctx.user_id is None:
        return None
    return Scope(ctx.tenant_id or "default", ctx.user_id)


def error(message: str) -> ToolResult:
    """An error result the model reads and can act on."""
    return ToolResult(content=message, is_error=True)


def invalid(exc: ValidationError) -> ToolResult:
    """The first validation problem, as an error result."""
    first = exc.errors(include_url=False, include_input=False)[0]
    field = ".".join(str(x) for x in first["loc"]) or "argument"
    return error(f"Invalid {field}: {first['msg']}. Fix it and call again.")


def within_chars(text: str, budget_tokens: int) -> str:
    """`text` cut to about `budget_tokens` tokens (four characters a token), marked when cut."""
    limit = max(budget_tokens, 0) * 4
    if len(text) <= limit:
        return text
    if limit < 20:
        return ""
    return text[: limit - 6].rstrip() + " [...]"
