"""`FunctionModel`: a function decides each response."""

from __future__ import annotations

import functools
import inspect
import uuid
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Iterator,
    Mapping,
)
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias, cast

import anyio.to_thread

from covey.core.testing._replay import complete, estimate_usage, replay_events
from covey.spec.errors import ConfigurationError, UnexpectedModelBehavior
from covey.spec.messages import (
    ModelRequest,
    ModelResponse,
)
from covey.spec.models import (
    ChatModel,
    FinalResponseEvent,
    ModelMessages,
    ModelProfile,
    ModelRequestParams,
    ModelSettings,
    ModelStreamEvent,
    OutputMode,
    OutputSchema,
    ToolChoice,
)
from covey.spec.streaming import ResponseAssembler
from covey.spec.tools import ToolDefinition


@dataclass(frozen=True, slots=True)
class AgentInfo:
    """What a `FunctionModel` function learns about the request besides the messages.

    Attributes:
        function_tools: The tools the model may call.
        output_tools: The tools whose call is the run's output (`tool` output mode).
        output_mode: How structured output is obtained.
        output_schema: The output's JSON schema (`native` and `prompted` modes).
        allow_text_output: Whether a plain-text answer ends the run.
        model_settings: The request's settings.
        tool_choice: `auto`, `none`, `required`, or a tool name.
    """

    function_tools: list[ToolDefinition]
    output_tools: list[ToolDefinition]
    output_mode: OutputMode
    output_schema: OutputSchema | None
    allow_text_output: bool
    model_settings: ModelSettings | None
    tool_choice: ToolChoice

    @classmethod
    def from_request(cls, params: ModelRequestParams, settings: ModelSettings | None) -> AgentInfo:
        """The info for a request with these parameters and settings."""
        return cls(
            function_tools=list(params.function_tools),
            output_tools=list(params.output_tools),
            output_mode=params.output_mode,
            output_schema=params.output_schema,
            allow_text_output=params.allow_text_output,
            model_settings=settings,
            tool_choice=params.tool_choice,
        )


@dataclass(frozen=True, slots=True)
class DeltaToolCall:
    """A fragment of a streamed tool call: its name and id (usually first), then argument JSON.

    Yield `{index: DeltaToolCall(...)}` to stream several calls at once; a bare `DeltaToolCall`
    belongs to index 0.
    """

    name: str | None = None
    json_args: str | None = None
    tool_call_id: str | None = None


@dataclass(frozen=True, slots=True)
class DeltaThinking:
    """A fragment of streamed reasoning (and optionally its signature)."""

    content: str | None = None
    signature: str | None = None


StreamItem: TypeAlias = (
    str | DeltaToolCall | DeltaThinking | Mapping[int, DeltaToolCall | DeltaThinking]
)
"""What a stream function yields: text deltas, or tool-call / thinking fragments by index."""

FunctionDef: TypeAlias = Callable[
    [list[ModelRequest | ModelResponse], AgentInfo], ModelResponse | Awaitable[ModelResponse]
]
"""`function(messages, info)`: sync or async, returns the whole response."""

StreamFunctionDef: TypeAlias = Callable[
    [list[ModelRequest | ModelResponse], AgentInfo],
    AsyncIterator[StreamItem] | Iterator[StreamItem],
]
"""`stream_function(messages, info)`: an async or sync generator of `StreamItem`s."""

_DONE = object()


