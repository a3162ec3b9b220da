"""Test doubles for agents: `TestModel` and `FunctionModel`, so agent tests need no provider.

`TestModel` calls every tool once with arguments generated from the tool's JSON schema, then
answers; `FunctionModel` lets a function decide each response. Both derive every response from
the messages and parameters of the request alone, so one instance serves concurrent runs.

Example:
    ```python
    from covey.core.testing import TestModel

    model = TestModel()  # or the model string "test:anything"
    ```
"""

from __future__ import annotations

import copy
import functools
import importlib
import inspect
import json
import math
import re
import uuid
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias, cast

import anyio.to_thread
import pydantic_core

from covey.spec.errors import ConfigurationError, UnexpectedModelBehavior
from covey.spec.messages import (
    ModelRequest,
    ModelResponse,
    ModelResponsePart,
    RetryPart,
    SystemPart,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    ToolReturnPart,
    UserPart,
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
    PartDeltaEvent,
    PartEndEvent,
    PartStartEvent,
    TextPartDelta,
    ThinkingPartDelta,
    ToolCallPartDelta,
    ToolChoice,
)
from covey.spec.streaming import ResponseAssembler
from covey.spec.tools import ToolDefinition
from covey.spec.usage import Usage

__all__ = [
    "AgentInfo",
    "DeltaThinking",
    "DeltaToolCall",
    "FunctionDef",
    "FunctionModel",
    "StreamFunctionDef",
    "StreamItem",
    "TestModel",
    "generate_json_data",
    "test_model_factory",
]


# --- TestModel -----------------------------------------------------------------------------------


