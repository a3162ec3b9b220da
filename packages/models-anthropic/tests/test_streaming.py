"""Streamed responses: SSE events → part events, the final response and its usage."""

from __future__ import annotations

import pytest

from covey.spec import (
    FinalResponseEvent,
    ModelRequest,
    ModelRequestParams,
    PartDeltaEvent,
    PartEndEvent,
    PartStartEvent,
    TextPart,
    TextPartDelta,
    ThinkingPart,
    ThinkingPartDelta,
    ToolCallPart,
    ToolCallPartDelta,
    ToolDefinition,
    Usage,
)
from covey.spec.errors import (
    ContextOverflowError,
    ModelServerError,
    RateLimitedError,
    UnexpectedModelBehavior,
)

# Verbatim wire format, as in Anthropic's streaming reference.
TEXT_STREAM = """\
event: message_start
data: {"type": "message_start", "message": {"id": "msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY", "type": "message", "role": "assistant", "content": [], "model": "claude-sonnet-4-6", "stop_reason": null, "stop_sequence": null, "usage": {"input_tokens": 25, "cache_read_input_tokens": 100, "cache_creation_input_tokens": 0, "output_tokens": 1}}}

event: content_block_start
data: {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}

event: ping
data: {"type": "ping"}

event: content_block_delta
data: {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hello"}}

event: content_block_delta
data: {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "!"}}

event: content_block_stop
data: {"type": "content_block_stop", "index": 0}

event: message_delta
data: {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence":null}, "usage": {"output_tokens": 15}}

event: message_stop
data: {"type": "message_stop"}

"""


def start(index, block):
    return (
        "content_block_start",
        {"type": "content_block_start", "index": index, "content_block": block},
    )


def delta(index, payload):
    return (
        "content_block_delta",
        {"type": "content_block_delta", "index": index, "delta": payload},
    )


def stop(index):
    return ("content_block_stop", {"type": "content_block_stop", "index": index})


def message_start(usage=None):
    return (
        "message_start",
        {
            "type": "message_start",
            "message": {
                "id": "msg_stream",
                "type": "message",
                "role": "assistant",
                "content": [],
                "model": "claude-sonnet-4-6",
                "stop_reason": None,
                "stop_sequence": None,
                "usage": usage or {"input_tokens": 10, "output_tokens": 1},
            },
        },
    )


def message_end(stop_reason, usage):
    return [
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop_reason, "stop_sequence": None},
                "usage": usage,
            },
        ),
        ("message_stop", {"type": "message_stop"}),
    ]


async def collect(api, params=None, settings=None):
    model = api.model()
    return [
        event
        async for event in model.request_stream(
            [ModelRequest.user("hi")], settings, params or ModelRequestParams()
        )
    ]


async def test_text_stream(api):
    api.reply_sse(TEXT_STREAM)
    events = await collect(api)

    assert api.body["stream"] is True
    assert events[:-1] == [
        PartStartEvent(0, TextPart(content="Hello")),
        PartDeltaEvent(0, TextPartDelta("!")),
        PartEndEvent(0, TextPart(content="Hello!")),
    ]
    final = events[-1]
    assert isinstance(final, FinalResponseEvent)
    response = final.response
    assert response.parts == [TextPart(content="Hello!")]
    assert response.finish_reason == "stop"
    assert response.provider_response_id == "msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY"
    assert response.model_name == "claude-sonnet-4-6"
    assert response.usage == Usage(
        input_tokens=125, output_tokens=15, cache_read_tokens=100, requests=1
    )


async def test_parallel_tool_calls_stream_argument_fragments(api):
    api.reply_sse(
        api.sse(
            message_start(),
            start(0, {"type": "text", "text": ""}),
            delta(0, {"type": "text_delta", "text": "Checking."}),
            stop(0),
            start(1, {"type": "tool_use", "id": "toolu_A", "name": "get_weather", "input": {}}),
            delta(1, {"type": "input_json_delta", "partial_json": ""}),
            delta(1, {"type": "input_json_delta", "partial_json": '{"city": "Pa'}),
            delta(1, {"type": "input_json_delta", "partial_json": 'ris"}'}),
            stop(1),
            start(2, {"type": "tool_use", "id": "toolu_B", "name": "get_time", "input": {}}),
            stop(2),
            *message_end("tool_use", {"output_tokens": 40}),
        )
    )
    params = ModelRequestParams(
        function_tools=[ToolDefinition(name="get_weather"), ToolDefinition(name="get_time")]
    )
    events = await collect(api, params)

    assert events[:-1] == [
        PartStartEvent(0, TextPart(content="Checking.")),
        PartEndEvent(0, TextPart(content="Checking.")),
        PartStartEvent(1, ToolCallPart(tool_name="get_weather", tool_call_id="toolu_A", args="")),
        PartDeltaEvent(1, ToolCallPartDelta('{"city": "Pa')),
        PartDeltaEvent(1, ToolCallPartDelta('ris"}')),
        PartEndEvent(
            1,
            ToolCallPart(tool_name="get_weather", tool_call_id="toolu_A", args='{"city": "Paris"}'),
        ),
        PartStartEvent(2, ToolCallPart(tool_name="get_time", tool_call_id="toolu_B", args="")),
        PartEndEvent(2, ToolCallPart(tool_name="get_time", tool_call_id="toolu_B", args="")),
    ]
    response = events[-1].response
    assert response.finish_reason == "tool_calls"
    calls = response.tool_calls()
    assert [(c.tool_name, c.tool_call_id, c.args_as_dict()) for c in calls] == [
        ("get_weather", "toolu_A", {"city": "Paris"}),
        ("get_time", "toolu_B", {}),
    ]


