"""OpenAIChatModel.request_stream: SSE chunks to part events and one final response."""

from __future__ import annotations

from typing import Any

from covey.models.openai import OpenAIChatModel
from covey.spec import (
    FinalResponseEvent,
    ModelRequest,
    ModelRequestParams,
    ModelStreamEvent,
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
)


def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> dict[str, Any]:
    """A `chat.completion.chunk` as in the API reference's streaming example."""
    return {
        "id": "chatcmpl-123",
        "object": "chat.completion.chunk",
        "created": 1694268190,
        "model": "gpt-4o-mini-2024-07-18",
        "system_fingerprint": "fp_44709d6fcb",
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        **extra,
    }


USAGE_CHUNK = {
    "id": "chatcmpl-123",
    "object": "chat.completion.chunk",
    "created": 1694268190,
    "model": "gpt-4o-mini-2024-07-18",
    "choices": [],
    "usage": {
        "prompt_tokens": 12,
        "completion_tokens": 7,
        "total_tokens": 19,
        "prompt_tokens_details": {"cached_tokens": 4},
        "completion_tokens_details": {"reasoning_tokens": 0},
    },
}


async def collect(model: OpenAIChatModel, **params: Any) -> list[ModelStreamEvent]:
    return [
        event
        async for event in model.request_stream(
            [ModelRequest.user("Hi")], None, ModelRequestParams(**params)
        )
    ]


