"""OpenAIResponsesModel: requests, parsing, reasoning replay, streaming events and errors."""

from __future__ import annotations

import base64
import copy
from typing import Any

import httpx2
import pytest

from covey.models.openai import OpenAIResponsesModel
from covey.spec import (
    AudioContent,
    DocumentContent,
    FinalResponseEvent,
    ImageContent,
    ModelRequest,
    ModelRequestParams,
    ModelResponse,
    ModelSettings,
    ModelStreamEvent,
    PartDeltaEvent,
    PartEndEvent,
    PartStartEvent,
    RetryPart,
    SystemPart,
    TextContent,
    TextPart,
    TextPartDelta,
    ThinkingPart,
    ThinkingPartDelta,
    ToolCallPart,
    ToolCallPartDelta,
    ToolDefinition,
    ToolReturnPart,
    UserPart,
)
from covey.spec.errors import (
    ConfigurationError,
    ContextOverflowError,
    ModelServerError,
    RateLimitedError,
)
from covey.spec.models import OutputSchema

ENCRYPTED = "gAAAAABoISQ24OyVRYbkYfukrWJmFeFJjPo3sB1kEU7TzRl_encrypted"

# A `response` object as in the Responses API reference (POST /v1/responses).
BASE_RESPONSE: dict[str, Any] = {
    "id": "resp_67ccd2bed1ec8190b14f964abc0542670bb6a6b452d3795b",
    "object": "response",
    "created_at": 1741476542,
    "status": "completed",
    "error": None,
    "incomplete_details": None,
    "instructions": None,
    "max_output_tokens": None,
    "model": "gpt-4.1-2025-04-14",
    "output": [
        {
            "type": "message",
            "id": "msg_67ccd2bf17f0819081ff3bb2cf6508e60bb6a6b452d3795b",
            "status": "completed",
            "role": "assistant",
            "content": [
                {
                    "type": "output_text",
                    "text": "In a peaceful grove beneath a silver moon...",
                    "annotations": [],
                }
            ],
        }
    ],
    "parallel_tool_calls": True,
    "previous_response_id": None,
    "reasoning": {"effort": None, "summary": None},
    "store": False,
    "temperature": 1.0,
    "text": {"format": {"type": "text"}},
    "tool_choice": "auto",
    "tools": [],
    "top_p": 1.0,
    "truncation": "disabled",
    "usage": {
        "input_tokens": 36,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": 87,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": 123,
    },
    "user": None,
    "metadata": {},
}

REASONING_ITEM = {
    "type": "reasoning",
    "id": "rs_6820f383d7c08191846711c5df8233bc0ac5ba57aafcbac7",
    "summary": [
        {"type": "summary_text", "text": "**Checking the weather**"},
        {"type": "summary_text", "text": "The user wants Paris."},
    ],
    "encrypted_content": ENCRYPTED,
}
CALL_ITEM = {
    "type": "function_call",
    "id": "fc_12345xyz",
    "call_id": "call_12345xyz",
    "name": "get_weather",
    "arguments": '{"location":"Paris, France"}',
    "status": "completed",
}
WEATHER = ToolDefinition(
    name="get_weather",
    description="Weather for a location.",
    parameters_json_schema={"type": "object", "properties": {"location": {"type": "string"}}},
)


def response_body(*output: dict[str, Any], **fields: Any) -> dict[str, Any]:
    body = copy.deepcopy(BASE_RESPONSE)
    if output:
        body["output"] = list(output)
    body.update(fields)
    return body


def model(mock: Any, name: str = "gpt-4.1", **kwargs: Any) -> OpenAIResponsesModel:
    return OpenAIResponsesModel(name, api_key="sk-test-123456", http_client=mock.client, **kwargs)