async def test_thinking_stream_with_signature_and_redacted_block(api):
    api.reply_sse(
        api.sse(
            message_start(),
            start(0, {"type": "thinking", "thinking": "", "signature": ""}),
            delta(0, {"type": "thinking_delta", "thinking": "First, "}),
            delta(0, {"type": "thinking_delta", "thinking": "6 * 7."}),
            delta(0, {"type": "signature_delta", "signature": "EqQBCgIYAhIM1gbcDa9GJwZA"}),
            stop(0),
            start(1, {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va3pzix"}),
            stop(1),
            start(2, {"type": "text", "text": ""}),
            delta(2, {"type": "text_delta", "text": "42"}),
            stop(2),
            *message_end(
                "end_turn", {"output_tokens": 90, "output_tokens_details": {"thinking_tokens": 80}}
            ),
        )
    )
    events = await collect(api, settings=None)

    assert events[:4] == [
        PartStartEvent(0, ThinkingPart(content="")),
        PartDeltaEvent(0, ThinkingPartDelta("First, ")),
        PartDeltaEvent(0, ThinkingPartDelta("6 * 7.")),
        PartDeltaEvent(0, ThinkingPartDelta("", "EqQBCgIYAhIM1gbcDa9GJwZA")),
    ]
    response = events[-1].response
    assert response.parts == [
        ThinkingPart(content="First, 6 * 7.", signature="EqQBCgIYAhIM1gbcDa9GJwZA"),
        ThinkingPart(
            content="", redacted=True, provider_details={"redacted_data": "EmwKAhgBEgy3va3pzix"}
        ),
        TextPart(content="42"),
    ]
    assert response.usage.reasoning_tokens == 80
    assert response.usage.output_tokens == 90


async def test_message_delta_cumulative_usage_replaces_the_start(api):
    api.reply_sse(
        api.sse(
            message_start(
                {"input_tokens": 3, "cache_creation_input_tokens": 0, "output_tokens": 1}
            ),
            start(0, {"type": "text", "text": ""}),
            delta(0, {"type": "text_delta", "text": "x"}),
            stop(0),
            *message_end(
                "max_tokens",
                {
                    "input_tokens": 3,
                    "cache_creation_input_tokens": 2000,
                    "cache_read_input_tokens": 0,
                    "output_tokens": 64,
                },
            ),
        )
    )
    response = (await collect(api))[-1].response
    assert response.finish_reason == "length"
    assert response.usage == Usage(
        input_tokens=2003, output_tokens=64, cache_write_tokens=2000, requests=1
    )


@pytest.mark.parametrize(
    ("error_type", "message", "expected"),
    [
        ("overloaded_error", "Overloaded", ModelServerError),
        ("api_error", "Internal server error", ModelServerError),
        ("rate_limit_error", "Rate limited", RateLimitedError),
        (
            "invalid_request_error",
            "prompt is too long: 210000 tokens > 200000 maximum",
            ContextOverflowError,
        ),
    ],
)
async def test_error_event_mid_stream_is_mapped(api, error_type, message, expected):
    api.reply_sse(
        api.sse(
            message_start(),
            start(0, {"type": "text", "text": ""}),
            delta(0, {"type": "text_delta", "text": "partial"}),
            ("error", {"type": "error", "error": {"type": error_type, "message": message}}),
        )
    )
    seen = []

    async def consume():
        async for event in api.model().request_stream(
            [ModelRequest.user("hi")], None, ModelRequestParams()
        ):
            seen.append(event)

    with pytest.raises(expected) as caught:
        await consume()
    assert seen == [PartStartEvent(0, TextPart(content="partial"))]
    assert error_type in str(caught.value)
    assert caught.value.__cause__ is not None  # chained from the SDK's error
    if expected is ModelServerError and error_type == "overloaded_error":
        assert caught.value.status_code == 529


async def test_stream_cut_before_message_stop_is_unexpected(api):
    api.reply_sse(
        api.sse(
            message_start(),
            start(0, {"type": "text", "text": ""}),
            delta(0, {"type": "text_delta", "text": "cut"}),
        )
    )
    with pytest.raises(UnexpectedModelBehavior, match="message_stop"):
        await collect(api)


async def test_http_error_before_stream_is_mapped(api):
    api.reply_error(529, "overloaded_error", "Overloaded")
    with pytest.raises(ModelServerError) as caught:
        await collect(api)
    assert caught.value.status_code == 529