class TestModel(ChatModel):
    """A model that calls every tool once with schema-valid arguments, then answers.

    Each response is derived only from the request (its messages and parameters), never from
    state kept on the model, so one `TestModel` can serve many concurrent runs:

    1. When the last request holds no tool returns and no retries (the first step of a turn), it
       calls every selected function tool once, all in one response (parallel tool calls), with
       arguments generated from each tool's JSON schema.
    2. When the last request retries tool calls (`RetryPart` naming a tool), it calls each of
       those tools again, once, with fresh arguments.
    3. Otherwise it answers: in `tool` output mode by calling the first output tool; in `native`
       and `prompted` modes with JSON text matching `params.output_schema`; in `text` mode with
       `custom_output_text`, or a JSON object of this turn's tool results
       (`{"get_weather": "sunny"}`), or `success (no tool calls)`.

    Args:
        call_tools: `"all"`, or the names of the function tools to call on the first step.
        custom_output_text: The text of the final answer, instead of the summary.
        custom_output_args: The structured output: the output tool's arguments in `tool` mode,
            dumped as JSON text in `native` / `prompted` / `text` modes. A non-dict value given
            for an output tool with a single parameter is wrapped in that parameter.
        model_name: The name reported in responses.
        profile: The capability profile; defaults to tools, JSON-schema output and streaming,
            with `tool` as the default output mode.
        seed: Varies the generated values; the same seed and request give the same response.

    Raises:
        ConfigurationError: both `custom_output_text` and `custom_output_args` are given.

    Example:
        ```python
        model = TestModel(call_tools=["get_weather"], custom_output_text="It is sunny.")
        ```
    """

    __test__ = False  # pytest: not a test class despite the name.
    __slots__ = (
        "_call_tools",
        "_custom_output_args",
        "_custom_output_text",
        "_model_name",
        "_profile",
        "_seed",
    )

    def __init__(
        self,
        *,
        call_tools: Literal["all"] | Sequence[str] = "all",
        custom_output_text: str | None = None,
        custom_output_args: Any = None,
        model_name: str = "test",
        profile: ModelProfile | None = None,
        seed: int = 0,
    ) -> None:
        if custom_output_text is not None and custom_output_args is not None:
            raise ConfigurationError(
                "TestModel got both custom_output_text and custom_output_args; give at most one "
                "(text for a plain-text answer, args for structured output)."
            )
        if isinstance(call_tools, str) and call_tools != "all":
            raise ConfigurationError(
                f"TestModel(call_tools={call_tools!r}): expected 'all' or a list of tool names, "
                f"e.g. call_tools=[{call_tools!r}]."
            )
        self._call_tools: frozenset[str] | None = (
            None if call_tools == "all" else frozenset(call_tools)
        )
        self._custom_output_text = custom_output_text
        self._custom_output_args = (
            None
            if custom_output_args is None
            else pydantic_core.to_jsonable_python(custom_output_args)
        )
        self._model_name = model_name
        self._profile = profile or ModelProfile(
            supports_tools=True,
            supports_parallel_tool_calls=True,
            supports_tool_choice_required=True,
            supports_json_schema_output=True,
            supports_json_object_output=True,
            supports_streaming=True,
            supports_streaming_usage=True,
            default_output_mode="tool",
        )
        self._seed = seed

    @property
    def model_name(self) -> str:
        """The name reported in responses (`"test"` unless given)."""
        return self._model_name

    @property
    def provider(self) -> str:
        """Always `"test"`."""
        return "test"

    @property
    def profile(self) -> ModelProfile:
        """The capability profile given at construction, or the testing default."""
        return self._profile

    async def request(
        self,
        messages: ModelMessages,
        settings: ModelSettings | None,
        params: ModelRequestParams,
    ) -> ModelResponse:
        """Answer one request as described in the class docstring.

        Raises:
            ConfigurationError: `custom_output_text` is set but the request requires an output
                tool call (`tool` mode with `allow_text_output=False`).
        """
        parts = self._respond(messages, params)
        return _finalise(parts, messages, model_name=self._model_name, provider_name="test")

    async def request_stream(
        self,
        messages: ModelMessages,
        settings: ModelSettings | None,
        params: ModelRequestParams,
    ) -> AsyncIterator[ModelStreamEvent]:
        """Stream the response `request` would give: text word by word, arguments in fragments."""
        response = await self.request(messages, settings, params)
        for event in _replay_events(response):
            yield event

    # -- deciding the response ---------------------------------------------------------------

    def _respond(
        self, messages: ModelMessages, params: ModelRequestParams
    ) -> list[TextPart | ToolCallPart]:
        last = _last_request(messages)
        step = sum(1 for m in messages if isinstance(m, ModelResponse))
        retries = [p for p in last.parts if isinstance(p, RetryPart)] if last else []
        returned = last is not None and any(isinstance(p, ToolReturnPart) for p in last.parts)

        if not retries and not returned:
            first: list[TextPart | ToolCallPart] = [
                self._call(tool, self._seed, step, i)
                for i, tool in enumerate(self._selected_tools(params))
            ]
            return first or [self._answer(messages, params, self._seed, step)]

        tool_retries = [p for p in retries if p.tool_name is not None]
        if tool_retries:
            by_name = {t.name: t for t in params.all_tools}
            calls: list[TextPart | ToolCallPart] = []
            for retry in tool_retries:
                tool = by_name.get(retry.tool_name or "")
                if tool is None:  # the model "called" an unknown tool: nothing to retry
                    continue
                seed = self._seed + _count_retries(messages, retry.tool_name)
                if tool.kind == "output":
                    calls.append(self._output_call(tool, seed, step, len(calls)))
                else:
                    calls.append(self._call(tool, seed, step, len(calls)))
            if calls:
                return calls
        seed = self._seed + _count_retries(messages, None)
        return [self._answer(messages, params, seed, step)]

    def _selected_tools(self, params: ModelRequestParams) -> list[ToolDefinition]:
        choice = params.tool_choice
        if choice == "none":
            return []
        tools = [t for t in params.function_tools if t.kind != "output"]
        if self._call_tools is not None:
            tools = [t for t in tools if t.name in self._call_tools]
        if choice not in ("auto", "required"):
            tools = [t for t in tools if t.name == choice]
        return tools

    def _call(self, tool: ToolDefinition, seed: int, step: int, index: int) -> ToolCallPart:
        args = generate_json_data(tool.parameters_json_schema, seed=seed)
        if not isinstance(args, dict):  # a schema that is not an object: send no arguments
            args = {}
        return ToolCallPart(
            tool_name=tool.name,
            args=cast(dict[str, Any], args),
            tool_call_id=_call_id(step, index),
        )

    def _output_call(self, tool: ToolDefinition, seed: int, step: int, index: int) -> ToolCallPart:
        if self._custom_output_args is None:
            return self._call(tool, seed, step, index)
        return ToolCallPart(
            tool_name=tool.name,
            args=_as_tool_args(tool, self._custom_output_args),
            tool_call_id=_call_id(step, index),
        )

    def _answer(
        self, messages: ModelMessages, params: ModelRequestParams, seed: int, step: int
    ) -> TextPart | ToolCallPart:
        mode = params.output_mode
        if self._custom_output_text is not None:
            if mode == "tool" and params.output_tools and not params.allow_text_output:
                raise ConfigurationError(
                    "TestModel(custom_output_text=...) cannot answer this request: it requires "
                    "structured output through an output tool. Use custom_output_args instead."
                )
            return TextPart(content=self._custom_output_text)
        if mode == "tool" and params.output_tools:
            tool = _chosen_output_tool(params.output_tools, params.tool_choice)
            return self._output_call(tool, seed, step, 0)
        if mode in ("native", "prompted") and params.output_schema is not None:
            value = self._custom_output_args
            if value is None:
                value = generate_json_data(params.output_schema.json_schema, seed=seed)
            return TextPart(content=_dumps(value))
        if self._custom_output_args is not None:
            return TextPart(content=_dumps(self._custom_output_args))
        results = _turn_tool_results(messages)
        if results:
            return TextPart(content=pydantic_core.to_json(results).decode())
        return TextPart(content="success (no tool calls)")


