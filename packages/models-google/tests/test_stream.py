"""GoogleModel.request_stream through the real SDK: `streamGenerateContent?alt=sse` chunks ->
part events -> one final response, and what a streamed response sends back on the next turn.

Each SSE event is a whole `GenerateContentResponse` holding fragments of parts; usage and the
finish reason come on the last one. A text part's thought signature may come on a final chunk
whose text is empty (as the Gemini docs on thought signatures warn).
"""

from __future__ import annotations

from typing import Any

import pytest

from covey.spec import (
    FinalResponseEvent,
    ModelRequest,
    ModelRequestParams,
    ModelSettings,
    PartDeltaEvent,
    PartEndEvent,
    PartStartEvent,
    TextPart,
    TextPartDelta,
    ThinkingPart,
    ThinkingPartDelta,
    ToolCallPart,
    ToolDefinition,
    ToolReturnPart,
)
from covey.spec.errors import ModelServerError, RateLimitedError

WEATHER = ToolDefinition(
    name="get_weather",
    parameters_json_schema={"type": "object", "properties": {"city": {"type": "string"}}},
)


def chunk(
    *parts: dict[str, Any], finish: str | None = None, usage: dict[str, Any] | None = None
) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": list(parts)}, "index": 0}
    if finish:
        candidate["finishReason"] = finish
    body: dict[str, Any] = {
        "candidates": [candidate],
        "modelVersion": "gemini-2.5-flash",
        "responseId": "stream-1",
    }
    if usage:
        body["usageMetadata"] = usage
    return body


async def collect(model, messages, settings=None, params=None) -> list[Any]:
    return [
        event
        async for event in model.request_stream(messages, settings, params or ModelRequestParams())
    ]


async def test_streamed_text_becomes_part_events_and_a_final_response(gemini, make_model) -> None:
    gemini.add(
        gemini.sse(
            chunk({"text": "The sky"}, usage={"promptTokenCount": 7, "totalTokenCount": 7}),
            chunk({"text": " is"}),
            chunk(
                {"text": " blue."},
                finish="STOP",
                usage={"promptTokenCount": 7, "candidatesTokenCount": 4, "totalTokenCount": 11},
            ),
        )
    )
    model = make_model()

    events = await collect(model, [ModelRequest.user("Sky colour?")])

    assert gemini.path() == "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
    assert gemini.body() == {
        "contents": [{"role": "user", "parts": [{"text": "Sky colour?"}]}],
        "generationConfig": {},
    }
    assert events[:4] == [
        PartStartEvent(0, TextPart(content="The sky")),
        PartDeltaEvent(0, TextPartDelta(" is")),
        PartDeltaEvent(0, TextPartDelta(" blue.")),
        PartEndEvent(0, TextPart(content="The sky is blue.")),
    ]
    final = events[-1]
    assert isinstance(final, FinalResponseEvent)
    assert len(events) == 5
    response = final.response
    assert response.parts == [TextPart(content="The sky is blue.")]
    assert response.finish_reason == "stop"
    assert response.provider_name == "google"
    assert response.provider_response_id == "stream-1"
    assert response.model_name == "gemini-2.5-flash"
    assert (response.usage.input_tokens, response.usage.output_tokens) == (7, 4)
    assert response.usage.requests == 1


