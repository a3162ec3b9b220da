"""OpenAIChatModel, non-streaming: the exact request the SDK sends and the parsed response."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import httpx2
import pytest

from covey.models.openai import OpenAIChatModel
from covey.spec import (
    AudioContent,
    DocumentContent,
    ImageContent,
    ModelRequest,
    ModelRequestParams,
    ModelResponse,
    ModelSettings,
    RetryPart,
    SystemPart,
    TextContent,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    ToolDefinition,
    ToolReturnPart,
    UserPart,
    VideoContent,
)
from covey.spec.errors import ConfigurationError
from covey.spec.models import OutputSchema

WIRE = Path(__file__).parent / "wire"

# A `chat.completion` object as in the API reference (POST /v1/chat/completions).
TEXT_COMPLETION: dict[str, Any] = json.loads((WIRE / "chat_completion.json").read_text())

WEATHER = ToolDefinition(
    name="get_weather",
    description="Get the weather for a city.",
    parameters_json_schema={
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
        "additionalProperties": False,
    },
    strict=True,
)
TIME = ToolDefinition(
    name="get_time",
    parameters_json_schema={"type": "object", "properties": {"tz": {"type": "string"}}},
)


def completion(**message: Any) -> dict[str, Any]:
    body = {**TEXT_COMPLETION, "choices": [{**TEXT_COMPLETION["choices"][0]}]}
    body["choices"][0]["message"] = {"role": "assistant", "content": None, **message}
    return body


def model(mock: Any, name: str = "gpt-4.1", **kwargs: Any) -> OpenAIChatModel:
    kwargs.setdefault("api_key", "sk-test-key-123456")
    return OpenAIChatModel(name, http_client=mock.client, **kwargs)


async def test_text_request_and_response(mock_openai: Any) -> None:
    mock = mock_openai(httpx2.Response(200, json=TEXT_COMPLETION))
    m = model(mock)

    response = await m.request(
        [ModelRequest(parts=[SystemPart(content="Be brief."), UserPart(content="Hi")])],
        None,
        ModelRequestParams(),
    )

    request = mock.requests[0]
    assert request.method == "POST"
    assert str(request.url) == "https://api.openai.com/v1/chat/completions"
    assert request.headers["authorization"] == "Bearer sk-test-key-123456"
    assert mock.body() == {
        "model": "gpt-4.1",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hi"},
        ],
    }
    assert response.parts == [TextPart(content="Hello! How can I assist you today?")]
    assert response.finish_reason == "stop"
    assert response.model_name == "gpt-4.1-2025-04-14"
    assert response.provider_name == "openai"
    assert response.provider_response_id == "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT"
    assert response.usage.input_tokens == 19
    assert response.usage.output_tokens == 10
    assert response.usage.requests == 1


async def test_usage_counts_cached_reasoning_and_audio_tokens(mock_openai: Any) -> None:
    body = {
        **TEXT_COMPLETION,
        "usage": {
            "prompt_tokens": 2006,
            "completion_tokens": 300,
            "total_tokens": 2306,
            "prompt_tokens_details": {"cached_tokens": 1920, "audio_tokens": 6},
            "completion_tokens_details": {
                "reasoning_tokens": 256,
                "audio_tokens": 4,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 3,
            },
        },
    }
    mock = mock_openai(httpx2.Response(200, json=body))
    response = await model(mock).request([ModelRequest.user("Hi")], None, ModelRequestParams())

    usage = response.usage
    assert (usage.input_tokens, usage.cache_read_tokens) == (2006, 1920)
    assert (usage.output_tokens, usage.reasoning_tokens) == (300, 256)
    assert usage.details == {
        "audio_input_tokens": 6,
        "audio_output_tokens": 4,
        "rejected_prediction_tokens": 3,
    }


async def test_parallel_tool_calls_and_tool_definitions(mock_openai: Any) -> None:
    body = completion(
        tool_calls=[
            {
                "id": "call_abc",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
            },
            {
                "id": "call_def",
                "type": "function",
                "function": {"name": "get_time", "arguments": '{"tz": "CET"}'},
            },
        ]
    )
    body["choices"][0]["finish_reason"] = "tool_calls"
    mock = mock_openai(httpx2.Response(200, json=body))

    response = await model(mock).request(
        [ModelRequest.user("Weather and time in Paris?")],
        ModelSettings(parallel_tool_calls=True),
        ModelRequestParams(function_tools=[WEATHER, TIME]),
    )

    assert mock.body()["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "parameters": WEATHER.parameters_json_schema,
                "description": "Get the weather for a city.",
                "strict": True,
            },
        },
        {
            "type": "function",
            "function": {"name": "get_time", "parameters": TIME.parameters_json_schema},
        },
    ]
    assert mock.body()["parallel_tool_calls"] is True
    assert "tool_choice" not in mock.body()  # `auto` is the API's default
    assert response.tool_calls() == [
        ToolCallPart(tool_name="get_weather", args='{"city": "Paris"}', tool_call_id="call_abc"),
        ToolCallPart(tool_name="get_time", args='{"tz": "CET"}', tool_call_id="call_def"),
    ]
    assert response.tool_calls()[0].args_as_dict() == {"city": "Paris"}
    assert response.finish_reason == "tool_calls"


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        (ModelRequestParams(function_tools=[WEATHER], tool_choice="none"), "none"),
        (ModelRequestParams(function_tools=[WEATHER], tool_choice="required"), "required"),
        (
            ModelRequestParams(function_tools=[WEATHER], tool_choice="get_weather"),
            {"type": "function", "function": {"name": "get_weather"}},
        ),
        # Tool output mode without text: the model must call a tool.
        (
            ModelRequestParams(output_mode="tool", output_tools=[WEATHER], allow_text_output=False),
            "required",
        ),
    ],
)
async def test_tool_choice(mock_openai: Any, params: ModelRequestParams, expected: Any) -> None:
    mock = mock_openai(httpx2.Response(200, json=TEXT_COMPLETION))
    await model(mock).request([ModelRequest.user("Hi")], None, params)
    assert mock.body()["tool_choice"] == expected


async def test_parallel_tool_calls_setting_needs_tools(mock_openai: Any) -> None:
    mock = mock_openai(httpx2.Response(200, json=TEXT_COMPLETION))
    await model(mock).request(
        [ModelRequest.user("Hi")], ModelSettings(parallel_tool_calls=False), ModelRequestParams()
    )
    # OpenAI rejects `parallel_tool_calls` without `tools`.
    assert "parallel_tool_calls" not in mock.body()


async def test_native_structured_output_sends_json_schema(mock_openai: Any) -> None:
    schema = {
        "type": "object",
        "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
        "required": ["name", "age"],
        "additionalProperties": False,
    }
    mock = mock_openai(httpx2.Response(200, json=completion(content='{"name": "Ada", "age": 36}')))

    response = await model(mock).request(
        [ModelRequest.user("Who?")],
        None,
        ModelRequestParams(
            output_mode="native",
            output_schema=OutputSchema(
                name="person", description="A person.", json_schema=schema, strict=True
            ),
            allow_text_output=False,
        ),
    )

    assert mock.body()["response_format"] == {
        "type": "json_schema",
        "json_schema": {
            "name": "person",
            "schema": schema,
            "description": "A person.",
            "strict": True,
        },
    }
    assert "tools" not in mock.body()
    assert response.text() == '{"name": "Ada", "age": 36}'


async def test_json_mode_when_the_server_has_no_json_schema(mock_openai: Any) -> None:
    mock = mock_openai(httpx2.Response(200, json=TEXT_COMPLETION))
    m = OpenAIChatModel(
        "deepseek-chat", provider="deepseek", api_key="k" * 10, http_client=mock.client
    )
    await m.request(
        [ModelRequest.user("Hi")],
        None,
        ModelRequestParams(output_mode="native", output_schema=OutputSchema(json_schema={})),
    )
    assert mock.body()["response_format"] == {"type": "json_object"}


@pytest.mark.parametrize("mode", ["prompted", "text", "tool"])
async def test_other_output_modes_send_no_response_format(mock_openai: Any, mode: str) -> None:
    mock = mock_openai(httpx2.Response(200, json=TEXT_COMPLETION))
    await model(mock).request(
        [ModelRequest.user("Hi")],
        None,
        ModelRequestParams(
            output_mode=mode, output_schema=OutputSchema(json_schema={"type": "object"})
        ),  # type: ignore[arg-type]
    )
    assert "response_format" not in mock.body()


async def test_history_translation(mock_openai: Any) -> None:
    png = b"\x89PNG\r\n\x1a\nfake"
    wav = b"RIFF....WAVEfmt "
    pdf = b"%PDF-1.7 fake"
    history = [
        ModelRequest(
            parts=[
                SystemPart(content="You are helpful."),
                UserPart(
                    content=[
                        TextContent(text="Look:"),
                        ImageContent(url="https://example.com/cat.png", detail="high"),
                        ImageContent(data=png, media_type="image/png"),
                        AudioContent(data=wav, media_type="audio/wav"),
                        DocumentContent(data=pdf, media_type="application/pdf", filename="a.pdf"),
                        DocumentContent(
                            data=b"plain notes", media_type="text/plain", filename="n.txt"
                        ),
                    ]
                ),
            ]
        ),
        ModelResponse(
            parts=[
                ThinkingPart(content="hidden thoughts"),
                TextPart(content="Let me check."),
                ToolCallPart(
                    tool_name="get_weather", args={"city": "Paris"}, tool_call_id="call_1"
                ),
                ToolCallPart(tool_name="get_time", args="", tool_call_id="call_2"),
            ]
        ),
        ModelRequest(
            parts=[
                ToolReturnPart(
                    tool_name="get_weather", content={"temp": 21}, tool_call_id="call_1"
                ),
                RetryPart(content="tz is required", tool_name="get_time", tool_call_id="call_2"),
            ]
        ),
        ModelResponse(parts=[TextPart(content="Done?")]),
        ModelRequest(parts=[RetryPart(content="Answer in French.")]),
    ]
    mock = mock_openai(httpx2.Response(200, json=TEXT_COMPLETION))

    await model(mock).request(history, None, ModelRequestParams())

    b64 = lambda data: base64.b64encode(data).decode()  # noqa: E731
    assert mock.body()["messages"] == [
        {"role": "system", "content": "You are helpful."},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Look:"},
                {
                    "type": "image_url",
                    "image_url": {"url": "https://example.com/cat.png", "detail": "high"},
                },
                {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{b64(png)}"}},
                {"type": "input_audio", "input_audio": {"data": b64(wav), "format": "wav"}},
                {
                    "type": "file",
                    "file": {
                        "filename": "a.pdf",
                        "file_data": f"data:application/pdf;base64,{b64(pdf)}",
                    },
                },
                {"type": "text", "text": "n.txt:\nplain notes"},
            ],
        },
        # OpenAI's Chat API takes no reasoning back: thinking is left out.
        {
            "role": "assistant",
            "content": "Let me check.",
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                },
                {
                    "id": "call_2",
                    "type": "function",
                    "function": {"name": "get_time", "arguments": "{}"},
                },
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": '{"temp": 21}'},
        {
            "role": "tool",
            "tool_call_id": "call_2",
            "content": "tz is required\n\nFix the errors and try again.",
        },
        {"role": "assistant", "content": "Done?"},
        {"role": "user", "content": "Answer in French.\n\nFix the errors and try again."},
    ]


async def test_assistant_message_with_only_tool_calls_has_null_content(mock_openai: Any) -> None:
    mock = mock_openai(httpx2.Response(200, json=TEXT_COMPLETION))
    history = [
        ModelRequest.user("Hi"),
        ModelResponse(parts=[ToolCallPart(tool_name="t", args={}, tool_call_id="c1")]),
        ModelRequest(parts=[ToolReturnPart(tool_name="t", content="ok", tool_call_id="c1")]),
    ]
    await model(mock).request(history, None, ModelRequestParams())
    assert mock.body()["messages"][1] == {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "t", "arguments": "{}"}}
        ],
    }


@pytest.mark.parametrize(
    "content",
    [
        VideoContent(url="https://example.com/v.mp4"),
        AudioContent(url="https://example.com/a.wav"),
        DocumentContent(url="https://example.com/d.pdf"),
        AudioContent(data=b"ogg", media_type="audio/ogg"),
    ],
)
async def test_media_the_chat_api_cannot_take(mock_openai: Any, content: Any) -> None:
    mock = mock_openai()
    with pytest.raises(ConfigurationError, match=r"does not accept|WAV or MP3"):
        await model(mock).request(
            [ModelRequest(parts=[UserPart(content=[content])])], None, ModelRequestParams()
        )
    assert mock.requests == []


async def test_refusal_is_text_with_content_filter(mock_openai: Any) -> None:
    mock = mock_openai(httpx2.Response(200, json=completion(refusal="I can't help with that.")))
    response = await model(mock).request([ModelRequest.user("?")], None, ModelRequestParams())
    assert response.parts == [
        TextPart(content="I can't help with that.", provider_details={"refusal": True})
    ]
    assert response.finish_reason == "content_filter"


async def test_length_finish_reason(mock_openai: Any) -> None:
    body = completion(content="Once upon a")
    body["choices"][0]["finish_reason"] = "length"
    mock = mock_openai(httpx2.Response(200, json=body))
    response = await model(mock).request([ModelRequest.user("?")], None, ModelRequestParams())
    assert response.finish_reason == "length"


async def test_reasoning_content_of_compatible_servers(mock_openai: Any) -> None:
    # DeepSeek's reasoner returns `reasoning_content` next to `content`.
    body = completion(content="42", reasoning_content="Six times seven.")
    body["usage"] = {
        "prompt_tokens": 10,
        "completion_tokens": 20,
        "total_tokens": 30,
        "prompt_cache_hit_tokens": 8,
        "prompt_cache_miss_tokens": 2,
        "completion_tokens_details": {"reasoning_tokens": 15},
    }
    mock = mock_openai(httpx2.Response(200, json=body), httpx2.Response(200, json=TEXT_COMPLETION))
    m = OpenAIChatModel(
        "deepseek-reasoner", provider="deepseek", api_key="ds-key-123456", http_client=mock.client
    )

    first = await m.request([ModelRequest.user("6*7?")], None, ModelRequestParams())
    assert first.parts == [ThinkingPart(content="Six times seven."), TextPart(content="42")]
    assert first.usage.cache_read_tokens == 8
    assert first.usage.reasoning_tokens == 15
    assert first.provider_name == "deepseek"

    await m.request(
        [ModelRequest.user("6*7?"), first, ModelRequest.user("Sure?")], None, ModelRequestParams()
    )
    assert str(mock.requests[1].url) == "https://api.deepseek.com/v1/chat/completions"
    assert mock.body()["messages"][1] == {
        "role": "assistant",
        "content": "42",
        "reasoning_content": "Six times seven.",
    }


async def test_ollama_reasoning_field_is_parsed(mock_openai: Any) -> None:
    mock = mock_openai(httpx2.Response(200, json=completion(content="Hi", reasoning="Greet back.")))
    m = OpenAIChatModel("qwen3", provider="ollama", http_client=mock.client)
    response = await m.request([ModelRequest.user("Hi")], None, ModelRequestParams())
    assert response.parts == [ThinkingPart(content="Greet back."), TextPart(content="Hi")]


async def test_build_request_is_pure(mock_openai: Any) -> None:
    mock = mock_openai()
    body, options = model(mock).build_request(
        [ModelRequest.user("Hi")],
        ModelSettings(timeout=3, extra_headers={"X-A": "1"}),
        ModelRequestParams(),
        stream=True,
    )
    assert body == {
        "model": "gpt-4.1",
        "messages": [{"role": "user", "content": "Hi"}],
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    assert options == {"extra_headers": {"X-A": "1"}, "timeout": 3}
    assert mock.requests == []
