"""`FakeAnthropicServer` over real loopback HTTP, driven by the real SDK through the adapter."""

from __future__ import annotations

import json
import time

import httpx2
import pytest

from covey.models.anthropic import AnthropicModel
from covey.models.anthropic.testing import (
    DEFAULT_REPLY,
    FakeAnthropicServer,
    FakeResponse,
    error_body,
    message,
    message_events,
    text_message,
    thinking_message,
    tool_call_message,
)
from covey.spec import (
    FinalResponseEvent,
    ModelRequest,
    ModelRequestParams,
    ModelSettings,
    PartDeltaEvent,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    ToolDefinition,
    Usage,
)
from covey.spec.errors import (
    AuthenticationError,
    ModelHTTPError,
    ModelServerError,
    RateLimitedError,
)

KEY = "sk-ant-fake-key"
HI = [ModelRequest.user("hi")]


def model_for(server: FakeAnthropicServer, **kwargs) -> AnthropicModel:
    kwargs.setdefault("api_key", KEY)
    return AnthropicModel("claude-sonnet-4-6", base_url=server.url, **kwargs)


async def stream(model, messages=HI, settings=None, params=None):
    return [
        e async for e in model.request_stream(messages, settings, params or ModelRequestParams())
    ]


async def test_scripted_responses_in_order_and_requests_recorded():
    script = [text_message("first"), tool_call_message("get_time", {"tz": "UTC"})]
    with FakeAnthropicServer(script) as server:
        assert server.url.startswith("http://127.0.0.1:")
        model = model_for(server)
        one = await model.request(HI, ModelSettings(max_tokens=50), ModelRequestParams())
        two = await model.request(
            HI, None, ModelRequestParams(function_tools=[ToolDefinition(name="get_time")])
        )
        await model.aclose()

    assert one.text() == "first"
    assert two.parts == [
        ToolCallPart(tool_name="get_time", args={"tz": "UTC"}, tool_call_id="toolu_fake_1")
    ]
    assert two.finish_reason == "tool_calls"
    first, second = server.requests
    assert (first.method, first.path) == ("POST", "/v1/messages")
    assert first.headers["content-type"] == "application/json"
    assert first.body["max_tokens"] == 50
    assert first.body["messages"] == [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]
    assert second.body["tools"][0]["name"] == "get_time"
    assert server.last_request is second
    assert json.loads(second.raw) == second.body


async def test_a_scripted_message_is_streamed_when_the_request_streams():
    body = text_message("Hello there friend", input_tokens=7, output_tokens=4)
    with FakeAnthropicServer([body]) as server:
        events = await stream(model_for(server))

    assert server.requests[0].streamed
    deltas = [e for e in events if isinstance(e, PartDeltaEvent)]
    assert len(deltas) >= 2  # word-sized pieces
    final = events[-1]
    assert isinstance(final, FinalResponseEvent)
    assert final.response.parts == [TextPart(content="Hello there friend")]
    assert final.response.usage == Usage(input_tokens=7, output_tokens=4, requests=1)


async def test_streamed_thinking_and_tool_call_round_trip():
    script = [
        thinking_message("Think step by step", "Done", signature="sig-123", thinking_tokens=5),
        tool_call_message("lookup", {"q": "a long query string"}, text="Looking."),
    ]
    with FakeAnthropicServer(script) as server:
        model = model_for(server)
        thought = (await stream(model))[-1].response
        called = (await stream(model))[-1].response

    assert thought.parts == [
        ThinkingPart(content="Think step by step", signature="sig-123"),
        TextPart(content="Done"),
    ]
    assert thought.usage.reasoning_tokens == 5
    assert called.parts[0] == TextPart(content="Looking.")
    call = called.parts[1]
    assert isinstance(call, ToolCallPart)
    assert call.args_as_dict() == {"q": "a long query string"}


def test_sse_wire_format_has_event_and_data_lines():
    with (
        FakeAnthropicServer([text_message("hi")]) as server,
        httpx2.Client() as client,
    ):
        response = client.post(
            f"{server.url}/v1/messages",
            json={"model": "m", "max_tokens": 5, "messages": [], "stream": True},
        )
    assert response.headers["content-type"].startswith("text/event-stream")
    blocks = [b for b in response.text.split("\n\n") if b]
    names = [b.splitlines()[0] for b in blocks]
    assert names[0] == "event: message_start"
    assert names[-2:] == ["event: message_delta", "event: message_stop"]
    for block in blocks:
        event_line, data_line = block.splitlines()
        assert event_line.startswith("event: ")
        data = json.loads(data_line.removeprefix("data: "))
        assert data["type"] == event_line.removeprefix("event: ")