async def test_streamed_text(mock_openai: Any, sse: Any) -> None:
    mock = mock_openai(
        sse(
            chunk({"role": "assistant", "content": "", "refusal": None}),
            chunk({"content": "Hello"}),
            chunk({"content": " there"}),
            chunk({}, "stop"),
            USAGE_CHUNK,
            "[DONE]",
        )
    )
    m = OpenAIChatModel("gpt-4o-mini", api_key="sk-test-123456", http_client=mock.client)

    events = await collect(m)

    assert mock.body() == {
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": "Hi"}],
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    assert events[:3] == [
        PartStartEvent(0, TextPart(content="Hello")),
        PartDeltaEvent(0, TextPartDelta(" there")),
        PartEndEvent(0, TextPart(content="Hello there")),
    ]
    final = events[-1]
    assert isinstance(final, FinalResponseEvent)
    assert len(events) == 4
    response = final.response
    assert response.parts == [TextPart(content="Hello there")]
    assert response.finish_reason == "stop"
    assert response.provider_response_id == "chatcmpl-123"
    assert response.model_name == "gpt-4o-mini-2024-07-18"
    assert (response.usage.input_tokens, response.usage.output_tokens) == (12, 7)
    assert response.usage.cache_read_tokens == 4
    assert response.usage.requests == 1


async def test_streamed_parallel_tool_calls_in_fragments(mock_openai: Any, sse: Any) -> None:
    def call(index: int, **fields: Any) -> dict[str, Any]:
        return chunk({"tool_calls": [{"index": index, **fields}]})

    mock = mock_openai(
        sse(
            chunk({"role": "assistant", "content": None}),
            call(
                0, id="call_a", type="function", function={"name": "get_weather", "arguments": ""}
            ),
            call(0, function={"arguments": '{"ci'}),
            call(0, function={"arguments": 'ty": "Paris"}'}),
            call(1, id="call_b", type="function", function={"name": "get_time", "arguments": ""}),
            call(1, function={"arguments": '{"tz": "CET"}'}),
            chunk({}, "tool_calls"),
            USAGE_CHUNK,
            "[DONE]",
        )
    )
    m = OpenAIChatModel("gpt-4.1", api_key="sk-test-123456", http_client=mock.client)

    events = await collect(
        m, function_tools=[ToolDefinition(name="get_weather"), ToolDefinition(name="get_time")]
    )

    assert events[:5] == [
        PartStartEvent(0, ToolCallPart(tool_name="get_weather", args="", tool_call_id="call_a")),
        PartDeltaEvent(0, ToolCallPartDelta('{"ci')),
        PartDeltaEvent(0, ToolCallPartDelta('ty": "Paris"}')),
        PartStartEvent(1, ToolCallPart(tool_name="get_time", args="", tool_call_id="call_b")),
        PartDeltaEvent(1, ToolCallPartDelta('{"tz": "CET"}')),
    ]
    final = events[-1]
    assert isinstance(final, FinalResponseEvent)
    assert final.response.tool_calls() == [
        ToolCallPart(tool_name="get_weather", args='{"city": "Paris"}', tool_call_id="call_a"),
        ToolCallPart(tool_name="get_time", args='{"tz": "CET"}', tool_call_id="call_b"),
    ]
    assert final.response.finish_reason == "tool_calls"
    ends = [e for e in events if isinstance(e, PartEndEvent)]
    assert [e.index for e in ends] == [0, 1]


async def test_interleaved_tool_call_fragments_stay_apart(mock_openai: Any, sse: Any) -> None:
    def call(index: int, **fields: Any) -> dict[str, Any]:
        return chunk({"tool_calls": [{"index": index, **fields}]})

    mock = mock_openai(
        sse(
            call(0, id="call_a", function={"name": "a", "arguments": '{"x":'}),
            call(1, id="call_b", function={"name": "b", "arguments": '{"y":'}),
            call(0, function={"arguments": " 1}"}),
            call(1, function={"arguments": " 2}"}),
            chunk({}, "tool_calls"),
            "[DONE]",
        )
    )
    m = OpenAIChatModel("gpt-4.1", api_key="sk-test-123456", http_client=mock.client)
    final = (await collect(m))[-1]
    assert isinstance(final, FinalResponseEvent)
    assert [c.args for c in final.response.tool_calls()] == ['{"x": 1}', '{"y": 2}']
    # No usage chunk (a server that ignores stream_options): one request, no tokens known.
    assert final.response.usage.requests == 1
    assert final.response.usage.input_tokens == 0


async def test_tool_call_without_id_gets_one(mock_openai: Any, sse: Any) -> None:
    mock = mock_openai(
        sse(
            chunk({"tool_calls": [{"index": 0, "function": {"name": "a", "arguments": "{}"}}]}),
            chunk({}, "tool_calls"),
            "[DONE]",
        )
    )
    m = OpenAIChatModel("llama3.2", provider="ollama", http_client=mock.client)
    events = await collect(m)
    final = events[-1]
    assert isinstance(final, FinalResponseEvent)
    call_id = final.response.tool_calls()[0].tool_call_id
    assert call_id.startswith("call_")
    start = events[0]
    assert isinstance(start, PartStartEvent)
    assert isinstance(start.part, ToolCallPart)
    assert start.part.tool_call_id == call_id


async def test_streamed_reasoning_content_then_text(mock_openai: Any, sse: Any) -> None:
    mock = mock_openai(
        sse(
            chunk({"role": "assistant", "content": None, "reasoning_content": "Six"}),
            chunk({"content": None, "reasoning_content": " sevens."}),
            chunk({"content": "42"}),
            chunk({}, "stop"),
            "[DONE]",
        )
    )
    m = OpenAIChatModel(
        "deepseek-reasoner", provider="deepseek", api_key="ds-123456", http_client=mock.client
    )
    events = await collect(m)
    assert events[:5] == [
        PartStartEvent(0, ThinkingPart(content="Six")),
        PartDeltaEvent(0, ThinkingPartDelta(" sevens.")),
        PartEndEvent(0, ThinkingPart(content="Six sevens.")),
        PartStartEvent(1, TextPart(content="42")),
        PartEndEvent(1, TextPart(content="42")),
    ]
    final = events[-1]
    assert isinstance(final, FinalResponseEvent)
    assert final.response.parts == [ThinkingPart(content="Six sevens."), TextPart(content="42")]


async def test_streamed_refusal(mock_openai: Any, sse: Any) -> None:
    mock = mock_openai(
        sse(
            chunk({"refusal": "I can't"}), chunk({"refusal": " help."}), chunk({}, "stop"), "[DONE]"
        )
    )
    m = OpenAIChatModel("gpt-4.1", api_key="sk-test-123456", http_client=mock.client)
    final = (await collect(m))[-1]
    assert isinstance(final, FinalResponseEvent)
    assert final.response.text() == "I can't help."
    assert final.response.finish_reason == "content_filter"


async def test_stream_closed_when_consumer_stops_early(mock_openai: Any, sse: Any) -> None:
    mock = mock_openai(
        sse(chunk({"content": "a"}), chunk({"content": "b"}), chunk({}, "stop"), "[DONE]")
    )
    m = OpenAIChatModel("gpt-4.1", api_key="sk-test-123456", http_client=mock.client)
    stream = m.request_stream([ModelRequest.user("Hi")], None, ModelRequestParams())
    first = await anext(stream)
    assert isinstance(first, PartStartEvent)
    await stream.aclose()  # must not raise, and releases the HTTP response
