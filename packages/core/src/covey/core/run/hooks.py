"""Calling run hooks: pre-run hooks (input guardrails), post-run hooks and output validators."""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any, cast, get_args

import anyio

from covey.core.run.plan import Hook
from covey.spec import RunContext, UserContent

__all__ = ["call_hook", "checked_input"]

_CONTENT: tuple[type, ...] = get_args(get_args(UserContent)[0])


async def call_hook(hook: Hook, ctx: RunContext[Any], value: Any) -> Any:
    """Call `hook(ctx, value)`, a sync one in a worker thread (an object whose `__call__` is
    async, a guardrail's, is awaited on the loop)."""
    if inspect.iscoroutinefunction(hook) or inspect.iscoroutinefunction(type(hook).__call__):
        return await hook(ctx, value)
    result = await anyio.to_thread.run_sync(hook, ctx, value)
    if inspect.isawaitable(result):
        return await result
    return result


def checked_input(value: object, hook: Hook) -> str | Sequence[UserContent]:
    """What a pre-run hook returned as the run's new input, if it is one."""
    kind = type(value).__name__
    if isinstance(value, str):
        return value
    if isinstance(value, list | tuple):
        items: Sequence[object] = cast("Sequence[object]", value)
        if all(isinstance(c, _CONTENT) for c in items):
            return cast("list[UserContent]", list(items))
    raise TypeError(
        f"pre-run hook {getattr(hook, '__name__', type(hook).__name__)!r} returned "
        f"{kind}: return the input (a string or a list of user content) or None"
    )