def test_model_factory(model_name: str) -> TestModel:
    """Entry point `test` of group `covey.models`: `"test:anything"` resolves to a `TestModel`.

    Args:
        model_name: The part after `test:`; reported as the model's name.
    """
    return TestModel(model_name=model_name)


# pytest must not collect the factory as a test when a test module imports it.
test_model_factory.__test__ = False  # pyright: ignore[reportFunctionMemberAccess]


def _last_request(messages: ModelMessages) -> ModelRequest | None:
    for message in reversed(messages):
        if isinstance(message, ModelRequest):
            return message
    return None


def _count_retries(messages: ModelMessages, tool_name: str | None) -> int:
    """How many retries of `tool_name` (or of the output, for `None`) the history holds."""
    return sum(
        1
        for m in messages
        if isinstance(m, ModelRequest)
        for p in m.parts
        if isinstance(p, RetryPart) and p.tool_name == tool_name
    )


def _turn_tool_results(messages: ModelMessages) -> dict[str, Any]:
    """The tool results since the last user prompt, by tool name (later calls win)."""
    start = 0
    for i, message in enumerate(messages):
        if isinstance(message, ModelRequest) and any(
            isinstance(p, UserPart) for p in message.parts
        ):
            start = i
    results: dict[str, Any] = {}
    for message in messages[start:]:
        if isinstance(message, ModelRequest):
            for part in message.parts:
                if isinstance(part, ToolReturnPart):
                    results[part.tool_name] = part.content
    return results


def _chosen_output_tool(tools: list[ToolDefinition], choice: ToolChoice) -> ToolDefinition:
    for tool in tools:
        if tool.name == choice:
            return tool
    return tools[0]


def _as_tool_args(tool: ToolDefinition, value: Any) -> dict[str, Any]:
    value = copy.deepcopy(value)  # each response gets its own copy: nothing shared across runs
    if isinstance(value, dict):
        return cast(dict[str, Any], value)
    properties = tool.parameters_json_schema.get("properties")
    if isinstance(properties, dict) and len(cast(dict[str, Any], properties)) == 1:
        (name,) = cast(dict[str, Any], properties)
        return {name: value}
    raise ConfigurationError(
        f"TestModel(custom_output_args={value!r}) is not a dict, and output tool {tool.name!r} "
        f"does not take exactly one argument to put it in; pass the tool's arguments as a dict."
    )


def _call_id(step: int, index: int) -> str:
    # Unique within a history: one response per step, one id per part of that response.
    return f"test_call_{step}_{index}"


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


# --- FunctionModel -------------------------------------------------------------------------------


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
        return _complete(result, messages, self._model_name)

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
            for event in _replay_events(response):
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
                        "usage": _estimate_usage(messages, response.parts),
                        "finish_reason": "tool_calls" if response.tool_calls() else "stop",
                    }
                ),
                event.extra,
            )
        yield event


# --- shared helpers ------------------------------------------------------------------------------

_WORD = re.compile(r"\w+")
# Split after whitespace that precedes more text: "a b  c" -> ["a ", "b  ", "c"].
_WORD_BOUNDARY = re.compile(r"(?<=\s)(?=\S)")
_ARGS_CHUNK = 8


