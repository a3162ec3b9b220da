"""FakeGeminiServer on loopback, driven by GoogleModel through the real SDK and by plain HTTP."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest

from covey.models.google import GoogleModel
from covey.models.google.testing import (
    FakeGeminiServer,
    RecordedRequest,
    ScriptedResponse,
    answer,
    error_answer,
    function_call_answer,
    function_call_part,
    stream_answer,
    text_answer,
    text_part,
    usage_metadata,
)
from covey.spec import (
    FinalResponseEvent,
    ModelRequest,
    ModelRequestParams,
    ModelSettings,
    TextPart,
    ToolDefinition,
)
from covey.spec.errors import ModelConnectionError, ModelServerError, RateLimitedError

TOOL = ToolDefinition(name="lookup", parameters_json_schema={"type": "object", "properties": {}})


def post(url: str, body: Any) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"content-type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


async def test_scripted_answers_reach_the_model_and_requests_are_recorded() -> None:
    script = [
        function_call_answer("lookup", {"q": "covey"}, thought_signature="c2ln"),
        text_answer("A covey is a small flock.", usage=usage_metadata(30, 7, cached=10)),
    ]
    with FakeGeminiServer(script) as server:
        model = GoogleModel("gemini-2.5-flash", api_key="fake-key", base_url=server.url)
        try:
            first = await model.request(
                [ModelRequest.user("What is a covey?")],
                None,
                ModelRequestParams(function_tools=[TOOL]),
            )
            second = await model.request(
                [ModelRequest.user("What is a covey?"), first],
                None,
                ModelRequestParams(function_tools=[TOOL]),
            )
        finally:
            await model.aclose()

        assert [r.path for r in server.requests] == [
            "/v1beta/models/gemini-2.5-flash:generateContent"
        ] * 2
        recorded = server.requests[1]
        assert recorded.api_version == "v1beta"
        assert recorded.model == "gemini-2.5-flash"
        assert recorded.action == "generateContent"
        assert recorded.headers["x-goog-api-key"] == "fake-key"
        assert recorded.body["contents"][1] == {
            "role": "model",
            "parts": [
                {
                    "functionCall": {"name": "lookup", "args": {"q": "covey"}},
                    "thoughtSignature": "c2ln",
                }
            ],
        }
    (call,) = first.tool_calls()
    assert call.args == {"q": "covey"}
    assert second.text() == "A covey is a small flock."
    assert (second.usage.input_tokens, second.usage.cache_read_tokens) == (30, 10)


async def test_a_whole_answer_is_streamed_in_chunks_for_a_streaming_request() -> None:
    body = text_answer("one two three four five six", thinking="first, think")
    with FakeGeminiServer([body]) as server:
        model = GoogleModel("gemini-2.5-flash", api_key="k", base_url=server.url)
        try:
            events = [
                e
                async for e in model.request_stream(
                    [ModelRequest.user("count")], ModelSettings(), ModelRequestParams()
                )
            ]
        finally:
            await model.aclose()
        assert server.last_request.stream
        assert server.last_request.query == {"alt": "sse"}
    final = events[-1]
    assert isinstance(final, FinalResponseEvent)
    assert final.response.text() == "one two three four five six"
    assert final.response.parts[0].kind == "thinking"
    assert len(events) > 5  # several deltas, not one block


async def test_default_server_echoes_and_streams() -> None:
    with FakeGeminiServer() as server:
        model = GoogleModel("gemini-2.5-flash", api_key="k", base_url=server.url)
        try:
            response = await model.request([ModelRequest.user("ping")], None, ModelRequestParams())
            events = [
                e
                async for e in model.request_stream(
                    [ModelRequest.user("pong")], None, ModelRequestParams()
                )
            ]
        finally:
            await model.aclose()
    assert response.parts == [TextPart(content="Echo: ping")]
    assert events[-1].response.text() == "Echo: pong"


async def test_errors_and_explicit_streams_are_served_as_scripted() -> None:
    script = [
        error_answer(429, "slow down", retry_delay="2s", headers={"x-extra": "1"}),
        error_answer(503, "overloaded"),
        stream_answer(
            [
                answer([text_part("Hel")]),
                answer([text_part("lo")], usage=usage_metadata(3, 2)),
            ]
        ),
    ]
    with FakeGeminiServer(script) as server:
        model = GoogleModel("gemini-2.5-flash", api_key="k", base_url=server.url)
        try:
            with pytest.raises(RateLimitedError) as caught:
                await model.request([ModelRequest.user("x")], None, ModelRequestParams())
            assert caught.value.retry_after == 2.0
            with pytest.raises(ModelServerError):
                await model.request([ModelRequest.user("x")], None, ModelRequestParams())
            events = [
                e
                async for e in model.request_stream(
                    [ModelRequest.user("x")], None, ModelRequestParams()
                )
            ]
        finally:
            await model.aclose()
    assert events[-1].response.text() == "Hello"
    assert events[-1].response.usage.output_tokens == 2


async def test_a_responder_builds_answers_from_the_request() -> None:
    def responder(request: RecordedRequest) -> dict[str, Any]:
        return answer(
            [text_part(f"you said {request.user_text()!r}"), function_call_part("lookup")]
        )

    with FakeGeminiServer(responder) as server:
        model = GoogleModel("gemini-2.5-flash", api_key="k", base_url=server.url)
        try:
            response = await model.request(
                [ModelRequest.user("hi")], None, ModelRequestParams(function_tools=[TOOL])
            )
        finally:
            await model.aclose()
    assert response.text() == "you said 'hi'"
    assert [c.tool_name for c in response.tool_calls()] == ["lookup"]


async def test_a_slow_answer_times_out_as_a_connection_error() -> None:
    with FakeGeminiServer([ScriptedResponse(body=text_answer("late"), delay=1.5)]) as server:
        model = GoogleModel("gemini-2.5-flash", api_key="k", base_url=server.url)
        try:
            with pytest.raises(ModelConnectionError, match="timed out"):
                await model.request(
                    [ModelRequest.user("x")], ModelSettings(timeout=0.3), ModelRequestParams()
                )
        finally:
            await model.aclose()


async def test_an_unreachable_server_is_a_connection_error() -> None:
    with FakeGeminiServer() as server:
        url = server.url
    model = GoogleModel("gemini-2.5-flash", api_key="k", base_url=url)
    try:
        with pytest.raises(ModelConnectionError):
            await model.request([ModelRequest.user("x")], None, ModelRequestParams())
    finally:
        await model.aclose()


def test_plain_http_against_the_fake() -> None:
    with FakeGeminiServer([text_answer("hi")]) as server:
        status, _, raw = post(
            f"{server.url}/v1beta/models/gemini-2.5-flash:generateContent",
            {"contents": [{"role": "user", "parts": [{"text": "x"}]}]},
        )
        assert status == 200
        assert json.loads(raw)["candidates"][0]["content"]["parts"] == [{"text": "hi"}]
        # The script ran out: a 500 that says so.
        status, _, raw = post(f"{server.url}/v1beta/models/m:generateContent", {})
        assert status == 500
        assert "no scripted response left" in json.loads(raw)["error"]["message"]
        assert len(server.requests) == 2


def test_default_embeddings_count_tokens_and_unknown_paths() -> None:
    with FakeGeminiServer() as server:
        status, _, raw = post(
            f"{server.url}/v1beta/models/gemini-embedding-001:embedContent",
            {"content": {"parts": [{"text": "hello"}]}, "outputDimensionality": 16},
        )
        assert status == 200
        assert len(json.loads(raw)["embedding"]["values"]) == 16
        status, _, raw = post(
            f"{server.url}/v1beta/models/gemini-embedding-001:batchEmbedContents",
            {"requests": [{"content": {"parts": [{"text": "a"}]}}]},
        )
        assert len(json.loads(raw)["embeddings"][0]["values"]) == 3072
        status, _, raw = post(f"{server.url}/v1beta/models/m:countTokens", {"contents": []})
        assert status == 200
        assert "totalTokens" in json.loads(raw)
        status, _, _ = post(f"{server.url}/v1beta/files", {})
        assert status == 404


def test_url_needs_a_running_server() -> None:
    server = FakeGeminiServer()
    with pytest.raises(RuntimeError, match="not running"):
        _ = server.url