async def test_text_request_and_response(mock_openai: Any) -> None:
    mock = mock_openai(httpx2.Response(200, json=BASE_RESPONSE))
    response = await model(mock).request(
        [ModelRequest(parts=[SystemPart(content="Be kind."), UserPart(content="A story")])],
        ModelSettings(max_tokens=500, temperature=0.7, top_p=0.9),
        ModelRequestParams(),
    )

    assert str(mock.requests[0].url) == "https://api.openai.com/v1/responses"
    assert mock.body() == {
        "model": "gpt-4.1",
        "input": [
            {"role": "system", "content": "Be kind."},
            {"role": "user", "content": "A story"},
        ],
        "store": False,
        "max_output_tokens": 500,
        "temperature": 0.7,
        "top_p": 0.9,
    }
    assert response.parts == [
        TextPart(
            content="In a peaceful grove beneath a silver moon...",
            provider_details={"id": "msg_67ccd2bf17f0819081ff3bb2cf6508e60bb6a6b452d3795b"},
        )
    ]
    assert response.finish_reason == "stop"
    assert response.provider_response_id == BASE_RESPONSE["id"]
    assert response.model_name == "gpt-4.1-2025-04-14"
    assert (response.usage.input_tokens, response.usage.output_tokens) == (36, 87)


async def test_reasoning_and_function_call_are_replayed(mock_openai: Any) -> None:
    first_body = response_body(
        REASONING_ITEM,
        CALL_ITEM,
        model="o4-mini-2025-04-16",
        usage={
            "input_tokens": 81,
            "input_tokens_details": {"cached_tokens": 64},
            "output_tokens": 1035,
            "output_tokens_details": {"reasoning_tokens": 832},
            "total_tokens": 1116,
        },
    )
    second_body = response_body(
        {
            "type": "message",
            "id": "msg_2",
            "status": "completed",
            "role": "assistant",
            "phase": "final_answer",
            "content": [{"type": "output_text", "text": "It is 21°C.", "annotations": []}],
        },
        model="o4-mini-2025-04-16",
    )
    mock = mock_openai(
        httpx2.Response(200, json=first_body), httpx2.Response(200, json=second_body)
    )
    m = model(mock, "o4-mini", reasoning_summary="auto")
    params = ModelRequestParams(function_tools=[WEATHER])
    history: list[Any] = [ModelRequest.user("Weather in Paris?")]

    first = await m.request(history, ModelSettings(reasoning_effort="low"), params)

    assert mock.body(0) == {
        "model": "o4-mini",
        "input": [{"role": "user", "content": "Weather in Paris?"}],
        "store": False,
        "tools": [
            {
                "type": "function",
                "name": "get_weather",
                "parameters": WEATHER.parameters_json_schema,
                "strict": False,
                "description": "Weather for a location.",
            }
        ],
        "reasoning": {"effort": "low", "summary": "auto"},
        "include": ["reasoning.encrypted_content"],
    }
    assert first.parts == [
        ThinkingPart(
            content="**Checking the weather**\n\nThe user wants Paris.",
            id="rs_6820f383d7c08191846711c5df8233bc0ac5ba57aafcbac7",
            provider_details={
                "summary": ["**Checking the weather**", "The user wants Paris."],
                "encrypted_content": ENCRYPTED,
            },
        ),
        ToolCallPart(
            tool_name="get_weather",
            args='{"location":"Paris, France"}',
            tool_call_id="call_12345xyz",
            provider_details={"id": "fc_12345xyz"},
        ),
    ]
    assert first.finish_reason == "tool_calls"
    assert first.usage.cache_read_tokens == 64
    assert first.usage.reasoning_tokens == 832

    history += [
        first,
        ModelRequest(
            parts=[
                ToolReturnPart(
                    tool_name="get_weather", content="21°C", tool_call_id="call_12345xyz"
                )
            ]
        ),
    ]
    second = await m.request(history, None, params)

    assert mock.body(1)["input"] == [
        {"role": "user", "content": "Weather in Paris?"},
        {
            "type": "reasoning",
            "id": "rs_6820f383d7c08191846711c5df8233bc0ac5ba57aafcbac7",
            "summary": [
                {"type": "summary_text", "text": "**Checking the weather**"},
                {"type": "summary_text", "text": "The user wants Paris."},
            ],
            "encrypted_content": ENCRYPTED,
        },
        {
            "type": "function_call",
            "call_id": "call_12345xyz",
            "name": "get_weather",
            "arguments": '{"location":"Paris, France"}',
            "id": "fc_12345xyz",
        },
        {"type": "function_call_output", "call_id": "call_12345xyz", "output": "21°C"},
    ]
    assert second.parts == [
        TextPart(content="It is 21°C.", provider_details={"id": "msg_2", "phase": "final_answer"})
    ]

    # The assistant message is replayed with its id and phase.
    history += [second, ModelRequest.user("Thanks")]
    mock_again = mock_openai(httpx2.Response(200, json=BASE_RESPONSE))
    again = OpenAIResponsesModel("o4-mini", api_key="sk-test-123456", http_client=mock_again.client)
    await again.request(history, None, params)
    assert mock_again.body()["input"][-2] == {
        "type": "message",
        "role": "assistant",
        "id": "msg_2",
        "status": "completed",
        "content": [{"type": "output_text", "text": "It is 21°C.", "annotations": []}],
        "phase": "final_answer",
    }


