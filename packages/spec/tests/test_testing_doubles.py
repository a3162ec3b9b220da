"""`EchoChatModel` and the schema example builder."""

from __future__ import annotations

import json
from typing import Any

import pytest

from covey.spec.messages import ModelRequest, ModelResponse, ToolReturnPart
from covey.spec.models import (
    FinalResponseEvent,
    ModelRequestParams,
    OutputSchema,
    PartDeltaEvent,
    PartStartEvent,
)
from covey.spec.testing import EchoChatModel, example_arguments, example_value
from covey.spec.tools import ToolDefinition

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
    assert call.args_as_dict() == {"a": 1, "b": 5}
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
    assert json.loads(native.text()) == {"city": "example", "n": 1}


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        ({"type": "string"}, "example"),
        ({"type": "string", "minLength": 10}, "x" * 10),
        ({"type": "string", "format": "date"}, "2024-01-01"),
        ({"type": "integer", "minimum": 3}, 3),
        ({"type": "integer", "exclusiveMaximum": 0}, -1),
        ({"type": "number"}, 1.0),
        ({"type": "boolean"}, True),
        ({"type": "null"}, None),
        ({"enum": ["b", "a"]}, "b"),
        ({"const": 7}, 7),
        ({"type": "string", "default": "d"}, "d"),
        ({"anyOf": [{"type": "null"}, {"type": "integer"}]}, 1),
        ({"type": ["null", "boolean"]}, True),
        ({"type": "array", "items": {"type": "integer"}, "minItems": 2}, [1, 1]),
        ({"type": "array", "items": {"type": "integer"}}, []),
    ],
)
def test_example_value(schema: dict[str, Any], expected: Any) -> None:
    assert example_value(schema) == expected


def test_example_arguments_fill_required_properties_and_resolve_refs() -> None:
    schema = {
        "type": "object",
        "properties": {
            "point": {"$ref": "#/$defs/Point"},
            "label": {"type": "string"},
        },
        "required": ["point"],
        "$defs": {
            "Point": {
                "type": "object",
                "properties": {"x": {"type": "number"}, "y": {"type": "number"}},
                "required": ["x", "y"],
            }
        },
    }
    assert example_arguments(schema) == {"point": {"x": 1.0, "y": 1.0}}
    assert example_arguments({"type": "object", "properties": {}}) == {}
    assert example_arguments({"$ref": "#/nowhere"}) == {}
