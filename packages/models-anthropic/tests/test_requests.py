"""The exact request the SDK sends for each kind of history, tool set, output mode and setting."""

from __future__ import annotations

import base64

import pytest

from covey.spec import (
    DocumentContent,
    ImageContent,
    ModelRequest,
    ModelRequestParams,
    ModelResponse,
    ModelSettings,
    OutputSchema,
    RetryPart,
    SystemPart,
    TextContent,
    TextPart,
    ToolCallPart,
    ToolDefinition,
    ToolReturnPart,
    UserPart,
)
from covey.spec.errors import ConfigurationError
from covey.spec.messages import AudioContent, ThinkingPart

TEXT_REPLY = {
    "id": "msg_01",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-4-6",
    "content": [{"type": "text", "text": "ok"}],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {"input_tokens": 5, "output_tokens": 1},
}

WEATHER = ToolDefinition(
    name="get_weather",
    description="Weather for a city.",
    parameters_json_schema={
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
)
TIME = ToolDefinition(name="get_time", parameters_json_schema={"type": "object", "properties": {}})
ANSWER = ToolDefinition(
    name="final_result",
    description="The final answer.",
    parameters_json_schema={"type": "object", "properties": {"answer": {"type": "integer"}}},
    kind="output",
)


async def send(api, messages, settings=None, params=None, **model_kwargs):
    api.reply_json(TEXT_REPLY)
    model = api.model(**model_kwargs)
    await model.request(messages, settings, params or ModelRequestParams())
    return api.body


async def test_plain_text_request_path_headers_and_body(api):
    body = await send(api, [ModelRequest.user("Hello")])

    request = api.requests[0]
    assert request.method == "POST"
    assert str(request.url) == "https://api.anthropic.test/v1/messages"
    assert request.headers["anthropic-version"]
    assert api.API_KEY in (
        request.headers.get("x-api-key", ""),
        request.headers.get("authorization", "").removeprefix("Bearer "),
    )
    assert request.headers["x-stainless-retry-count"] == "0"
    assert body == {
        "model": "claude-sonnet-4-6",
        "max_tokens": 4096,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "Hello"}]}],
        "stream": False,
    }


async def test_system_prompt_is_hoisted_and_cached_on_its_last_block(api):
    body = await send(
        api,
        [
            ModelRequest(
                parts=[
                    SystemPart(content="You are terse."),
                    SystemPart(content="Answer in French."),
                    UserPart(content="Hi"),
                ]
            )
        ],
    )
    assert body["system"] == [
        {"type": "text", "text": "You are terse."},
        {"type": "text", "text": "Answer in French.", "cache_control": {"type": "ephemeral"}},
    ]
    assert body["messages"] == [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}]


async def test_prompt_cache_false_sends_no_cache_control(api):
    body = await send(
        api,
        [ModelRequest(parts=[SystemPart(content="Be brief."), UserPart(content="Hi")])],
        ModelSettings(prompt_cache=False),
        ModelRequestParams(function_tools=[WEATHER]),
    )
    assert body["system"] == [{"type": "text", "text": "Be brief."}]
    assert "cache_control" not in body["tools"][0]