class FunctionModel(ChatModel):
    """A model whose responses a function decides, for tests that script the conversation.

    Args:
        function: `function(messages, info) -> ModelResponse`, sync or async. A sync function
            runs in a worker thread so it never blocks the event loop.
        stream_function: `stream_function(messages, info)`, an async or sync generator yielding
            `str` text deltas, `DeltaToolCall` / `DeltaThinking` fragments, or
            `dict[int, DeltaToolCall | DeltaThinking]` for several parts at once. Without it,
            `request_stream` replays `function`'s response in word-sized chunks.
        model_name: The name reported in responses.
        profile: The capability profile; defaults to the `ModelProfile` defaults with JSON
            schema output supported.

    Raises:
        ConfigurationError: neither function is given.

    Example:
        ```python
        def answer(messages, info):
            return ModelResponse(parts=[TextPart(content="hello")])


        model = FunctionModel(answer)
        ```
    """

    __slots__ = ("_function", "_function_is_async", "_model_name", "_profile", "_stream_function")

    def __init__(
        self,
        function: FunctionDef | None = None,
        *,
        stream_function: StreamFunctionDef | None = None,
        model_name: str = "function",
        profile: ModelProfile | None = None,
    ) -> None:
        if function is None and stream_function is None:
            raise ConfigurationError(
                "FunctionModel needs a function, a stream_function, or both: "
                "FunctionModel(lambda messages, info: ModelResponse(parts=[TextPart(content='hi')]))."
            )
        for given, label in ((function, "function"), (stream_function, "stream_function")):
            if given is not None and not callable(given):
                raise ConfigurationError(
                    f"FunctionModel {label} must be callable, got {type(given).__name__}."
                )
        self._function = function
        self._function_is_async = function is not None and _is_async_callable(function)
        self._stream_function = stream_function
        self._model_name = model_name
        self._profile = profile or ModelProfile(
            supports_json_schema_output=True, supports_json_object_output=True
        )

    @property
    def model_name(self) -> str:
        """The name reported in responses (`"function"` unless given)."""
        return self._model_name

    @property
    def provider(self) -> str:
        """Always `"function"`."""
        return "function"

    @property
    def profile(self) -> ModelProfile:
        """The capability profile given at construction, or the default."""
        return self._profile

    async def request(
        self,
        messages: ModelMessages,
        settings: ModelSettings | None,
        params: ModelRequestParams,
    ) -> ModelResponse:
        """Call `function` (or drain `stream_function`) and return its response.

        The response's usage is kept when the function set one, otherwise estimated from the
        words of the messages and the response; `model_name` is filled in when missing.

        Raises:
            UnexpectedModelBehavior: the function returned something other than a
                `ModelResponse`.
        """
        if self._function is None:
            final: ModelResponse | None = None
            async for event in self.request_stream(messages, settings, params):
                if isinstance(event, FinalResponseEvent):
                    final = event.response
            assert final is not None  # _assemble always ends with the final response
            return final
        function = self._function
        info = AgentInfo.from_request(params, settings)
        history = list(messages)
        if self._function_is_async:
            result: Any = await cast(Callable[..., Awaitable[Any]], function)(history, info)
        else:
            result = await anyio.to_thread.run_sync(functools.partial(function, history, info))
            if inspect.isawaitable(result):
                result = await result
        if not isinstance(result, ModelResponse):
            raise UnexpectedModelBehavior(
                f"FunctionModel function returned {type(result).__name__}; it must return a "
                f"ModelResponse, e.g. ModelResponse(parts=[TextPart(content='...')])."
            )
        return complete(result, messages, self._model_name)

    async def request_stream(
        self,
        messages: ModelMessages,
        settings: ModelSettings | None,
        params: ModelRequestParams,
    ) -> AsyncIterator[ModelStreamEvent]:
        """Stream `stream_function`'s fragments, or replay `function`'s response in chunks.

        Raises:
            UnexpectedModelBehavior: the stream function yielded something it may not.
        """
        if self._stream_function is None:
            response = await self.request(messages, settings, params)
            for event in replay_events(response):
                yield event
            return
        info = AgentInfo.from_request(params, settings)
        produced = self._stream_function(list(messages), info)
        async for event in _assemble(_iterate(produced), messages, self._model_name):
            yield event


def _is_async_callable(function: Callable[..., Any]) -> bool:
    if inspect.iscoroutinefunction(function):
        return True
    call = getattr(function, "__call__", None)  # noqa: B004 - looking for an async __call__
    return call is not None and inspect.iscoroutinefunction(call)