def test_message_events_shape():
    events = message_events(
        message(
            [{"type": "tool_use", "id": "t1", "name": "f", "input": {"k": "abcdefg"}}],
            stop_reason="tool_use",
            output_tokens=9,
        )
    )
    names = [name for name, _ in events]
    assert names == [
        "message_start",
        "ping",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert events[2][1]["content_block"] == {
        "type": "tool_use",
        "id": "t1",
        "name": "f",
        "input": {},
    }
    fragments = "".join(e[1]["delta"]["partial_json"] for e in events[3:5])
    assert json.loads(fragments) == {"k": "abcdefg"}
    assert events[-2][1]["delta"]["stop_reason"] == "tool_use"
    assert events[-2][1]["usage"] == {"output_tokens": 9}


async def test_responder_function_builds_each_response():
    def echo(request):
        last = request.body["messages"][-1]["content"][0]["text"]
        return text_message(f"echo: {last}")

    with FakeAnthropicServer(echo) as server:
        model = model_for(server)
        response = await model.request([ModelRequest.user("ping")], None, ModelRequestParams())
        streamed = (await stream(model, [ModelRequest.user("pong")]))[-1].response
    assert response.text() == "echo: ping"
    assert streamed.text() == "echo: pong"


async def test_default_server_answers_every_request():
    with FakeAnthropicServer() as server:
        model = model_for(server)
        assert (await model.request(HI, None, ModelRequestParams())).text() == DEFAULT_REPLY
        assert (await stream(model))[-1].response.text() == DEFAULT_REPLY
        assert (await model.request(HI, None, ModelRequestParams())).text() == DEFAULT_REPLY


async def test_api_key_is_checked_when_given():
    with FakeAnthropicServer(api_key=KEY) as server:
        ok = await model_for(server).request(HI, None, ModelRequestParams())
        with pytest.raises(AuthenticationError):
            await model_for(server, api_key="sk-wrong").request(HI, None, ModelRequestParams())
    assert ok.text() == DEFAULT_REPLY


async def test_exhausted_script_fails_loudly():
    with FakeAnthropicServer([text_message("only one")]) as server:
        model = model_for(server)
        await model.request(HI, None, ModelRequestParams())
        with pytest.raises(ModelServerError, match="no scripted response left for request #2"):
            await model.request(HI, None, ModelRequestParams())


async def test_scripted_errors_over_http():
    script = [
        FakeResponse.error(429, "rate_limit_error", "Too many", headers={"retry-after": "3"}),
        FakeResponse.error(529, "overloaded_error", "Overloaded"),
        FakeResponse.stream(
            [
                *message_events(text_message("partial"))[:4],
                ("error", error_body("overloaded_error", "Overloaded")),
            ]
        ),
    ]
    with FakeAnthropicServer(script) as server:
        model = model_for(server)
        with pytest.raises(RateLimitedError) as limited:
            await model.request(HI, None, ModelRequestParams())
        with pytest.raises(ModelServerError) as overloaded:
            await model.request(HI, None, ModelRequestParams())
        with pytest.raises(ModelServerError):
            await stream(model)
    assert limited.value.retry_after == 3.0
    assert overloaded.value.status_code == 529


async def test_other_paths_are_404():
    with FakeAnthropicServer() as server, httpx2.Client() as client:
        response = client.get(f"{server.url}/v1/models")
    assert response.status_code == 404
    assert response.json()["error"]["type"] == "not_found_error"
    assert server.requests[0].method == "GET"


async def test_raw_response_and_add():
    with FakeAnthropicServer([]) as server:
        server.add(
            FakeResponse.raw(b"not json", status=400, headers={"content-type": "text/plain"})
        )
        with pytest.raises(ModelHTTPError) as caught:
            await model_for(server).request(HI, None, ModelRequestParams())
    assert caught.value.status_code == 400


async def test_closing_a_slow_stream_early_does_not_hang():
    slow = FakeResponse.stream(
        message_events(text_message("one two three four five six")), event_delay=0.05
    )
    with FakeAnthropicServer([slow]) as server:
        model = model_for(server)
        started = time.monotonic()
        agen = model.request_stream(HI, None, ModelRequestParams())
        first = await agen.__anext__()
        await agen.aclose()
        await model.aclose()
    assert first is not None
    assert time.monotonic() - started < 5


def test_url_needs_a_running_server():
    server = FakeAnthropicServer()
    with pytest.raises(RuntimeError, match="not running"):
        _ = server.url
    server.start()
    try:
        assert server.url.startswith("http://127.0.0.1:")
    finally:
        server.close()
        server.close()  # idempotent