async def test_tools_are_declared_with_input_schema_and_the_last_one_cached(api):
    body = await send(
        api,
        [ModelRequest.user("Weather in Paris?")],
        params=ModelRequestParams(function_tools=[WEATHER, TIME]),
    )
    assert body["tools"] == [
        {
            "name": "get_weather",
            "description": "Weather for a city.",
            "input_schema": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
        {
            "name": "get_time",
            "input_schema": {"type": "object", "properties": {}},
            "cache_control": {"type": "ephemeral"},
        },
    ]
    assert "tool_choice" not in body  # auto is the API's default


async def test_strict_tool_flag_is_sent(api):
    strict = WEATHER.model_copy(update={"strict": True})
    body = await send(
        api, [ModelRequest.user("x")], params=ModelRequestParams(function_tools=[strict])
    )
    assert body["tools"][0]["strict"] is True


@pytest.mark.parametrize(
    ("tool_choice", "parallel", "expected"),
    [
        ("auto", None, None),
        ("auto", False, {"type": "auto", "disable_parallel_tool_use": True}),
        ("required", None, {"type": "any"}),
        ("required", False, {"type": "any", "disable_parallel_tool_use": True}),
        ("none", None, {"type": "none"}),
        ("none", False, {"type": "none"}),
        ("get_time", None, {"type": "tool", "name": "get_time"}),
        (
            "get_time",
            False,
            {"type": "tool", "name": "get_time", "disable_parallel_tool_use": True},
        ),
    ],
)
async def test_tool_choice_mapping(api, tool_choice, parallel, expected):
    body = await send(
        api,
        [ModelRequest.user("x")],
        ModelSettings(parallel_tool_calls=parallel),
        ModelRequestParams(function_tools=[WEATHER, TIME], tool_choice=tool_choice),
    )
    assert body.get("tool_choice") == expected


async def test_no_tools_means_no_tool_choice(api):
    body = await send(
        api, [ModelRequest.user("x")], params=ModelRequestParams(tool_choice="required")
    )
    assert "tools" not in body
    assert "tool_choice" not in body


async def test_tool_output_mode_forces_the_single_output_tool(api):
    body = await send(
        api,
        [ModelRequest.user("6 * 7?")],
        params=ModelRequestParams(
            output_mode="tool", output_tools=[ANSWER], allow_text_output=False
        ),
    )
    assert [t["name"] for t in body["tools"]] == ["final_result"]
    assert body["tool_choice"] == {"type": "tool", "name": "final_result"}


async def test_tool_output_mode_with_function_tools_requires_any_tool(api):
    body = await send(
        api,
        [ModelRequest.user("x")],
        params=ModelRequestParams(
            function_tools=[WEATHER],
            output_mode="tool",
            output_tools=[ANSWER],
            allow_text_output=False,
        ),
    )
    assert [t["name"] for t in body["tools"]] == ["get_weather", "final_result"]
    assert body["tool_choice"] == {"type": "any"}


async def test_tool_output_mode_with_thinking_does_not_force_a_tool(api):
    body = await send(
        api,
        [ModelRequest.user("x")],
        ModelSettings(thinking_budget=2048),
        ModelRequestParams(output_mode="tool", output_tools=[ANSWER], allow_text_output=False),
    )
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    assert "tool_choice" not in body


async def test_tool_output_mode_allowing_text_does_not_force(api):
    body = await send(
        api,
        [ModelRequest.user("x")],
        params=ModelRequestParams(output_mode="tool", output_tools=[ANSWER]),
    )
    assert "tool_choice" not in body


async def test_native_output_mode_sends_the_json_schema(api):
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
        "additionalProperties": False,
    }
    body = await send(
        api,
        [ModelRequest.user("x")],
        params=ModelRequestParams(
            output_mode="native", output_schema=OutputSchema(json_schema=schema)
        ),
    )
    assert body["output_config"] == {"format": {"type": "json_schema", "schema": schema}}
    assert "tools" not in body


async def test_prompted_mode_sends_nothing_special(api):
    body = await send(
        api,
        [ModelRequest.user("x")],
        params=ModelRequestParams(
            output_mode="prompted", output_schema=OutputSchema(json_schema={"type": "object"})
        ),
    )
    assert "output_config" not in body
    assert "tools" not in body


async def test_settings_mapping(api):
    body = await send(
        api,
        [ModelRequest.user("x")],
        ModelSettings(
            max_tokens=321,
            temperature=0.2,
            top_p=0.9,
            stop=("END", "STOP"),
            seed=7,
            presence_penalty=0.5,
            frequency_penalty=0.5,
            reasoning_effort="minimal",
            extra_headers={"x-trace": "abc"},
            extra_body={"metadata": {"user_id": "u-1"}, "top_k": 5},
            timeout=12.5,
        ),
    )
    assert body == {
        "model": "claude-sonnet-4-6",
        "max_tokens": 321,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "x"}]}],
        "stop_sequences": ["END", "STOP"],
        "temperature": 0.2,
        "top_p": 0.9,
        "top_k": 5,
        "metadata": {"user_id": "u-1"},
        "output_config": {"effort": "low"},
        "stream": False,
    }
    request = api.requests[0]
    assert request.headers["x-trace"] == "abc"
    assert request.extensions["timeout"]["read"] == 12.5


@pytest.mark.parametrize(
    ("effort", "sent"),
    [("none", "low"), ("minimal", "low"), ("medium", "medium"), ("xhigh", "xhigh")],
)
async def test_reasoning_effort_maps_to_the_levels_the_api_has(api, effort, sent):
    """Fails if `none` turns thinking off (effort is separate) or a level the API lacks is sent."""
    body = await send(api, [ModelRequest.user("x")], ModelSettings(reasoning_effort=effort))
    assert body["output_config"] == {"effort": sent}
    assert "thinking" not in body


async def test_extended_thinking_budget_and_default_max_tokens(api):
    body = await send(api, [ModelRequest.user("x")], ModelSettings(thinking_budget=10_000))
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 10_000}
    assert body["max_tokens"] == 14_096  # the budget counts towards max_tokens


