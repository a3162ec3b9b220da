"""`EchoChatModel`: echoes, calls tools with schema-built arguments, answers structured output."""

from __future__ import annotations

import json

from covey.spec.messages import ModelRequest, ModelResponse, ToolReturnPart
from covey.spec.models import (
    FinalResponseEvent,
    ModelRequestParams,
    OutputSchema,
    PartDeltaEvent,
    PartStartEvent,
)
from covey.spec.tools import ToolDefinition
from covey.testing import EchoChatModel

ADD = ToolDefinition(
    name="add",
    parameters_json_schema={
        "type": "object",
        "properties": {"a": {"type": "integer"}, "b": {"type": "integer", "minimum": 5}},
        "required": ["a", "b"],
    },
)


async def test_echo_answers_with_the_last_user_text() -> None:
    model = EchoChatModel()
    history = [ModelRequest.user("first"), ModelResponse(parts=[]), ModelRequest.user("hi there")]
    response = await model.request(history, None, ModelRequestParams())
    assert response.text() == "hi there"
    assert response.usage.requests == 1
    assert response.usage.output_tokens == 2
    assert response.usage.input_tokens == 3
    assert (response.model_name, response.provider_name, response.finish_reason) == (
        "echo",
        "covey-test",
        "stop",
    )


async def test_echo_streams_word_by_word() -> None:
    model = EchoChatModel()
    events = [
        e
        async for e in model.request_stream(
            [ModelRequest.user("one two three")], None, ModelRequestParams()
        )
    ]
    assert isinstance(events[0], PartStartEvent)
    deltas = [e for e in events if isinstance(e, PartDeltaEvent)]
    assert [d.delta.content for d in deltas] == ["two ", "three"]  # pyright: ignore[reportAttributeAccessIssue]
    final = events[-1]
    assert isinstance(final, FinalResponseEvent)
    assert final.response.text() == "one two three"


async def test_echo_calls_the_first_tool_then_answers() -> None:
    model = EchoChatModel(call_tools=True)
    params = ModelRequestParams(function_tools=[ADD])
    first = await model.request([ModelRequest.user("add them")], None, params)
    [call] = first.tool_calls()
    assert call.tool_name == "add"
    args = call.args_as_dict()
    assert set(args) == {"a", "b"}
    assert isinstance(args["a"], int)
    assert args["b"] >= 5
    assert first.finish_reason == "tool_calls"
    back = ModelRequest(
        parts=[ToolReturnPart(tool_name="add", content=6, tool_call_id=call.tool_call_id)]
    )
    second = await model.request([ModelRequest.user("add them"), first, back], None, params)
    assert second.tool_calls() == []
    assert second.text() == "add them"


async def test_echo_without_call_tools_ignores_tools() -> None:
    response = await EchoChatModel().request(
        [ModelRequest.user("hi")], None, ModelRequestParams(function_tools=[ADD])
    )
    assert response.text() == "hi"


async def test_echo_structured_output() -> None:
    model = EchoChatModel()
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string"}, "n": {"type": "integer"}},
        "required": ["city", "n"],
    }
    out = ToolDefinition(name="final_result", parameters_json_schema=schema, kind="output")
    tool_mode = await model.request(
        [ModelRequest.user("x")],
        None,
        ModelRequestParams(output_mode="tool", output_tools=[out], allow_text_output=False),
    )
    assert tool_mode.tool_calls()[0].tool_name == "final_result"
    native = await model.request(
        [ModelRequest.user("x")],
        None,
        ModelRequestParams(output_mode="native", output_schema=OutputSchema(json_schema=schema)),
    )
    value = json.loads(native.text())
    assert set(value) == {"city", "n"}
    assert isinstance(value["city"], str)
    assert isinstance(value["n"], int)
