"""A model response's way to the run's output: output tool calls, text, validators, and the
retries (or fallback) when the output is invalid."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from covey.core.output import validation_errors
from covey.core.run.state import MISSING
from covey.core.run.tool_step import call_tools
from covey.spec import (
    ErrorInfo,
    ModelRequest,
    ModelResponse,
    RetryPart,
    ToolCallPart,
    ToolReturnPart,
)
from covey.spec import events as ev
from covey.spec.errors import GuardrailTripped, ModelRetry, OutputValidationError

if TYPE_CHECKING:
    from covey.core.run.engine import RunEngine

__all__ = ["OUTPUT_RETRIES", "handle_response"]

OUTPUT_RETRIES = "__output__"
"""The key under which `ctx.retries` counts output retries."""
_NOT_RUN = "Not run: the final result was already given."


async def handle_response(e: RunEngine, response: ModelResponse) -> AsyncIterator[ev.BaseEvent]:
    """Take the final output from `response`, or run its tool calls, or ask for a retry."""
    e.stream.reset()
    state = e.state
    calls = response.tool_calls()
    output_calls = [c for c in calls if c.tool_name in e.output_tool_names]
    function_calls = [c for c in calls if c.tool_name not in e.output_tool_names]

    if output_calls:
        async for event in _output_calls(e, output_calls):
            yield event
        if state.final is not MISSING:
            for call in function_calls:
                state.pending_parts.append(
                    ToolReturnPart(
                        tool_name=call.tool_name, content=_NOT_RUN, tool_call_id=call.tool_call_id
                    )
                )
            state.messages.append(ModelRequest(parts=[*state.take_parts()], run_id=e.ctx.run_id))
            return
    if function_calls:
        async for event in call_tools(e, function_calls):
            yield event
        return
    if output_calls:
        return
    async for event in _text(e, response):
        yield event


async def _output_calls(e: RunEngine, calls: list[ToolCallPart]) -> AsyncIterator[ev.BaseEvent]:
    assert e.output is not None
    first, others = calls[0], calls[1:]
    try:
        value = e.output.validate_args(first.args)
        value = await _validate(e, value)
    except (ValidationError, ValueError, ModelRetry) as exc:
        async for event in _retry(e, exc, first):
            yield event
    else:
        e.state.final = value
        e.state.pending_parts.append(
            ToolReturnPart(
                tool_name=first.tool_name,
                content="Final result processed.",
                tool_call_id=first.tool_call_id,
            )
        )
    for call in others:
        e.state.pending_parts.append(
            ToolReturnPart(
                tool_name=call.tool_name,
                content="Not used: only the first final result counts.",
                tool_call_id=call.tool_call_id,
            )
        )


async def _text(e: RunEngine, response: ModelResponse) -> AsyncIterator[ev.BaseEvent]:
    text = response.text()
    if e.output is None:
        if not text.strip():
            async for event in _retry(
                e, ValueError("The response was empty: answer the user."), None
            ):
                yield event
            return
        try:
            e.state.final = await _validate(e, text)
        except ModelRetry as exc:
            async for event in _retry(e, exc, None):
                yield event
        return
    if e.output_mode == "tool":
        message = ValueError(
            "Plain text is not accepted: return the result by calling the "
            f"{next(iter(e.output_tool_names))!r} tool."
        )
        async for event in _retry(e, message, None):
            yield event
        return
    try:
        e.state.final = await _validate(e, e.output.validate_text(text))
    except (ValidationError, ValueError, ModelRetry) as exc:
        async for event in _retry(e, exc, None):
            yield event


async def _validate(e: RunEngine, value: Any) -> Any:
    for validator in e.plan.output_validators:
        try:
            value = await e.call_hook(validator, value)
        except GuardrailTripped as exc:
            if exc.stage is None:
                exc.stage = "output"
            raise
    return value


async def _retry(
    e: RunEngine, exc: BaseException, call: ToolCallPart | None
) -> AsyncIterator[ev.BaseEvent]:
    used = e.ctx.retries.get(OUTPUT_RETRIES, 0) + 1
    e.ctx.retries[OUTPUT_RETRIES] = used
    if isinstance(exc, ModelRetry):
        errors: list[dict[str, Any]] = []
        content: str | list[dict[str, Any]] = exc.message
    elif isinstance(exc, ValidationError):
        errors = validation_errors(exc)
        content = errors
    else:
        errors = validation_errors(exc) if isinstance(exc, Exception) else []
        content = str(exc)
    part = RetryPart(
        content=content,
        tool_name=call.tool_name if call else None,
        tool_call_id=call.tool_call_id if call else None,
    )
    e.state.pending_parts.append(part)
    if used > e.plan.output_retries:
        invalid = OutputValidationError(
            f"The model's output stayed invalid after {e.plan.output_retries} "
            f"retries: {part.message()}",
            errors=errors,
        )
        previous = e.chain.current.model_name
        following = e.chain.next_after(invalid)  # raises once every model has failed
        if following is None:
            raise invalid from exc
        e.ctx.retries[OUTPUT_RETRIES] = 0
        yield e.emit(
            ev.ModelFallback,
            from_model=previous,
            to_model=following.model_name,
            error=ErrorInfo(type="OutputValidationError", message=str(exc)),
        )
        return
    yield e.emit(ev.OutputRetry, retry=used, errors=errors, message=part.message())
