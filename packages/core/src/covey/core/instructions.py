"""Builds the system prompt of a run from an agent's instructions."""

from __future__ import annotations

import inspect
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import anyio.to_thread

from covey.spec import RunContext, UserContent

__all__ = [
    "Instruction",
    "Instructions",
    "fill_placeholders",
    "input_text",
    "render_instructions",
]

Instruction = str | Callable[[RunContext[Any]], Awaitable[str | None] | str | None]
Instructions = Instruction | Sequence[Instruction] | None

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)\}")
_MISSING = object()


def _lookup(source: Any, dotted: str) -> Any:
    value: Any = source
    for key in dotted.split("."):
        if isinstance(value, Mapping):
            mapping: Mapping[str, Any] = value  # pyright: ignore[reportUnknownVariableType]
            value = mapping.get(key, _MISSING)
        else:
            value = getattr(value, key, _MISSING)
        if value is _MISSING:
            return _MISSING
    return value


def fill_placeholders(text: str, ctx: RunContext[Any]) -> str:
    """Replace `{name}` (or `{a.b}`) with values from the session state, then from deps.

    Unknown names are left as they are, so braces in prose or JSON examples survive.
    """
    if "{" not in text:
        return text

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        for source in (ctx.state, ctx.deps):
            if source is None:
                continue
            value = _lookup(source, name)
            if value is not _MISSING:
                return str(value)
        return match.group(0)

    return _PLACEHOLDER.sub(replace, text)


async def _render_one(item: Instruction, ctx: RunContext[Any]) -> str | None:
    if isinstance(item, str):
        return item
    if inspect.iscoroutinefunction(item):
        return await item(ctx)
    result = await anyio.to_thread.run_sync(item, ctx)
    if inspect.isawaitable(result):
        return await result
    return result


async def render_instructions(
    instructions: Instructions,
    ctx: RunContext[Any],
    *,
    description: str | None = None,
    expected_output: str | None = None,
    additional_context: str | None = None,
    add_datetime: bool = False,
    markdown: bool = False,
    output_instructions: str | None = None,
    now: datetime | None = None,
) -> str:
    """The system prompt: description, instructions, hints and output instructions, in order."""
    sections: list[str] = []
    if description:
        sections.append(description)
    items: Sequence[Instruction]
    if instructions is None:
        items = ()
    elif isinstance(instructions, str) or callable(instructions):
        items = (instructions,)
    else:
        items = instructions
    for item in items:
        text = await _render_one(item, ctx)
        if text:
            sections.append(text)
    if expected_output:
        sections.append(f"Expected output:\n{expected_output}")
    if additional_context:
        sections.append(additional_context)
    if add_datetime:
        moment = now or datetime.now(UTC)
        sections.append(f"The current date and time is {moment.isoformat(timespec='seconds')}.")
    if markdown:
        sections.append("Format your answers with Markdown where it helps the reader.")
    if output_instructions:
        sections.append(output_instructions)
    return fill_placeholders("\n\n".join(sections), ctx)


def input_text(content: str | Sequence[UserContent] | None) -> str:
    """The text of a run's input (its text parts joined), for searches and learners' recall."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content.strip()
    from covey.spec import TextContent

    return "\n".join(c.text for c in content if isinstance(c, TextContent)).strip()
