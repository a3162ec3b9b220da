"""`Guardrail`: one object that works as a pre-run hook, a post-run hook or an output validator.

The run loop calls a hook as `hook(ctx, value)`: a pre-run hook gets the input (a string or a
list of user content), a post-run hook the `RunResult`, an output validator the output. A
guardrail reads the texts inside whatever it is given, and either returns the value with its
texts changed (masked) or raises `GuardrailTripped`; the run loop fills in the stage (input or
output) from where the guardrail sits, so one guardrail serves both.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, cast

from pydantic import BaseModel, ValidationError

from covey.spec import (
    AudioContent,
    DocumentContent,
    ImageContent,
    RunContext,
    RunResult,
    TextContent,
    ToolCallPart,
    ToolResult,
    VideoContent,
)
from covey.spec.errors import GuardrailTripped
from covey.spec.stream_checks import StreamCheckPolicy

__all__ = ["CallNext", "Guardrail", "ToolResultHook", "stream_option"]

CallNext = Callable[[dict[str, Any]], Awaitable[ToolResult]]
ToolResultHook = Callable[[RunContext[Any], ToolCallPart, CallNext], Awaitable[ToolResult]]
"""The shape of covey-core's tool middleware (`Agent(hooks=[...])`)."""

_MEDIA = (ImageContent, AudioContent, VideoContent, DocumentContent)
"""User content a guardrail leaves alone (its URL or base64 data is not text to check)."""


class Guardrail(ABC):
    """A check of the texts going into or coming out of a run.

    Subclasses implement `inspect(ctx, texts)`: return the texts (changed or not) or raise
    `GuardrailTripped` with a reason that names what was found, never the text itself.
    """

    name: str = "guardrail"
    stream_policy: StreamCheckPolicy | None = None
    """How this guardrail, as a post-run hook, checks a streamed answer before it is sent
    (`covey.spec.stream_checks`); `None` (the default): it reads the finished output only, and a
    streamed answer's deltas go out unchecked."""

    @abstractmethod
    async def inspect(self, ctx: RunContext[Any], texts: list[str]) -> list[str]:
        """Check `texts`; return them, possibly masked, in the same order and number."""

    async def __call__(self, ctx: RunContext[Any], value: Any) -> Any:
        """The hook: the value with its texts inspected (a `RunResult`'s output for a post-run
        hook), or `GuardrailTripped` (named after this guardrail when it was raised unnamed)."""
        try:
            return await self._hook(ctx, value)
        except GuardrailTripped as exc:
            if exc.guardrail is not None:
                raise
            raise GuardrailTripped(exc.reason, guardrail=self.name, stage=exc.stage) from None

    async def check_text(self, ctx: RunContext[Any], text: str) -> str:
        """One text checked (part of a streamed answer): returned, masked or not, or
        `GuardrailTripped` named after this guardrail."""
        try:
            checked = await self.inspect(ctx, [text])
        except GuardrailTripped as exc:
            if exc.guardrail is not None:
                raise
            raise GuardrailTripped(exc.reason, guardrail=self.name, stage=exc.stage) from None
        if len(checked) != 1:
            raise GuardrailTripped(
                "the guardrail returned the wrong number of texts", guardrail=self.name
            )
        return checked[0]

    def on_tool_results(self) -> ToolResultHook:
        """This guardrail on every tool result, as tool middleware: `Agent(hooks=[...])`.

        A web page or a document a tool returns is where indirect prompt injection hides. The
        result is masked, or, when the guardrail trips, withheld: the model gets an error result
        naming the guardrail and its reason instead of the content, and the run goes on.
        """

        async def hook(ctx: RunContext[Any], call: ToolCallPart, call_next: CallNext) -> ToolResult:
            result = await call_next(call.args_as_dict())
            try:
                content = await self(ctx, result.content)
            except GuardrailTripped as exc:
                return ToolResult(
                    content=(
                        f"The result of {call.tool_name} was withheld by guardrail "
                        f"{exc.guardrail!r}: {exc.reason}"
                    ),
                    is_error=True,
                    metadata={**result.metadata, "guardrail": exc.guardrail},
                )
            if content is result.content:
                return result
            return result.model_copy(update={"content": content})

        hook.__name__ = f"{self.name}_on_tool_results"
        return hook

    async def _hook(self, ctx: RunContext[Any], value: Any) -> Any:
        if isinstance(value, RunResult):
            result = cast("RunResult[Any]", value)
            output = await self._apply(ctx, result.output)
            return (
                result if output is result.output else result.model_copy(update={"output": output})
            )
        return await self._apply(ctx, value)

    async def _apply(self, ctx: RunContext[Any], value: Any) -> Any:
        texts: list[str] = []
        _walk(value, texts.append)
        if not texts:
            return value
        checked = await self.inspect(ctx, texts)
        if len(checked) != len(texts):
            raise GuardrailTripped(
                "the guardrail returned the wrong number of texts", guardrail=self.name
            )
        if checked == texts:
            return value
        replacements = iter(checked)
        changed = _rebuild(value, lambda _: next(replacements))
        if isinstance(value, BaseModel) and not isinstance(value, (TextContent, *_MEDIA)):
            try:
                return type(value).model_validate(changed)
            except ValidationError:
                # The masked text no longer fits the output type (an `EmailStr` field): refuse
                # rather than let the unmasked value through.
                raise GuardrailTripped(
                    "the output could not be masked into its type", guardrail=self.name
                ) from None
        return changed


def _walk(value: Any, found: Callable[[str], object]) -> None:
    """Every string inside `value`, depth first, in a stable order."""
    if isinstance(value, str):
        found(value)
    elif isinstance(value, _MEDIA):
        return
    elif isinstance(value, TextContent):
        found(value.text)
    elif isinstance(value, BaseModel):
        _walk(value.model_dump(mode="json"), found)
    elif isinstance(value, dict):
        for key, item in cast("dict[Any, Any]", value).items():
            _walk(key, found)
            _walk(item, found)
    elif isinstance(value, list | tuple):
        for item in cast("Sequence[Any]", value):
            _walk(item, found)


def _rebuild(value: Any, replace: Callable[[str], str]) -> Any:
    """`value` with each string `_walk` found replaced, in the same order (a model as its dict:
    the caller validates it back)."""
    if isinstance(value, str):
        return replace(value)
    if isinstance(value, _MEDIA):
        return value
    if isinstance(value, TextContent):
        return value.model_copy(update={"text": replace(value.text)})
    if isinstance(value, BaseModel):
        return _rebuild(value.model_dump(mode="json"), replace)
    if isinstance(value, dict):
        rebuilt: dict[Any, Any] = {}
        for key, item in cast("dict[Any, Any]", value).items():
            new_key = _rebuild(key, replace)
            rebuilt[new_key] = _rebuild(item, replace)
        return rebuilt
    if isinstance(value, list | tuple):
        items = [_rebuild(item, replace) for item in cast("Sequence[Any]", value)]
        return items if isinstance(value, list) else tuple(items)
    return value


def stream_option(
    stream: bool | StreamCheckPolicy, default: StreamCheckPolicy
) -> StreamCheckPolicy | None:
    """A guardrail's `stream=` option: `True` its default policy, `False` none, or a policy."""
    if isinstance(stream, StreamCheckPolicy):
        return stream
    return default if stream else None