@pytest.mark.parametrize("effort", ["none", "minimal", "xhigh"])
async def test_every_reasoning_effort_is_sent_as_is(mock_openai: Any, effort: str) -> None:
    """Fails if an effort the API names (`none`, `xhigh`) is changed or dropped on the way."""
    mock = mock_openai(httpx2.Response(200, json=response_body(model="gpt-5.2")))
    await model(mock, "gpt-5.2").request(
        [ModelRequest.user("Hi")], ModelSettings(reasoning_effort=effort), ModelRequestParams()
    )
    assert mock.body()["reasoning"] == {"effort": effort}


async def test_foreign_thinking_is_not_replayed_and_ids_are_dropped(mock_openai: Any) -> None:
    mock = mock_openai(httpx2.Response(200, json=BASE_RESPONSE))
    history = [
        ModelRequest.user("Hi"),
        ModelResponse(
            parts=[
                ThinkingPart(content="Anthropic thoughts", signature="sig"),
                TextPart(content="Hello", provider_details={"id": "msg_x"}),
                ToolCallPart(
                    tool_name="t", args={}, tool_call_id="c1", provider_details={"id": "fc_x"}
                ),
            ]
        ),
        ModelRequest(
            parts=[
                RetryPart(content="bad args", tool_name="t", tool_call_id="c1"),
                RetryPart(content="Again"),
            ]
        ),
    ]
    await model(mock, "o3").request(history, None, ModelRequestParams())
    assert mock.body()["input"] == [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello"},
        {"type": "function_call", "call_id": "c1", "name": "t", "arguments": "{}"},
        {
            "type": "function_call_output",
            "call_id": "c1",
            "output": "bad args\n\nFix the errors and try again.",
        },
        {"role": "user", "content": "Again\n\nFix the errors and try again."},
    ]


async def test_multimodal_input(mock_openai: Any) -> None:
    png, pdf = b"\x89PNGdata", b"%PDF-1.4 data"
    mock = mock_openai(httpx2.Response(200, json=BASE_RESPONSE))
    content = [
        TextContent(text="Compare:"),
        ImageContent(url="https://example.com/a.jpg"),
        ImageContent(data=png, media_type="image/png", detail="low"),
        DocumentContent(url="https://example.com/paper.pdf"),
        DocumentContent(data=pdf, media_type="application/pdf", filename="b.pdf"),
    ]
    await model(mock).request([ModelRequest.user(content)], None, ModelRequestParams())
    encoded = lambda data: base64.b64encode(data).decode()  # noqa: E731
    assert mock.body()["input"] == [
        {
            "role": "user",
            "content": [
                {"type": "input_text", "text": "Compare:"},
                {"type": "input_image", "image_url": "https://example.com/a.jpg", "detail": "auto"},
                {
                    "type": "input_image",
                    "image_url": f"data:image/png;base64,{encoded(png)}",
                    "detail": "low",
                },
                {"type": "input_file", "file_url": "https://example.com/paper.pdf"},
                {
                    "type": "input_file",
                    "filename": "b.pdf",
                    "file_data": f"data:application/pdf;base64,{encoded(pdf)}",
                },
            ],
        }
    ]


