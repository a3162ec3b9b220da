"""Non-streamed responses: parts, usage (cache and thinking tokens) and finish reasons."""

from __future__ import annotations

import pytest

from covey.spec import ModelRequest, ModelRequestParams, TextPart, ThinkingPart, ToolCallPart, Usage


def reply(content, *, stop_reason="end_turn", usage=None, model="claude-sonnet-4-6"):
    return {
        "id": "msg_01XFDUDYJgAACzvnptvVoYEL",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": usage or {"input_tokens": 12, "output_tokens": 6},
    }


async def ask(api, body):
    api.reply_json(body)
    return await api.model().request([ModelRequest.user("hi")], None, ModelRequestParams())


async def test_text_response(api):
    response = await ask(api, reply([{"type": "text", "text": "Hello!"}]))
    assert response.parts == [TextPart(content="Hello!")]
    assert response.text() == "Hello!"
    assert response.model_name == "claude-sonnet-4-6"
    assert response.provider_name == "anthropic"
    assert response.provider_response_id == "msg_01XFDUDYJgAACzvnptvVoYEL"
    assert response.finish_reason == "stop"
    assert response.usage == Usage(input_tokens=12, output_tokens=6, requests=1)


async def test_parallel_tool_calls(api):
    response = await ask(
        api,
        reply(
            [
                {"type": "text", "text": "Let me check."},
                {
                    "type": "tool_use",
                    "id": "toolu_01A",
                    "name": "get_weather",
                    "input": {"city": "Paris"},
                },
                {
                    "type": "tool_use",
                    "id": "toolu_01B",
                    "name": "get_weather",
                    "input": {"city": "Rome", "unit": "celsius"},
                },
            ],
            stop_reason="tool_use",
        ),
    )
    assert response.finish_reason == "tool_calls"
    assert response.parts == [
        TextPart(content="Let me check."),
        ToolCallPart(tool_name="get_weather", args={"city": "Paris"}, tool_call_id="toolu_01A"),
        ToolCallPart(
            tool_name="get_weather",
            args={"city": "Rome", "unit": "celsius"},
            tool_call_id="toolu_01B",
        ),
    ]


async def test_thinking_and_redacted_thinking_blocks(api):
    response = await ask(
        api,
        reply(
            [
                {"type": "thinking", "thinking": "Let me reason.", "signature": "EqQBCgIYAhIM"},
                {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va3pzix"},
                {"type": "text", "text": "42"},
            ],
            usage={
                "input_tokens": 20,
                "output_tokens": 300,
                "output_tokens_details": {"thinking_tokens": 250},
            },
        ),
    )
    assert response.parts == [
        ThinkingPart(content="Let me reason.", signature="EqQBCgIYAhIM"),
        ThinkingPart(
            content="", redacted=True, provider_details={"redacted_data": "EmwKAhgBEgy3va3pzix"}
        ),
        TextPart(content="42"),
    ]
    assert response.usage.reasoning_tokens == 250
    assert response.usage.output_tokens == 300  # reasoning included


async def test_usage_counts_cached_prompt_tokens_as_input(api):
    response = await ask(
        api,
        reply(
            [{"type": "text", "text": "ok"}],
            usage={
                "input_tokens": 50,
                "cache_read_input_tokens": 1000,
                "cache_creation_input_tokens": 200,
                "output_tokens": 7,
            },
        ),
    )
    assert response.usage == Usage(
        input_tokens=1250,
        output_tokens=7,
        cache_read_tokens=1000,
        cache_write_tokens=200,
        requests=1,
    )


@pytest.mark.parametrize(
    ("stop_reason", "expected"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("model_context_window_exceeded", "length"),
        ("tool_use", "tool_calls"),
        ("refusal", "content_filter"),
        ("pause_turn", "pause_turn"),
    ],
)
async def test_finish_reasons(api, stop_reason, expected):
    response = await ask(api, reply([{"type": "text", "text": "x"}], stop_reason=stop_reason))
    assert response.finish_reason == expected


async def test_server_tool_blocks_are_left_out(api):
    response = await ask(
        api,
        reply(
            [
                {
                    "type": "server_tool_use",
                    "id": "srvtoolu_1",
                    "name": "web_search",
                    "input": {"query": "covey"},
                },
                {"type": "text", "text": "Found it."},
            ]
        ),
    )
    assert response.parts == [TextPart(content="Found it.")]


async def test_large_max_tokens_without_timeout_is_streamed_and_collected(api):
    # The SDK will not send a non-streamed request it expects to take over 10 minutes.
    from covey.spec import ModelSettings

    api.reply_sse(
        api.sse(
            (
                "message_start",
                {
                    "type": "message_start",
                    "message": {
                        "id": "msg_big",
                        "type": "message",
                        "role": "assistant",
                        "model": "claude-sonnet-4-6",
                        "content": [],
                        "stop_reason": None,
                        "stop_sequence": None,
                        "usage": {"input_tokens": 9, "output_tokens": 1},
                    },
                },
            ),
            (
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": 0,
                    "content_block": {"type": "text", "text": ""},
                },
            ),
            (
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": 0,
                    "delta": {"type": "text_delta", "text": "long answer"},
                },
            ),
            ("content_block_stop", {"type": "content_block_stop", "index": 0}),
            (
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                    "usage": {"output_tokens": 3},
                },
            ),
            ("message_stop", {"type": "message_stop"}),
        )
    )
    model = api.model()
    response = await model.request(
        [ModelRequest.user("write a book")], ModelSettings(max_tokens=64_000), ModelRequestParams()
    )
    assert api.body["stream"] is True
    assert api.body["max_tokens"] == 64_000
    assert response.text() == "long answer"
    assert response.usage == Usage(input_tokens=9, output_tokens=3, requests=1)