async def test_streamed_thinking_then_text_keeps_the_late_signature(gemini, make_model) -> None:
    gemini.add(
        gemini.sse(
            chunk({"text": "**Weighing** options", "thought": True}),
            chunk({"text": " carefully.", "thought": True}),
            chunk({"text": "Take the"}),
            chunk({"text": " train."}),
            chunk(
                {"text": "", "thoughtSignature": "c2lnLXRleHQ="},
                finish="STOP",
                usage={
                    "promptTokenCount": 30,
                    "candidatesTokenCount": 3,
                    "thoughtsTokenCount": 120,
                    "cachedContentTokenCount": 16,
                    "totalTokenCount": 153,
                },
            ),
        ),
        gemini.sse(chunk({"text": "Yes."}, finish="STOP")),
    )
    model = make_model()
    settings = ModelSettings(thinking_budget=512)
    question = ModelRequest.user("Train or plane?")

    events = await collect(model, [question], settings)

    assert gemini.body()["generationConfig"] == {
        "thinkingConfig": {"include_thoughts": True, "thinking_budget": 512}
    }
    assert events[0] == PartStartEvent(0, ThinkingPart(content="**Weighing** options"))
    assert events[1] == PartDeltaEvent(0, ThinkingPartDelta(" carefully."))
    assert events[2] == PartEndEvent(0, ThinkingPart(content="**Weighing** options carefully."))
    assert events[3] == PartStartEvent(1, TextPart(content="Take the"))
    assert events[4] == PartDeltaEvent(1, TextPartDelta(" train."))
    signed = TextPart(
        content="Take the train.", provider_details={"thought_signature": "c2lnLXRleHQ="}
    )
    assert events[5] == PartEndEvent(1, signed)
    response = events[-1].response
    assert response.parts == [ThinkingPart(content="**Weighing** options carefully."), signed]
    usage = response.usage
    assert (usage.input_tokens, usage.output_tokens, usage.reasoning_tokens) == (30, 123, 120)
    assert usage.cache_read_tokens == 16

    await collect(model, [question, response, ModelRequest.user("Sure?")], settings)
    assert gemini.body()["contents"][1] == {
        "role": "model",
        "parts": [
            {"text": "**Weighing** options carefully.", "thought": True},
            {"text": "Take the train.", "thoughtSignature": "c2lnLXRleHQ="},
        ],
    }


async def test_streamed_function_calls_arrive_whole_and_replay_exactly(gemini, make_model) -> None:
    gemini.add(
        gemini.sse(
            chunk({"text": "Checking both."}),
            chunk(
                {
                    "functionCall": {"name": "get_weather", "args": {"city": "Paris"}},
                    "thoughtSignature": "c2lnLWNhbGw=",
                }
            ),
            chunk(
                {"functionCall": {"name": "get_weather", "args": {"city": "Rome"}}},
                finish="STOP",
                usage={"promptTokenCount": 12, "candidatesTokenCount": 20, "totalTokenCount": 32},
            ),
        ),
        gemini.sse(chunk({"text": "Both sunny."}, finish="STOP")),
    )
    model = make_model()
    params = ModelRequestParams(function_tools=[WEATHER])
    question = ModelRequest.user("Paris and Rome?")

    events = await collect(model, [question], params=params)

    starts = [e for e in events if isinstance(e, PartStartEvent)]
    assert [type(e.part).__name__ for e in starts] == ["TextPart", "ToolCallPart", "ToolCallPart"]
    # The whole argument JSON is the call's first (and only) fragment.
    assert starts[1].part.tool_name == "get_weather"
    assert starts[1].part.args == '{"city": "Paris"}'
    ends = {e.index: e.part for e in events if isinstance(e, PartEndEvent)}
    assert set(ends) == {0, 1, 2}
    response = events[-1].response
    assert response.finish_reason == "tool_calls"
    text, paris, rome = response.parts
    assert text == TextPart(content="Checking both.")
    assert isinstance(paris, ToolCallPart)
    assert isinstance(rome, ToolCallPart)
    assert (paris.args_as_dict(), rome.args_as_dict()) == ({"city": "Paris"}, {"city": "Rome"})
    assert paris.provider_details == {"thought_signature": "c2lnLWNhbGw=", "synthetic_id": True}
    assert rome.provider_details == {"synthetic_id": True}
    assert paris.tool_call_id != rome.tool_call_id

    results = ModelRequest(
        parts=[
            ToolReturnPart(tool_name="get_weather", content="sun", tool_call_id=rome.tool_call_id),
            ToolReturnPart(tool_name="get_weather", content="sun", tool_call_id=paris.tool_call_id),
        ]
    )
    await collect(model, [question, response, results], params=params)
    contents = gemini.body()["contents"]
    assert contents[1] == {
        "role": "model",
        "parts": [
            {"text": "Checking both."},
            {
                "functionCall": {"name": "get_weather", "args": {"city": "Paris"}},
                "thoughtSignature": "c2lnLWNhbGw=",
            },
            {"functionCall": {"name": "get_weather", "args": {"city": "Rome"}}},
        ],
    }
    assert [p["functionResponse"]["name"] for p in contents[2]["parts"]] == ["get_weather"] * 2
    assert all("id" not in p["functionResponse"] for p in contents[2]["parts"])