def _words(text: str) -> int:
    return len(_WORD.findall(text))


def _estimate_usage(messages: ModelMessages, parts: Sequence[ModelResponsePart]) -> Usage:
    """One request; tokens estimated as the words of the whole history and of the response."""
    input_tokens = 0
    for message in messages:
        if isinstance(message, ModelRequest):
            for part in message.parts:
                if isinstance(part, SystemPart):
                    input_tokens += _words(part.content)
                elif isinstance(part, UserPart):
                    input_tokens += _words(part.text())
                elif isinstance(part, ToolReturnPart):
                    input_tokens += _words(part.content_as_text())
                else:
                    input_tokens += _words(part.message())
        else:
            input_tokens += sum(_part_words(p) for p in message.parts)
    output_tokens = sum(_part_words(p) for p in parts)
    return Usage(input_tokens=input_tokens, output_tokens=output_tokens, requests=1)


def _part_words(part: TextPart | ThinkingPart | ToolCallPart) -> int:
    if isinstance(part, ToolCallPart):
        return _words(part.tool_name) + _words(part.args_as_json())
    return _words(part.content)


def _finalise(
    parts: list[TextPart | ToolCallPart],
    messages: ModelMessages,
    *,
    model_name: str,
    provider_name: str,
) -> ModelResponse:
    has_calls = any(isinstance(p, ToolCallPart) for p in parts)
    return ModelResponse(
        parts=list(parts),
        usage=_estimate_usage(messages, parts),
        model_name=model_name,
        provider_name=provider_name,
        finish_reason="tool_calls" if has_calls else "stop",
    )


def _complete(response: ModelResponse, messages: ModelMessages, model_name: str) -> ModelResponse:
    update: dict[str, Any] = {}
    if not response.usage.has_values():
        update["usage"] = _estimate_usage(messages, response.parts)
    if response.model_name is None:
        update["model_name"] = model_name
    return response.model_copy(update=update) if update else response


def _text_chunks(text: str) -> list[str]:
    return [chunk for chunk in _WORD_BOUNDARY.split(text) if chunk] or [text]


def _replay_events(response: ModelResponse) -> list[ModelStreamEvent]:
    """A whole response as stream events: text and reasoning word by word, arguments in pieces.

    Each part is started, grown and ended in turn, then `FinalResponseEvent` carries `response`
    itself, so a streamed and a non-streamed request end with the same response.
    """
    events: list[ModelStreamEvent] = []
    for index, part in enumerate(response.parts):
        if isinstance(part, TextPart):
            first, *rest = _text_chunks(part.content)
            events.append(PartStartEvent(index, TextPart(content=first)))
            events.extend(PartDeltaEvent(index, TextPartDelta(chunk)) for chunk in rest)
        elif isinstance(part, ThinkingPart):
            first, *rest = _text_chunks(part.content)
            start = ThinkingPart(content=first, id=part.id, redacted=part.redacted)
            events.append(PartStartEvent(index, start))
            events.extend(PartDeltaEvent(index, ThinkingPartDelta(chunk)) for chunk in rest)
            if part.signature is not None:
                events.append(PartDeltaEvent(index, ThinkingPartDelta("", part.signature)))
        else:
            start = ToolCallPart(tool_name=part.tool_name, tool_call_id=part.tool_call_id, args="")
            events.append(PartStartEvent(index, start))
            args = part.args_as_json()
            events.extend(
                PartDeltaEvent(index, ToolCallPartDelta(args[i : i + _ARGS_CHUNK]))
                for i in range(0, len(args), _ARGS_CHUNK)
            )
        events.append(PartEndEvent(index, part))
    events.append(FinalResponseEvent(response))
    return events


# --- data from JSON schema -----------------------------------------------------------------------

_MAX_DEPTH = 6
"""Below this depth optional fields are left out and lists kept to their minimum length."""
_GIVE_UP_DEPTH = 40
"""A schema that still recurses here cannot be satisfied by finite data."""