async def test_audio_is_refused(mock_openai: Any) -> None:
    mock = mock_openai()
    with pytest.raises(ConfigurationError, match="audio"):
        await model(mock).request(
            [ModelRequest.user([AudioContent(data=b"x", media_type="audio/wav")])],
            None,
            ModelRequestParams(),
        )


async def test_structured_output_and_tool_choice(mock_openai: Any) -> None:
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}
    mock = mock_openai(
        httpx2.Response(200, json=BASE_RESPONSE), httpx2.Response(200, json=BASE_RESPONSE)
    )
    m = model(mock)
    await m.request(
        [ModelRequest.user("?")],
        None,
        ModelRequestParams(
            output_mode="native",
            output_schema=OutputSchema(name="answer", json_schema=schema, strict=False),
        ),
    )
    assert mock.body(0)["text"] == {
        "format": {"type": "json_schema", "name": "answer", "schema": schema, "strict": False}
    }
    await m.request(
        [ModelRequest.user("?")],
        None,
        ModelRequestParams(function_tools=[WEATHER], tool_choice="get_weather"),
    )
    assert mock.body(1)["tool_choice"] == {"type": "function", "name": "get_weather"}


async def test_settings_the_api_lacks_are_dropped_with_a_warning(mock_openai: Any) -> None:
    mock = mock_openai(httpx2.Response(200, json=BASE_RESPONSE))
    with pytest.warns(UserWarning, match="stop is left out"):
        await model(mock, "gpt-4.1-nano").request(
            [ModelRequest.user("?")], ModelSettings(stop=("x",)), ModelRequestParams()
        )
    assert "stop" not in mock.body()


async def test_incomplete_response_finishes_with_length(mock_openai: Any) -> None:
    body = response_body(status="incomplete", incomplete_details={"reason": "max_output_tokens"})
    mock = mock_openai(httpx2.Response(200, json=body))
    response = await model(mock).request([ModelRequest.user("?")], None, ModelRequestParams())
    assert response.finish_reason == "length"


async def test_failed_response_raises(mock_openai: Any) -> None:
    body = response_body(
        status="failed", output=[], error={"code": "server_error", "message": "Something broke."}
    )
    mock = mock_openai(httpx2.Response(200, json=body))
    with pytest.raises(ModelServerError, match="Something broke"):
        await model(mock).request([ModelRequest.user("?")], None, ModelRequestParams())


async def test_context_overflow_status(mock_openai: Any) -> None:
    error = {
        "error": {
            "message": "Your input exceeds the context window of this model.",
            "type": "invalid_request_error",
            "param": "input",
            "code": "context_length_exceeded",
        }
    }
    mock = mock_openai(httpx2.Response(400, json=error))
    with pytest.raises(ContextOverflowError):
        await model(mock).request([ModelRequest.user("?")], None, ModelRequestParams())


# --- streaming -----------------------------------------------------------------------------------


