"""`TestModel`: calls every tool with schema-valid arguments, then answers."""

from __future__ import annotations

import copy
from collections.abc import (
    AsyncIterator,
    Sequence,
)
from typing import Any, Literal, cast

import pydantic_core

from covey.core.testing._replay import dumps, finalise, replay_events
from covey.spec.errors import ConfigurationError
from covey.spec.messages import (
    ModelRequest,
    ModelResponse,
    RetryPart,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
    UserPart,
)
from covey.spec.models import (
    ChatModel,
    ModelMessages,
    ModelProfile,
    ModelRequestParams,
    ModelSettings,
    ModelStreamEvent,
    ToolChoice,
)
from covey.spec.schema_data import generate_json_data
from covey.spec.tools import ToolDefinition

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
        return finalise(parts, messages, model_name=self._model_name, provider_name="test")

    async def request_stream(
        self,
        messages: ModelMessages,
        settings: ModelSettings | None,
        params: ModelRequestParams,
    ) -> AsyncIterator[ModelStreamEvent]:
        """Stream the response `request` would give: text word by word, arguments in fragments."""
        response = await self.request(messages, settings, params)
        for event in replay_events(response):
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
            return TextPart(content=dumps(value))
        if self._custom_output_args is not None:
            return TextPart(content=dumps(self._custom_output_args))
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