async def test_zero_thinking_budget_disables_thinking(api):
    body = await send(api, [ModelRequest.user("x")], ModelSettings(thinking_budget=0))
    assert body["thinking"] == {"type": "disabled"}
    assert body["max_tokens"] == 4096


async def test_default_headers_are_sent(api):
    await send(api, [ModelRequest.user("x")], default_headers={"x-team": "covey"})
    assert api.requests[0].headers["x-team"] == "covey"


async def test_tool_results_and_user_parts_merge_into_one_user_message(api):
    history = [
        ModelRequest(parts=[UserPart(content="Weather in Paris and Rome?")]),
        ModelResponse(
            parts=[
                TextPart(content="Checking both."),
                ToolCallPart(tool_name="get_weather", args={"city": "Paris"}, tool_call_id="tu_1"),
                ToolCallPart(tool_name="get_weather", args='{"city": "Rome"}', tool_call_id="tu_2"),
            ],
            provider_name="anthropic",
        ),
        ModelRequest(
            parts=[
                ToolReturnPart(tool_name="get_weather", content={"temp": 21}, tool_call_id="tu_1"),
                ToolReturnPart(
                    tool_name="get_weather",
                    content="city not found",
                    tool_call_id="tu_2",
                    is_error=True,
                ),
            ]
        ),
        ModelRequest(parts=[UserPart(content="Also, be quick.")]),
    ]
    body = await send(api, history, params=ModelRequestParams(function_tools=[WEATHER]))
    assert body["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "Weather in Paris and Rome?"}]},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Checking both."},
                {
                    "type": "tool_use",
                    "id": "tu_1",
                    "name": "get_weather",
                    "input": {"city": "Paris"},
                },
                {
                    "type": "tool_use",
                    "id": "tu_2",
                    "name": "get_weather",
                    "input": {"city": "Rome"},
                },
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "tu_1", "content": '{"temp": 21}'},
                {
                    "type": "tool_result",
                    "tool_use_id": "tu_2",
                    "content": "city not found",
                    "is_error": True,
                },
                {"type": "text", "text": "Also, be quick."},
            ],
        },
    ]


async def test_tool_results_lead_the_user_message(api):
    history = [
        ModelRequest.user("go"),
        ModelResponse(parts=[ToolCallPart(tool_name="get_time", tool_call_id="tu_9")]),
        ModelRequest(
            parts=[
                UserPart(content="(context)"),
                ToolReturnPart(tool_name="get_time", content="12:00", tool_call_id="tu_9"),
            ]
        ),
    ]
    body = await send(api, history)
    assert body["messages"][2]["content"] == [
        {"type": "tool_result", "tool_use_id": "tu_9", "content": "12:00"},
        {"type": "text", "text": "(context)"},
    ]


async def test_retry_part_answers_its_tool_call_with_an_error_result(api):
    retry = RetryPart(
        content=[{"loc": ["city"], "msg": "Field required", "type": "missing"}],
        tool_name="get_weather",
        tool_call_id="tu_1",
    )
    history = [
        ModelRequest.user("Weather?"),
        ModelResponse(parts=[ToolCallPart(tool_name="get_weather", args={}, tool_call_id="tu_1")]),
        ModelRequest(parts=[retry]),
    ]
    body = await send(api, history)
    assert body["messages"][2] == {
        "role": "user",
        "content": [
            {
                "type": "tool_result",
                "tool_use_id": "tu_1",
                "content": retry.message(),
                "is_error": True,
            }
        ],
    }
    assert "Field required" in retry.message()


async def test_retry_part_without_tool_call_is_user_text(api):
    history = [
        ModelRequest.user("Give JSON"),
        ModelResponse(parts=[TextPart(content="not json")]),
        ModelRequest(parts=[RetryPart(content="Output was not valid JSON.")]),
    ]
    body = await send(api, history)
    assert body["messages"][2] == {
        "role": "user",
        "content": [
            {"type": "text", "text": "Output was not valid JSON.\n\nFix the errors and try again."}
        ],
    }


async def test_consecutive_responses_merge_and_empty_text_is_dropped(api):
    history = [
        ModelRequest.user("a"),
        ModelResponse(parts=[TextPart(content="")]),
        ModelResponse(parts=[TextPart(content="b")]),
        ModelResponse(parts=[TextPart(content="c")]),
        ModelRequest.user("d"),
    ]
    body = await send(api, history)
    assert body["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "a"}]},
        {
            "role": "assistant",
            "content": [{"type": "text", "text": "b"}, {"type": "text", "text": "c"}],
        },
        {"role": "user", "content": [{"type": "text", "text": "d"}]},
    ]