def stream_events() -> list[dict[str, Any]]:
    """A streamed reasoning + text + function call, event shapes from the streaming reference."""
    created = response_body(status="in_progress", output=[], usage=None, model="o4-mini-2025-04-16")
    final = response_body(
        {
            **REASONING_ITEM,
            "summary": [
                {"type": "summary_text", "text": "Think."},
                {"type": "summary_text", "text": "Done."},
            ],
        },
        {
            "type": "message",
            "id": "msg_1",
            "status": "completed",
            "role": "assistant",
            "content": [{"type": "output_text", "text": "Checking.", "annotations": []}],
        },
        CALL_ITEM,
        model="o4-mini-2025-04-16",
        usage={
            "input_tokens": 50,
            "input_tokens_details": {"cached_tokens": 10},
            "output_tokens": 40,
            "output_tokens_details": {"reasoning_tokens": 30},
            "total_tokens": 90,
        },
    )
    rs_id, msg_id, fc_id = REASONING_ITEM["id"], "msg_1", "fc_12345xyz"
    events: list[dict[str, Any]] = [
        {"type": "response.created", "response": created},
        {"type": "response.in_progress", "response": created},
        {
            "type": "response.output_item.added",
            "output_index": 0,
            "item": {"type": "reasoning", "id": rs_id, "summary": []},
        },
        {
            "type": "response.reasoning_summary_part.added",
            "item_id": rs_id,
            "output_index": 0,
            "summary_index": 0,
            "part": {"type": "summary_text", "text": ""},
        },
        {
            "type": "response.reasoning_summary_text.delta",
            "item_id": rs_id,
            "output_index": 0,
            "summary_index": 0,
            "delta": "Think.",
        },
        {
            "type": "response.reasoning_summary_text.delta",
            "item_id": rs_id,
            "output_index": 0,
            "summary_index": 1,
            "delta": "Done.",
        },
        {"type": "response.output_item.done", "output_index": 0, "item": final["output"][0]},
        {
            "type": "response.output_item.added",
            "output_index": 1,
            "item": {
                "type": "message",
                "id": msg_id,
                "status": "in_progress",
                "role": "assistant",
                "content": [],
            },
        },
        {
            "type": "response.content_part.added",
            "item_id": msg_id,
            "output_index": 1,
            "content_index": 0,
            "part": {"type": "output_text", "text": "", "annotations": []},
        },
        {
            "type": "response.output_text.delta",
            "item_id": msg_id,
            "output_index": 1,
            "content_index": 0,
            "delta": "Check",
            "logprobs": [],
        },
        {
            "type": "response.output_text.delta",
            "item_id": msg_id,
            "output_index": 1,
            "content_index": 0,
            "delta": "ing.",
            "logprobs": [],
        },
        {
            "type": "response.output_text.done",
            "item_id": msg_id,
            "output_index": 1,
            "content_index": 0,
            "text": "Checking.",
            "logprobs": [],
        },
        {"type": "response.output_item.done", "output_index": 1, "item": final["output"][1]},
        {
            "type": "response.output_item.added",
            "output_index": 2,
            "item": {**CALL_ITEM, "arguments": "", "status": "in_progress"},
        },
        {
            "type": "response.function_call_arguments.delta",
            "item_id": fc_id,
            "output_index": 2,
            "delta": '{"location":',
        },
        {
            "type": "response.function_call_arguments.delta",
            "item_id": fc_id,
            "output_index": 2,
            "delta": '"Paris, France"}',
        },
        {
            "type": "response.function_call_arguments.done",
            "item_id": fc_id,
            "output_index": 2,
            "arguments": '{"location":"Paris, France"}',
        },
        {"type": "response.output_item.done", "output_index": 2, "item": CALL_ITEM},
        {"type": "response.completed", "response": final},
    ]
    for number, event in enumerate(events):
        event["sequence_number"] = number
    return events


async def collect(m: OpenAIResponsesModel, **params: Any) -> list[ModelStreamEvent]:
    return [
        e
        async for e in m.request_stream(
            [ModelRequest.user("Weather?")], None, ModelRequestParams(**params)
        )
    ]