def generate_json_data(schema: Mapping[str, Any], *, seed: int = 0) -> Any:
    """A JSON value valid for `schema`, for test arguments and test output.

    Handles `type`, `properties` / `required` / `additionalProperties` / `propertyNames`,
    `$ref` with `$defs`, `allOf`, `anyOf` / `oneOf`, `enum`, `const`, arrays (`items`,
    `prefixItems`, `minItems`, `maxItems`, `uniqueItems`), numeric bounds (inclusive and
    exclusive) and `multipleOf`, string lengths, common `format`s (date, date-time, time,
    duration, uuid, email, uri, ip addresses, ...) and `pattern` (best effort). Values are
    chosen to pass validation by the pydantic model the schema was generated from.

    Args:
        schema: A JSON schema, e.g. `TypeAdapter(Model).json_schema()`.
        seed: Varies the values chosen; the same seed gives the same value.
    """
    return _SchemaData(schema).value(schema, 0, seed)


class _SchemaData:
    __slots__ = ("_root",)

    def __init__(self, root: Mapping[str, Any]) -> None:
        self._root = root

    # -- schema plumbing --

    def _pointer(self, ref: str) -> Mapping[str, Any]:
        if not ref.startswith("#"):
            raise ConfigurationError(f"TestModel cannot follow the external schema $ref {ref!r}.")
        node: Any = self._root
        for token in (t for t in ref[1:].split("/") if t):
            token = token.replace("~1", "/").replace("~0", "~")
            node = cast(Any, node[int(token)] if isinstance(node, list) else node[token])
        return cast(Mapping[str, Any], node)

    def _resolve(self, schema: Any) -> dict[str, Any]:
        """`schema` with `$ref`s followed and `allOf` merged into one flat schema."""
        if schema is True or schema is None:
            return {}
        if schema is False:
            return {"not": {}}
        resolved: dict[str, Any] = dict(cast(Mapping[str, Any], schema))
        seen: set[str] = set()
        while "$ref" in resolved:
            ref = cast(str, resolved.pop("$ref"))
            if ref in seen:
                break
            seen.add(ref)
            resolved = {**self._pointer(ref), **resolved}  # sibling keywords refine the target
        if "allOf" in resolved:
            merged: dict[str, Any] = {}
            for sub in cast(list[Any], resolved.pop("allOf")):
                part = self._resolve(sub)
                properties = {**merged.get("properties", {}), **part.get("properties", {})}
                required = [*merged.get("required", []), *part.get("required", [])]
                merged.update(part)
                if properties:
                    merged["properties"] = properties
                if required:
                    merged["required"] = required
            resolved = {**merged, **resolved}
        return resolved

    def _is_null(self, schema: Any) -> bool:
        resolved = self._resolve(schema)
        return resolved.get("type") == "null" or ("const" in resolved and resolved["const"] is None)

    # -- values --

    def value(self, schema: Any, depth: int, seed: int) -> Any:
        if depth > _GIVE_UP_DEPTH:
            return None
        s = self._resolve(schema)
        if "const" in s:
            return s["const"]
        if "enum" in s:
            options = cast(list[Any], s["enum"])
            return options[seed % len(options)] if options else None
        for keyword in ("anyOf", "oneOf"):
            if keyword in s:
                return self._choice(cast(list[Any], s[keyword]), s, depth, seed)
        kind = s.get("type")
        if isinstance(kind, list):
            kinds = [k for k in cast(list[str], kind) if k != "null"]
            if not kinds:
                return None
            kind = kinds[0]
        if kind is None:
            if "properties" in s or "additionalProperties" in s:
                kind = "object"
            elif "items" in s or "prefixItems" in s:
                kind = "array"
            elif "default" in s:
                return s["default"]
            else:
                return "value"
        if kind == "object":
            return self._object(s, depth, seed)
        if kind == "array":
            return self._array(s, depth, seed)
        if kind == "string":
            return self._string(s, depth, seed)
        if kind == "integer":
            return self._integer(s, seed)
        if kind == "number":
            return self._number(s, seed)
        if kind == "boolean":
            return seed % 2 == 0
        return None

    def _choice(self, options: list[Any], s: Mapping[str, Any], depth: int, seed: int) -> Any:
        nullable = any(self._is_null(o) for o in options)
        candidates: list[Any] = [o for o in options if not self._is_null(o)]
        if not candidates or (nullable and depth >= _MAX_DEPTH):
            return None
        if depth >= _MAX_DEPTH:
            # Deep in a recursive schema: prefer a branch that does not recurse further.
            flat: list[Any] = [o for o in candidates if not (isinstance(o, dict) and "$ref" in o)]
            candidates = flat or candidates
        # The first branch: pydantic lists the natural form first (`Decimal` is a number first,
        # a string only as an alternative the schema does not constrain).
        chosen: Any = candidates[0]
        siblings = {k: v for k, v in s.items() if k not in ("anyOf", "oneOf", "discriminator")}
        if siblings and isinstance(chosen, dict):
            # Keywords beside `anyOf` (e.g. `minLength`) apply to the chosen branch too.
            chosen = {**siblings, "allOf": [cast(dict[str, Any], chosen)]}
        return self.value(chosen, depth, seed)

    def _object(self, s: Mapping[str, Any], depth: int, seed: int) -> dict[str, Any]:
        properties = cast(Mapping[str, Any], s.get("properties") or {})
        required = set(cast(list[str], s.get("required") or []))
        data: dict[str, Any] = {}
        for name, sub in properties.items():
            if name not in required and depth >= _MAX_DEPTH:
                continue  # optional: its default applies
            data[name] = self.value(sub, depth + 1, seed)
        for name in sorted(required - data.keys()):
            data[name] = "value"
        if properties:
            return data
        extra = s.get("additionalProperties")
        patterns = cast(Mapping[str, Any], s.get("patternProperties") or {})
        if extra is False or (extra is None and not patterns):
            return data
        count = max(int(s.get("minProperties", 0)), 1 if depth < _MAX_DEPTH else 0)
        if "maxProperties" in s:
            count = min(count, int(s["maxProperties"]))
        value_schema: Any = extra if extra not in (None, True) else {}
        key_schema: Any = s.get("propertyNames")
        if patterns and extra is None:
            pattern, value_schema = next(iter(patterns.items()))
            key_schema = {"type": "string", "pattern": pattern}
        for i in range(count * 4):  # a few spare attempts in case keys collide
            if len(data) >= count:
                break
            # Numeric keys also validate as `dict[int, ...]`, whose schema says nothing of keys.
            key = str(self.value(key_schema, depth + 1, seed + i)) if key_schema else str(i + 1)
            data[key] = self.value(value_schema, depth + 1, seed + i)
        return data

    def _array(self, s: Mapping[str, Any], depth: int, seed: int) -> list[Any]:
        prefix = cast(list[Any], s.get("prefixItems") or [])
        items: Any = s.get("items")
        if isinstance(items, list):  # draft 4-7 tuple form
            prefix, items = cast(list[Any], items), s.get("additionalItems")
        minimum = int(s.get("minItems", 0))
        count = max(minimum, len(prefix), 1 if depth < _MAX_DEPTH else 0)
        if "maxItems" in s:
            count = min(count, int(s["maxItems"]))
        values = [self.value(sub, depth + 1, seed) for sub in prefix[:count]]
        if items is False:
            return values
        unique = bool(s.get("uniqueItems"))
        seen = {_dumps(v) for v in values}
        attempt = 0
        while len(values) < count and attempt < count * 10 + 10:
            value = self.value(items, depth + 1, seed + len(values) + attempt)
            attempt += 1
            if unique:
                marker = _dumps(value)
                if marker in seen:
                    continue
                seen.add(marker)
            values.append(value)
        return values

    def _string(self, s: Mapping[str, Any], depth: int, seed: int) -> str:
        content = s.get("contentSchema")
        if content is not None and "json" in str(s.get("contentMediaType", "application/json")):
            return _dumps(self.value(content, depth + 1, seed))
        minimum = int(s.get("minLength", 0))
        maximum = s.get("maxLength")
        fmt = s.get("format")
        if isinstance(fmt, str):
            formatted = _formatted(fmt, seed)
            if formatted is not None:
                return formatted
        pattern = s.get("pattern")
        if isinstance(pattern, str):
            matched = _from_pattern(pattern, minimum, maximum, seed)
            if matched is not None:
                return matched
        # The seed goes last and survives truncation, so items of a set stay distinct.
        suffix = str(seed) if seed else ""
        body = "text"
        if maximum is not None:
            body = body[: max(0, int(maximum) - len(suffix))]
        text = body + "x" * max(0, minimum - len(body) - len(suffix)) + suffix
        if maximum is not None and len(text) > int(maximum):
            text = text[len(text) - int(maximum) :]
        return text

    def _integer(self, s: Mapping[str, Any], seed: int) -> int:
        low: int | None = None
        high: int | None = None
        if "minimum" in s:
            low = math.ceil(s["minimum"])
        if "exclusiveMinimum" in s:
            bound = math.floor(s["exclusiveMinimum"]) + 1
            low = bound if low is None else max(low, bound)
        if "maximum" in s:
            high = math.floor(s["maximum"])
        if "exclusiveMaximum" in s:
            bound = math.ceil(s["exclusiveMaximum"]) - 1
            high = bound if high is None else min(high, bound)
        value = 1 + seed
        # Out of range: move into it, still varying with the seed.
        if low is not None and high is not None and not low <= value <= high and low <= high:
            value = low + (value - low) % (high - low + 1)
        elif low is not None and value < low:
            value = low + seed
        elif high is not None and value > high:
            value = high - seed
        step = s.get("multipleOf")
        if isinstance(step, int) and step > 0 and value % step:
            up = (value // step + 1) * step
            down = (value // step) * step
            value = up if high is None or up <= high else down
        return value

    def _number(self, s: Mapping[str, Any], seed: int) -> int | float:
        low: float | None = s.get("minimum")
        high: float | None = s.get("maximum")
        low_open = high_open = False
        if "exclusiveMinimum" in s and (low is None or s["exclusiveMinimum"] >= low):
            low, low_open = s["exclusiveMinimum"], True
        if "exclusiveMaximum" in s and (high is None or s["exclusiveMaximum"] <= high):
            high, high_open = s["exclusiveMaximum"], True

        def fits(v: float) -> bool:
            above = low is None or (v > low if low_open else v >= low)
            below = high is None or (v < high if high_open else v <= high)
            return above and below

        value: float = 1 + seed
        step = s.get("multipleOf")
        if isinstance(step, (int, float)) and step > 0:
            anchor = low if low is not None else value if high is None else min(high, value)
            start = math.ceil(anchor / step)
            for k in (start, start + 1, start - 1, start + 2, start - 2):
                candidate = _tidy(k * step)
                if fits(candidate):
                    return candidate
            return _tidy(start * step)
        if fits(value):
            return value
        if low is not None and high is not None:
            return _tidy((low + high) / 2)
        if low is not None:
            return _tidy(low + 1)
        assert high is not None
        return _tidy(high - 1)


def _tidy(value: float) -> int | float:
    """`value` without float noise (`0.30000000000000004` -> `0.3`), an int when whole."""
    if isinstance(value, int):
        return value
    rounded = round(value, 12)
    return int(rounded) if rounded.is_integer() and abs(rounded) < 2**53 else rounded


def _uuid(version: int, seed: int) -> str:
    value = 0x1234_5678_9ABC_DEF0_1234_5678_9ABC_DEF0 + seed
    value &= ~(0xF << 76)
    value |= version << 76
    value &= ~(0x3 << 62)
    value |= 0x2 << 62  # RFC 4122 variant
    return str(uuid.UUID(int=value))


def _formatted(fmt: str, seed: int) -> str | None:
    day = 1 + seed % 28
    host = 1 + seed % 254
    if fmt.startswith("uuid"):
        version = fmt[4:]
        return _uuid(int(version) if version.isdigit() else 4, seed)
    known: dict[str, str] = {
        "date": f"2024-01-{day:02d}",
        "date-time": f"2024-01-{day:02d}T12:00:00Z",
        "time": f"12:{seed % 60:02d}:00",
        "duration": f"PT{seed + 1}H",
        "email": f"user{seed or ''}@example.com",
        "idn-email": f"user{seed or ''}@example.com",
        "uri": f"https://example.com/{seed}",
        "iri": f"https://example.com/{seed}",
        "uri-reference": f"https://example.com/{seed}",
        "iri-reference": f"https://example.com/{seed}",
        "hostname": f"host{seed}.example.com",
        "idn-hostname": f"host{seed}.example.com",
        "ipv4": f"192.0.2.{host}",
        "ipv6": f"2001:db8::{host:x}",
        "ipvanyaddress": f"192.0.2.{host}",
        "ipv4interface": f"192.0.2.{host}/24",
        "ipv6interface": f"2001:db8::{host:x}/64",
        "ipvanyinterface": f"192.0.2.{host}/24",
        "ipv4network": "192.0.2.0/24",
        "ipv6network": "2001:db8::/32",
        "ipvanynetwork": "192.0.2.0/24",
        "base64": "dGVzdA==",
        "byte": "dGVzdA==",
        "binary": f"test{seed or ''}",
        "password": f"secret{seed or ''}",
        "json-pointer": "/a",
        "regex": "^a+$",
        "directory-path": ".",
        "path": "example.txt",
    }
    return known.get(fmt)


# -- strings from a regular expression (best effort) --

_SAMPLES = "a0_ -!"


def _from_pattern(pattern: str, minimum: int, maximum: Any, seed: int) -> str | None:
    """A string `re.search` finds `pattern` in, within the length bounds; `None` if unsure."""
    try:
        parser: Any = importlib.import_module("re._parser")
        tree: Any = parser.parse(pattern)
        compiled = re.compile(pattern)
    except (ImportError, re.error, ValueError, TypeError):
        return None
    best: str | None = None
    for extra in range(12):
        out: list[str] = []
        try:
            _emit(tree, out, extra, seed)
        except _UnsupportedError:
            return None
        text = "".join(out)
        if compiled.search(text) is None:
            return None
        if best is None:
            best = text
        if maximum is not None and len(text) > int(maximum):
            break
        if len(text) >= minimum:
            return text
    return best


class _UnsupportedError(Exception):
    pass


def _emit(items: Any, out: list[str], extra: int, seed: int) -> None:
    for op, arg in items:
        name = str(getattr(op, "name", op))
        if name == "LITERAL":
            out.append(chr(arg))
        elif name == "NOT_LITERAL":
            out.append("a" if arg != ord("a") else "b")
        elif name == "ANY":
            out.append("a")
        elif name == "IN":
            out.append(_pick_in(arg, seed))
        elif name == "BRANCH":
            _emit(arg[1][0], out, extra, seed)
        elif name == "SUBPATTERN":
            _emit(arg[-1], out, extra, seed)
        elif name == "ATOMIC_GROUP":
            _emit(arg, out, extra, seed)
        elif name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            low, high, sub = arg
            count = min(int(high), max(int(low), 1) + extra)
            for _ in range(count):
                _emit(sub, out, extra, seed)
        elif name == "CATEGORY":
            out.append(_category_sample(str(getattr(arg, "name", arg))))
        elif name in ("AT", "ASSERT", "ASSERT_NOT"):
            continue
        else:  # back-references, conditionals: not worth guessing
            raise _UnsupportedError(name)


def _category_sample(category: str) -> str:
    samples = {
        "CATEGORY_DIGIT": "1",
        "CATEGORY_NOT_DIGIT": "a",
        "CATEGORY_SPACE": " ",
        "CATEGORY_NOT_SPACE": "a",
        "CATEGORY_WORD": "a",
        "CATEGORY_NOT_WORD": "-",
    }
    if category not in samples:
        raise _UnsupportedError(category)
    return samples[category]


def _pick_in(members: Any, seed: int) -> str:
    negate = bool(members) and str(getattr(members[0][0], "name", "")) == "NEGATE"
    if negate:
        for candidate in _SAMPLES + "xyzXYZ.,;":
            if not _in_set(members[1:], candidate):
                return candidate
        raise _UnsupportedError("NEGATE")
    op, arg = members[0]
    name = str(getattr(op, "name", op))
    if name == "LITERAL":
        return chr(arg)
    if name == "RANGE":
        low, high = arg
        return chr(low + seed % (high - low + 1))
    if name == "CATEGORY":
        return _category_sample(str(getattr(arg, "name", arg)))
    raise _UnsupportedError(name)


def _in_set(members: Any, char: str) -> bool:
    for op, arg in members:
        name = str(getattr(op, "name", op))
        if name == "LITERAL" and chr(arg) == char:
            return True
        if name == "RANGE" and arg[0] <= ord(char) <= arg[1]:
            return True
        if name == "CATEGORY":
            sample_pattern = {
                "CATEGORY_DIGIT": r"\d",
                "CATEGORY_NOT_DIGIT": r"\D",
                "CATEGORY_SPACE": r"\s",
                "CATEGORY_NOT_SPACE": r"\S",
                "CATEGORY_WORD": r"\w",
                "CATEGORY_NOT_WORD": r"\W",
            }.get(str(getattr(arg, "name", arg)))
            if sample_pattern is None or re.fullmatch(sample_pattern, char):
                return True
    return False