async def test_thinking_from_another_provider_is_not_replayed(api):
    history = [
        ModelRequest.user("a"),
        ModelResponse(
            parts=[ThinkingPart(content="hmm", signature="gemini-sig"), TextPart(content="b")],
            provider_name="google",
        ),
        ModelRequest.user("c"),
    ]
    body = await send(api, history)
    assert body["messages"][1] == {"role": "assistant", "content": [{"type": "text", "text": "b"}]}


PNG = b"\x89PNG\r\n\x1a\n-fake-image-"
PDF = b"%PDF-1.4 fake"


async def test_images_by_url_and_by_bytes(api):
    history = [
        ModelRequest.user(
            [
                TextContent(text="Compare these."),
                ImageContent(url="https://example.com/cat.jpg"),
                ImageContent(data=PNG, media_type="image/png"),
            ]
        )
    ]
    body = await send(api, history)
    assert body["messages"][0]["content"] == [
        {"type": "text", "text": "Compare these."},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}},
        {
            "type": "image",
            "source": {
                "type": "base64",
                "media_type": "image/png",
                "data": base64.b64encode(PNG).decode(),
            },
        },
    ]


async def test_image_data_url_is_sent_inline(api):
    encoded = base64.b64encode(PNG).decode()
    body = await send(
        api, [ModelRequest.user([ImageContent(url=f"data:image/png;base64,{encoded}")])]
    )
    assert body["messages"][0]["content"] == [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": encoded}}
    ]


async def test_documents_pdf_by_bytes_and_url_and_plain_text(api):
    history = [
        ModelRequest.user(
            [
                DocumentContent(data=PDF, media_type="application/pdf", filename="report.pdf"),
                DocumentContent(url="https://example.com/paper.pdf"),
                DocumentContent(data=b"plain notes", media_type="text/plain"),
                TextContent(text="Summarise."),
            ]
        )
    ]
    body = await send(api, history)
    assert body["messages"][0]["content"] == [
        {
            "type": "document",
            "source": {
                "type": "base64",
                "media_type": "application/pdf",
                "data": base64.b64encode(PDF).decode(),
            },
            "title": "report.pdf",
        },
        {"type": "document", "source": {"type": "url", "url": "https://example.com/paper.pdf"}},
        {
            "type": "document",
            "source": {"type": "text", "media_type": "text/plain", "data": "plain notes"},
        },
        {"type": "text", "text": "Summarise."},
    ]


async def test_tool_returning_an_image_sends_image_blocks(api):
    history = [
        ModelRequest.user("Screenshot please"),
        ModelResponse(parts=[ToolCallPart(tool_name="screenshot", tool_call_id="tu_s")]),
        ModelRequest(
            parts=[
                ToolReturnPart(
                    tool_name="screenshot",
                    tool_call_id="tu_s",
                    content=[
                        TextContent(text="Here:"),
                        ImageContent(data=PNG, media_type="image/png"),
                    ],
                )
            ]
        ),
    ]
    body = await send(api, history)
    assert body["messages"][2]["content"] == [
        {
            "type": "tool_result",
            "tool_use_id": "tu_s",
            "content": [
                {"type": "text", "text": "Here:"},
                {
                    "type": "image",
                    "source": {
                        "type": "base64",
                        "media_type": "image/png",
                        "data": base64.b64encode(PNG).decode(),
                    },
                },
            ],
        }
    ]


async def test_audio_input_is_refused_before_any_request(api):
    model = api.model()
    with pytest.raises(ConfigurationError, match="audio"):
        await model.request(
            [ModelRequest.user([AudioContent(data=b"RIFF", media_type="audio/wav")])],
            None,
            ModelRequestParams(),
        )
    assert api.requests == []


async def test_unsupported_image_type_is_refused(api):
    model = api.model()
    with pytest.raises(ConfigurationError, match="image/bmp"):
        await model.request(
            [ModelRequest.user([ImageContent(data=b"BM", media_type="image/bmp")])],
            None,
            ModelRequestParams(),
        )
    assert api.requests == []


def test_sdk_clients_of_every_event_loop_share_one_tls_context() -> None:
    # `run_sync` runs each call on a new event loop, which gets its own SDK client; loading the
    # CA bundle for each one cost ~90 ms of CPU per call. Every client verifies with one context.
    import asyncio

    from covey.models.anthropic import AnthropicModel

    model = AnthropicModel("claude-sonnet-4-5", api_key="sk-ant-test")

    async def tls_context() -> object:
        client = await model._clients.get()  # pyright: ignore[reportPrivateUsage]
        pool = client._client._transport._pool  # pyright: ignore[reportPrivateUsage, reportUnknownMemberType, reportAttributeAccessIssue, reportUnknownVariableType]
        return pool._ssl_context  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]

    assert asyncio.run(tls_context()) is asyncio.run(tls_context())