async def test_stream_reasoning_text_and_function_call(mock_openai: Any, typed_sse: Any) -> None:
    mock = mock_openai(typed_sse(*stream_events()))
    events = await collect(model(mock, "o4-mini"), function_tools=[WEATHER])

    assert mock.body()["stream"] is True
    assert mock.body()["include"] == ["reasoning.encrypted_content"]
    rs_id = REASONING_ITEM["id"]
    thinking = ThinkingPart(
        content="Think.\n\nDone.",
        id=rs_id,
        provider_details={"summary": ["Think.", "Done."], "encrypted_content": ENCRYPTED},
    )
    text = TextPart(content="Checking.", provider_details={"id": "msg_1"})
    call = ToolCallPart(
        tool_name="get_weather",
        args='{"location":"Paris, France"}',
        tool_call_id="call_12345xyz",
        provider_details={"id": "fc_12345xyz"},
    )
    assert events[:-1] == [
        PartStartEvent(0, ThinkingPart(content="", id=rs_id)),
        PartDeltaEvent(0, ThinkingPartDelta("Think.")),
        PartDeltaEvent(0, ThinkingPartDelta("\n\nDone.")),
        PartEndEvent(0, thinking),
        PartStartEvent(1, TextPart(content="Check")),
        PartDeltaEvent(1, TextPartDelta("ing.")),
        PartEndEvent(1, text),
        PartStartEvent(
            2, ToolCallPart(tool_name="get_weather", args="", tool_call_id="call_12345xyz")
        ),
        PartDeltaEvent(2, ToolCallPartDelta('{"location":')),
        PartDeltaEvent(2, ToolCallPartDelta('"Paris, France"}')),
        PartEndEvent(2, call),
    ]
    final = events[-1]
    assert isinstance(final, FinalResponseEvent)
    response = final.response
    assert response.parts == [thinking, text, call]
    assert response.finish_reason == "tool_calls"
    assert response.model_name == "o4-mini-2025-04-16"
    assert response.provider_response_id == BASE_RESPONSE["id"]
    usage = response.usage
    assert (usage.input_tokens, usage.cache_read_tokens) == (50, 10)
    assert (usage.output_tokens, usage.reasoning_tokens) == (40, 30)


async def test_stream_from_the_fake_server_helper_matches(mock_openai: Any, typed_sse: Any) -> None:
    from covey.models.openai.testing import FakeToolCall, responses_events

    events = [
        data
        for _, data in responses_events(text="Hi there", tool_calls=[FakeToolCall("t", {"a": 1})])
    ]
    mock = mock_openai(typed_sse(*events))
    final = (await collect(model(mock)))[-1]
    assert isinstance(final, FinalResponseEvent)
    assert final.response.text() == "Hi there"
    assert final.response.tool_calls()[0].args_as_dict() == {"a": 1}


async def test_stream_with_only_a_completed_event(mock_openai: Any, typed_sse: Any) -> None:
    # A minimal server may send no item events: the final response's items still arrive.
    mock = mock_openai(
        typed_sse({"type": "response.completed", "sequence_number": 0, "response": BASE_RESPONSE})
    )
    events = await collect(model(mock))
    assert isinstance(events[0], PartStartEvent)
    final = events[-1]
    assert isinstance(final, FinalResponseEvent)
    assert final.response.text() == "In a peaceful grove beneath a silver moon..."


async def test_stream_error_event_is_mapped(mock_openai: Any, typed_sse: Any) -> None:
    mock = mock_openai(
        typed_sse(
            {
                "type": "response.created",
                "sequence_number": 0,
                "response": response_body(status="in_progress", output=[]),
            },
            {
                "type": "error",
                "sequence_number": 1,
                "code": "rate_limit_exceeded",
                "message": "Rate limit reached.",
                "param": None,
            },
        )
    )
    with pytest.raises(RateLimitedError, match="Rate limit reached"):
        await collect(model(mock))


async def test_stream_failed_event_is_mapped(mock_openai: Any, typed_sse: Any) -> None:
    failed = response_body(
        status="failed", output=[], error={"code": "server_error", "message": "Boom."}
    )
    mock = mock_openai(
        typed_sse({"type": "response.failed", "sequence_number": 0, "response": failed})
    )
    with pytest.raises(ModelServerError, match="Boom"):
        await collect(model(mock))