async def test_a_signature_on_its_own_after_a_signed_part_is_replayed_as_its_own_part(
    gemini, make_model
) -> None:
    gemini.add(
        gemini.sse(
            chunk(
                {
                    "functionCall": {"id": "fc-1", "name": "get_weather", "args": {}},
                    "thoughtSignature": "Zmlyc3Q=",
                }
            ),
            chunk({"text": "", "thoughtSignature": "c2Vjb25k"}, finish="STOP"),
        ),
        gemini.sse(chunk({"text": "ok"}, finish="STOP")),
    )
    model = make_model()
    params = ModelRequestParams(function_tools=[WEATHER])
    question = ModelRequest.user("Weather?")

    events = await collect(model, [question], params=params)

    (call,) = events[-1].response.parts
    assert call.provider_details == {
        "thought_signature": "Zmlyc3Q=",
        "trailing_signatures": ["c2Vjb25k"],
    }
    results = ModelRequest(
        parts=[ToolReturnPart(tool_name="get_weather", content="sun", tool_call_id="fc-1")]
    )
    await collect(model, [question, events[-1].response, results], params=params)
    assert gemini.body()["contents"][1]["parts"] == [
        {
            "functionCall": {"id": "fc-1", "name": "get_weather", "args": {}},
            "thoughtSignature": "Zmlyc3Q=",
        },
        {"text": "", "thoughtSignature": "c2Vjb25k"},
    ]


async def test_a_signed_thought_keeps_its_signature(gemini, make_model) -> None:
    gemini.add(
        gemini.sse(
            chunk({"text": "Plan.", "thought": True, "thoughtSignature": "dGhvdWdodA=="}),
            chunk({"text": "Done."}, finish="STOP"),
        )
    )
    events = await collect(make_model("gemini-3-pro-preview"), [ModelRequest.user("go")])
    thinking, text = events[-1].response.parts
    assert thinking == ThinkingPart(
        content="Plan.",
        signature="dGhvdWdodA==",
        provider_details={"thought_signature": "dGhvdWdodA=="},
    )
    assert text == TextPart(content="Done.")


async def test_max_tokens_in_a_stream_is_length(gemini, make_model) -> None:
    gemini.add(gemini.sse(chunk({"text": "Once upon"}, finish="MAX_TOKENS")))
    events = await collect(make_model(), [ModelRequest.user("story")])
    assert events[-1].response.finish_reason == "length"


async def test_an_error_status_when_the_stream_starts_is_mapped(gemini, make_model) -> None:
    gemini.add(
        gemini.error(
            429,
            "Resource has been exhausted (e.g. check quota).",
            "RESOURCE_EXHAUSTED",
            details=[{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "9s"}],
        )
    )
    with pytest.raises(RateLimitedError) as caught:
        await collect(make_model(), [ModelRequest.user("go")])
    assert caught.value.retry_after == 9.0


async def test_an_error_event_inside_the_stream_is_mapped(gemini, make_model) -> None:
    gemini.add(
        gemini.sse(
            chunk({"text": "Partial"}),
            {
                "error": {
                    "code": 503,
                    "message": "The model is overloaded.",
                    "status": "UNAVAILABLE",
                }
            },
        )
    )
    seen: list[Any] = []

    async def consume() -> None:
        async for event in make_model().request_stream(
            [ModelRequest.user("go")], None, ModelRequestParams()
        ):
            seen.append(event)

    with pytest.raises(ModelServerError) as caught:
        await consume()
    assert caught.value.status_code == 503
    assert "overloaded" in str(caught.value)
    assert seen == [PartStartEvent(0, TextPart(content="Partial"))]