async def _iterate(produced: object) -> AsyncIterator[object]:
    """Items of an async or sync iterator; a sync one is advanced in a worker thread."""
    if isinstance(produced, AsyncIterator):
        async for item in cast(AsyncIterator[object], produced):
            yield item
        return
    if isinstance(produced, (str, bytes)) or not isinstance(produced, Iterable):
        raise UnexpectedModelBehavior(
            f"FunctionModel stream_function returned {type(produced).__name__}; it must be a "
            f"generator (sync or async) yielding str, DeltaToolCall or DeltaThinking."
        )
    iterator = iter(cast(Iterable[object], produced))
    while True:
        item = await anyio.to_thread.run_sync(next, iterator, _DONE)
        if item is _DONE:
            return
        yield item


async def _assemble(
    items: AsyncIterator[object], messages: ModelMessages, model_name: str
) -> AsyncIterator[ModelStreamEvent]:
    assembler = ResponseAssembler()
    open_kind: Literal["text", "thinking", "tool-call"] | None = None
    open_flat: list[Any] = []  # keys of the open text / thinking parts, closed on a change of kind
    seen_calls: set[int] = set()

    def switch(kind: Literal["text", "thinking", "tool-call"]) -> list[ModelStreamEvent]:
        nonlocal open_kind
        events: list[ModelStreamEvent] = []
        if open_kind is not None and open_kind != kind:
            # Text after a tool call starts a new part, as it would from a provider (the
            # assembler opens a new part under a key whose part has ended).
            for key in open_flat:
                events.extend(assembler.end(key))
            open_flat.clear()
        open_kind = kind
        return events

    async for item in items:
        events: list[ModelStreamEvent] = []
        fragments: list[tuple[int, DeltaToolCall | DeltaThinking]] = []
        if isinstance(item, str):
            events.extend(switch("text"))
            key = ("text", 0)
            if key not in open_flat:
                open_flat.append(key)
            events.extend(assembler.text(item, key=key))
        elif isinstance(item, (DeltaToolCall, DeltaThinking)):
            fragments.append((0, item))
        elif isinstance(item, Mapping):
            for index, fragment in cast(Mapping[object, object], item).items():
                if not isinstance(index, int) or not isinstance(
                    fragment, (DeltaToolCall, DeltaThinking)
                ):
                    raise UnexpectedModelBehavior(
                        f"FunctionModel stream_function yielded a dict with {index!r}: "
                        f"{type(fragment).__name__}; expected dict[int, DeltaToolCall | "
                        f"DeltaThinking]."
                    )
                fragments.append((index, fragment))
        else:
            raise UnexpectedModelBehavior(
                f"FunctionModel stream_function yielded {type(item).__name__}; expected str, "
                f"DeltaToolCall, DeltaThinking or dict[int, DeltaToolCall | DeltaThinking]."
            )
        for index, fragment in fragments:
            if isinstance(fragment, DeltaThinking):
                events.extend(switch("thinking"))
                key = ("thinking", index)
                if key not in open_flat:
                    open_flat.append(key)
                events.extend(
                    assembler.thinking(
                        fragment.content or "", key=key, signature=fragment.signature
                    )
                )
                continue
            events.extend(switch("tool-call"))
            call_id = fragment.tool_call_id
            if index not in seen_calls:
                seen_calls.add(index)
                call_id = call_id or f"call_{uuid.uuid4().hex[:24]}"
            events.extend(
                assembler.tool_call(
                    key=("tool-call", index),
                    args_delta=fragment.json_args or "",
                    tool_name=fragment.name,
                    tool_call_id=call_id,
                )
            )
        for event in events:
            yield event

    finished = assembler.finish(model_name=model_name, provider_name="function")
    for event in finished:
        if isinstance(event, FinalResponseEvent):
            response = event.response
            event = FinalResponseEvent(
                response.model_copy(
                    update={
                        "usage": estimate_usage(messages, response.parts),
                        "finish_reason": "tool_calls" if response.tool_calls() else "stop",
                    }
                ),
                event.extra,
            )
        yield event
