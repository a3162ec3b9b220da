"""GoogleModel.request through the real google-genai SDK: the exact request sent, the response read.

Wire shapes follow the Gemini API reference (`models.generateContent`): `contents` of `user` /
`model` turns made of parts (`text`, `thought`, `thoughtSignature`, `inlineData`, `fileData`,
`functionCall`, `functionResponse`), `systemInstruction`, `tools[].functionDeclarations`,
`toolConfig.functionCallingConfig`, `generationConfig`; responses carry `candidates`,
`usageMetadata`, `modelVersion` and `responseId`. The SDK writes some nested keys in proto
snake_case (`mime_type`, `parameters_json_schema`, `thinking_budget`); the API's JSON mapping
accepts both spellings, and these tests pin what is actually sent.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest

from covey.spec import (
    AudioContent,
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
    ThinkingPart,
    ToolCallPart,
    ToolDefinition,
    ToolReturnPart,
    UserPart,
    VideoContent,
)
from covey.spec.errors import ConfigurationError

WEATHER = ToolDefinition(
    name="get_weather",
    description="Current weather in a city.",
    parameters_json_schema={
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {
            "city": {"type": "string", "description": "City name"},
            "unit": {"const": "celsius"},
        },
        "required": ["city"],
    },
)
FINAL = ToolDefinition(
    name="final_result",
    description="The answer.",
    parameters_json_schema={
        "type": "object",
        "properties": {"answer": {"type": "string"}},
        "required": ["answer"],
    },
    kind="output",
)


def reply(
    parts: list[dict[str, Any]],
    *,
    finish: str | None = "STOP",
    usage: dict[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
    if finish is not None:
        candidate["finishReason"] = finish
    body: dict[str, Any] = {
        "candidates": [candidate],
        "usageMetadata": usage
        or {"promptTokenCount": 10, "candidatesTokenCount": 5, "totalTokenCount": 15},
        "modelVersion": "gemini-2.5-flash",
        "responseId": "resp-1",
    }
    body.update(extra)
    return body


async def test_text_request_is_sent_exactly_and_text_comes_back(gemini, make_model) -> None:
    gemini.add(
        {
            "candidates": [
                {
                    "content": {"role": "model", "parts": [{"text": "Hello, Ada."}]},
                    "finishReason": "STOP",
                    "index": 0,
                }
            ],
            "usageMetadata": {
                "promptTokenCount": 12,
                "candidatesTokenCount": 4,
                "totalTokenCount": 16,
            },
            "modelVersion": "gemini-2.5-flash-001",
            "responseId": "mNwTaOrFEeGz1MkP",
        }
    )
    model = make_model()
    messages = [
        ModelRequest(parts=[SystemPart(content="Be brief."), UserPart(content="Hi, I am Ada.")])
    ]

    response = await model.request(messages, None, ModelRequestParams())

    assert len(gemini.requests) == 1
    assert gemini.last.method == "POST"
    assert gemini.path() == "/v1beta/models/gemini-2.5-flash:generateContent"
    assert gemini.last.headers["x-goog-api-key"] == gemini.api_key
    assert gemini.body() == {
        "contents": [{"role": "user", "parts": [{"text": "Hi, I am Ada."}]}],
        "systemInstruction": {"role": "user", "parts": [{"text": "Be brief."}]},
        "generationConfig": {},
    }
    assert response.parts == [TextPart(content="Hello, Ada.")]
    assert response.text() == "Hello, Ada."
    assert response.finish_reason == "stop"
    assert response.model_name == "gemini-2.5-flash-001"
    assert response.provider_name == "google"
    assert response.provider_response_id == "mNwTaOrFEeGz1MkP"
    assert response.usage.input_tokens == 12
    assert response.usage.output_tokens == 4
    assert response.usage.requests == 1


async def test_multi_turn_history_maps_roles_and_merges_system_parts(gemini, make_model) -> None:
    gemini.add(reply([{"text": "Paris."}]))
    model = make_model()
    history = [
        ModelRequest(parts=[SystemPart(content="You are a geographer."), UserPart(content="Hi")]),
        ModelResponse(parts=[TextPart(content="Hello!")], provider_name="google"),
        ModelRequest(
            parts=[
                SystemPart(content="Answer in one word."),
                UserPart(content=[TextContent(text="Capital of France?")]),
            ]
        ),
    ]

    await model.request(history, None, ModelRequestParams())

    body = gemini.body()
    assert body["systemInstruction"] == {
        "role": "user",
        "parts": [{"text": "You are a geographer.\n\nAnswer in one word."}],
    }
    assert body["contents"] == [
        {"role": "user", "parts": [{"text": "Hi"}]},
        {"role": "model", "parts": [{"text": "Hello!"}]},
        {"role": "user", "parts": [{"text": "Capital of France?"}]},
    ]


async def test_tools_are_declared_with_json_schema_and_calls_come_back(gemini, make_model) -> None:
    gemini.add(
        reply(
            [
                {
                    "functionCall": {"name": "get_weather", "args": {"city": "Paris"}},
                    "thoughtSignature": "c2lnLXBhcmlz",
                },
                {"functionCall": {"name": "get_weather", "args": {"city": "Rome"}}},
            ]
        )
    )
    model = make_model()
    params = ModelRequestParams(function_tools=[WEATHER], output_tools=[FINAL])

    response = await model.request([ModelRequest.user("Weather in Paris and Rome?")], None, params)

    assert gemini.body()["tools"] == [
        {
            "functionDeclarations": [
                {
                    "name": "get_weather",
                    "description": "Current weather in a city.",
                    # `$schema` is dropped and `const` becomes a one-value enum.
                    "parameters_json_schema": {
                        "type": "object",
                        "properties": {
                            "city": {"type": "string", "description": "City name"},
                            "unit": {"enum": ["celsius"]},
                        },
                        "required": ["city"],
                    },
                },
                {
                    "name": "final_result",
                    "description": "The answer.",
                    "parameters_json_schema": FINAL.parameters_json_schema,
                },
            ]
        }
    ]
    assert "toolConfig" not in gemini.body()  # tool_choice auto is Gemini's default
    calls = response.tool_calls()
    assert [(c.tool_name, c.args) for c in calls] == [
        ("get_weather", {"city": "Paris"}),
        ("get_weather", {"city": "Rome"}),
    ]
    # Gemini sent no ids: each call gets its own made-up id, marked so it is never sent back.
    assert calls[0].tool_call_id != calls[1].tool_call_id
    assert all(c.tool_call_id.startswith("gemini_call_") for c in calls)
    assert calls[0].provider_details == {"thought_signature": "c2lnLXBhcmlz", "synthetic_id": True}
    assert calls[1].provider_details == {"synthetic_id": True}
    assert response.finish_reason == "tool_calls"


async def test_tool_results_answer_calls_in_call_order_with_signatures_replayed(
    gemini, make_model
) -> None:
    gemini.add(
        reply(
            [
                {
                    "functionCall": {"name": "get_weather", "args": {"city": "Paris"}},
                    "thoughtSignature": "c2lnLXBhcmlz",
                },
                {"functionCall": {"name": "get_time", "args": {"city": "Rome"}}},
            ]
        ),
        reply([{"text": "Sunny in Paris; it is noon in Rome."}]),
    )
    model = make_model()
    params = ModelRequestParams(function_tools=[WEATHER])
    first = ModelRequest.user("Weather in Paris, time in Rome?")
    response = await model.request([first], None, params)
    paris, rome = response.tool_calls()

    # Results arrive in another order than the calls (the Rome tool was faster).
    results = ModelRequest(
        parts=[
            ToolReturnPart(tool_name="get_time", content="12:00", tool_call_id=rome.tool_call_id),
            ToolReturnPart(
                tool_name="get_weather",
                content={"sky": "sunny", "celsius": 21},
                tool_call_id=paris.tool_call_id,
            ),
        ]
    )
    await model.request([first, response, results], None, params)

    assert gemini.body()["contents"] == [
        {"role": "user", "parts": [{"text": "Weather in Paris, time in Rome?"}]},
        {
            "role": "model",
            "parts": [
                {
                    "functionCall": {"name": "get_weather", "args": {"city": "Paris"}},
                    "thoughtSignature": "c2lnLXBhcmlz",
                },
                {"functionCall": {"name": "get_time", "args": {"city": "Rome"}}},
            ],
        },
        {
            "role": "user",
            "parts": [
                {
                    "functionResponse": {
                        "name": "get_weather",
                        "response": {"output": {"sky": "sunny", "celsius": 21}},
                    }
                },
                {"functionResponse": {"name": "get_time", "response": {"output": "12:00"}}},
            ],
        },
    ]


async def test_call_ids_from_gemini_are_kept_and_sent_back(gemini, make_model) -> None:
    gemini.add(
        reply([{"functionCall": {"id": "fc-7", "name": "get_weather", "args": {"city": "Oslo"}}}]),
        reply([{"text": "Cold."}]),
    )
    model = make_model()
    params = ModelRequestParams(function_tools=[WEATHER])
    first = ModelRequest.user("Oslo?")
    response = await model.request([first], None, params)
    (call,) = response.tool_calls()
    assert call.tool_call_id == "fc-7"
    assert call.provider_details is None

    failed = ModelRequest(
        parts=[
            ToolReturnPart(
                tool_name="get_weather", content="timeout", tool_call_id="fc-7", is_error=True
            )
        ]
    )
    await model.request([first, response, failed], None, params)

    contents = gemini.body()["contents"]
    assert contents[1]["parts"] == [
        {"functionCall": {"id": "fc-7", "name": "get_weather", "args": {"city": "Oslo"}}}
    ]
    assert contents[2]["parts"] == [
        {
            "functionResponse": {
                "id": "fc-7",
                "name": "get_weather",
                "response": {"error": "timeout"},
            }
        }
    ]


async def test_retry_parts_answer_their_call_or_become_user_text(gemini, make_model) -> None:
    gemini.add(reply([{"text": "ok"}]))
    model = make_model()
    call = ToolCallPart(tool_name="get_weather", args={"town": "x"}, tool_call_id="fc-1")
    history = [
        ModelRequest.user("Weather?"),
        ModelResponse(parts=[call], provider_name="google"),
        ModelRequest(
            parts=[
                RetryPart(
                    content=[{"loc": ["city"], "msg": "Field required"}],
                    tool_name="get_weather",
                    tool_call_id="fc-1",
                ),
                RetryPart(content="Please answer in English."),
            ]
        ),
    ]

    await model.request(history, None, ModelRequestParams(function_tools=[WEATHER]))

    assert gemini.body()["contents"][2] == {
        "role": "user",
        "parts": [
            {
                "functionResponse": {
                    "id": "fc-1",
                    "name": "get_weather",
                    "response": {
                        "error": "Validation failed:\n- city: Field required\n\n"
                        "Fix the errors and try again."
                    },
                }
            },
            {"text": "Please answer in English.\n\nFix the errors and try again."},
        ],
    }


async def test_another_providers_history_is_replayed_without_its_ids_or_reasoning(
    gemini, make_model
) -> None:
    gemini.add(reply([{"text": "done"}]))
    model = make_model("gemini-3-pro-preview")
    history = [
        ModelRequest.user("Weather?"),
        ModelResponse(
            parts=[
                ThinkingPart(content="hmm", signature="anthropic-sig"),
                TextPart(content="Checking.", provider_details={"thought_signature": "AAAA"}),
                ToolCallPart(tool_name="get_weather", args='{"city": "Oslo"}', tool_call_id="c1"),
                ToolCallPart(tool_name="get_weather", args={"city": "Bergen"}, tool_call_id="c2"),
            ],
            provider_name="anthropic",
        ),
        ModelRequest(
            parts=[
                ToolReturnPart(tool_name="get_weather", content="snow", tool_call_id="c1"),
                ToolReturnPart(tool_name="get_weather", content="rain", tool_call_id="c2"),
            ]
        ),
    ]

    await model.request(history, None, ModelRequestParams(function_tools=[WEATHER]))

    contents = gemini.body()["contents"]
    # Gemini's documented stand-in signature lets Gemini 3 accept calls it did not make.
    assert contents[1] == {
        "role": "model",
        "parts": [
            {"text": "Checking."},
            {
                "functionCall": {"name": "get_weather", "args": {"city": "Oslo"}},
                "thoughtSignature": "skip_thought_signature_validator",
            },
            {"functionCall": {"name": "get_weather", "args": {"city": "Bergen"}}},
        ],
    }
    assert contents[2]["parts"] == [
        {"functionResponse": {"name": "get_weather", "response": {"output": "snow"}}},
        {"functionResponse": {"name": "get_weather", "response": {"output": "rain"}}},
    ]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        (ModelRequestParams(function_tools=[WEATHER]), None),
        (
            ModelRequestParams(function_tools=[WEATHER], tool_choice="none"),
            {"functionCallingConfig": {"mode": "NONE"}},
        ),
        (
            ModelRequestParams(function_tools=[WEATHER], tool_choice="required"),
            {"functionCallingConfig": {"mode": "ANY"}},
        ),
        (
            ModelRequestParams(function_tools=[WEATHER, FINAL], tool_choice="get_weather"),
            {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["get_weather"]}},
        ),
        (
            ModelRequestParams(
                function_tools=[WEATHER],
                output_tools=[FINAL],
                output_mode="tool",
                allow_text_output=False,
            ),
            {"functionCallingConfig": {"mode": "ANY"}},
        ),
        (
            ModelRequestParams(
                function_tools=[WEATHER],
                output_tools=[FINAL],
                output_mode="tool",
                allow_text_output=True,
            ),
            None,
        ),
    ],
    ids=["auto", "none", "required", "named", "output-tool-required", "output-tool-optional"],
)
async def test_tool_choice_maps_to_function_calling_config(
    gemini, make_model, params: ModelRequestParams, expected: dict[str, Any] | None
) -> None:
    gemini.add(reply([{"text": "ok"}]))
    await make_model().request([ModelRequest.user("go")], None, params)
    assert gemini.body().get("toolConfig") == expected


async def test_tool_choice_naming_an_unknown_tool_fails_before_sending(gemini, make_model) -> None:
    params = ModelRequestParams(function_tools=[WEATHER], tool_choice="get_time")
    with pytest.raises(ConfigurationError, match="get_time"):
        await make_model().request([ModelRequest.user("go")], None, params)
    assert gemini.requests == []


async def test_native_output_uses_response_json_schema(gemini, make_model) -> None:
    gemini.add(reply([{"text": '{"city": "Paris", "population": 2102650}'}]))
    schema = {
        "type": "object",
        "title": "City",
        "properties": {
            "city": {"type": "string"},
            "population": {"type": "integer"},
            "country": {"$ref": "#/$defs/Country"},
        },
        "required": ["city", "population"],
        "$defs": {"Country": {"type": "string", "examples": ["France"]}},
    }
    params = ModelRequestParams(
        output_mode="native",
        output_schema=OutputSchema(json_schema=schema, description="A city."),
    )

    response = await make_model().request([ModelRequest.user("Biggest French city?")], None, params)

    config = gemini.body()["generationConfig"]
    assert config["responseMimeType"] == "application/json"
    assert config["responseJsonSchema"] == {
        "type": "object",
        "title": "City",
        "properties": {
            "city": {"type": "string"},
            "population": {"type": "integer"},
            "country": {"$ref": "#/$defs/Country"},
        },
        "required": ["city", "population"],
        "$defs": {"Country": {"type": "string"}},
        "description": "A city.",
    }
    assert "tools" not in gemini.body()
    assert response.text() == '{"city": "Paris", "population": 2102650}'


async def test_prompted_and_tool_output_modes_send_no_response_schema(gemini, make_model) -> None:
    gemini.add(reply([{"text": "{}"}]), reply([{"text": "{}"}]))
    model = make_model()
    schema = OutputSchema(json_schema={"type": "object"})
    await model.request(
        [ModelRequest.user("x")],
        None,
        ModelRequestParams(output_mode="prompted", output_schema=schema),
    )
    await model.request(
        [ModelRequest.user("x")],
        None,
        ModelRequestParams(output_mode="tool", output_tools=[FINAL]),
    )
    for index in (0, 1):
        assert "responseJsonSchema" not in gemini.body(index)["generationConfig"]
        assert "responseMimeType" not in gemini.body(index)["generationConfig"]


async def test_settings_map_to_generation_config_headers_and_body(gemini, make_model) -> None:
    gemini.add(reply([{"text": "ok"}]))
    settings = ModelSettings(
        max_tokens=256,
        temperature=0.2,
        top_p=0.9,
        stop=("END", "STOP"),
        seed=7,
        presence_penalty=0.5,
        frequency_penalty=0.25,
        timeout=12.5,
        extra_headers={"x-trace-id": "abc"},
        extra_body={"safetySettings": [{"category": "HARM_CATEGORY_HARASSMENT"}]},
        parallel_tool_calls=False,  # Gemini has no switch for it: nothing is sent
        prompt_cache=True,  # Gemini caches prefixes implicitly: nothing is sent
    )

    await make_model().request([ModelRequest.user("go")], settings, ModelRequestParams())

    body = gemini.body()
    assert body["generationConfig"] == {
        "temperature": 0.2,
        "topP": 0.9,
        "maxOutputTokens": 256,
        "stopSequences": ["END", "STOP"],
        "seed": 7,
        "presencePenalty": 0.5,
        "frequencyPenalty": 0.25,
    }
    assert body["safetySettings"] == [{"category": "HARM_CATEGORY_HARASSMENT"}]
    assert gemini.last.headers["x-trace-id"] == "abc"
    assert gemini.last.headers["x-goog-api-key"] == gemini.api_key
    # The SDK sends the timeout to the server too, in whole seconds.
    assert gemini.last.headers["x-server-timeout"] == "13"


@pytest.mark.parametrize(
    ("model_name", "settings", "expected"),
    [
        (
            "gemini-2.5-flash",
            ModelSettings(thinking_budget=2048),
            {"include_thoughts": True, "thinking_budget": 2048},
        ),
        ("gemini-2.5-flash", ModelSettings(thinking_budget=0), {"thinking_budget": 0}),
        (
            "gemini-3-pro-preview",
            ModelSettings(reasoning_effort="high"),
            {"include_thoughts": True, "thinking_level": "HIGH"},
        ),
        (
            "gemini-3-flash-preview",
            ModelSettings(reasoning_effort="minimal"),
            {"include_thoughts": True, "thinking_level": "MINIMAL"},
        ),
        (
            "gemini-2.5-flash",
            ModelSettings(reasoning_effort="medium"),
            {"include_thoughts": True, "thinking_budget": 8192},
        ),
        (
            "gemini-2.5-pro",
            ModelSettings(reasoning_effort="minimal"),
            {"include_thoughts": True, "thinking_budget": 128},
        ),
        ("gemini-2.0-flash", ModelSettings(thinking_budget=0), None),
        ("gemini-2.5-flash", ModelSettings(), None),
        # Gemini 3 cannot stop thinking: `none` asks for the least there is.
        (
            "gemini-3-flash-preview",
            ModelSettings(reasoning_effort="none"),
            {"include_thoughts": True, "thinking_level": "MINIMAL"},
        ),
        (
            "gemini-3-pro-preview",
            ModelSettings(reasoning_effort="xhigh"),
            {"include_thoughts": True, "thinking_level": "XHIGH"},
        ),
        ("gemini-2.5-flash", ModelSettings(reasoning_effort="none"), {"thinking_budget": 0}),
        (
            "gemini-2.5-pro",
            ModelSettings(reasoning_effort="none"),
            {"include_thoughts": True, "thinking_budget": 128},
        ),
        (
            "gemini-2.5-flash",
            ModelSettings(reasoning_effort="xhigh"),
            {"include_thoughts": True, "thinking_budget": 24576},
        ),
        (
            "gemini-2.5-pro",
            ModelSettings(reasoning_effort="xhigh"),
            {"include_thoughts": True, "thinking_budget": 32768},
        ),
    ],
)
async def test_thinking_settings_map_to_thinking_config(
    gemini,
    make_model,
    model_name: str,
    settings: ModelSettings,
    expected: dict[str, Any] | None,
) -> None:
    gemini.add(reply([{"text": "ok"}]))
    await make_model(model_name).request([ModelRequest.user("go")], settings, ModelRequestParams())
    assert gemini.body()["generationConfig"].get("thinkingConfig") == expected


async def test_thoughts_become_thinking_parts_and_signatures_are_replayed_on_their_part(
    gemini, make_model
) -> None:
    gemini.add(
        reply(
            [
                {"text": "**Adding** 19 and 23 gives 42.", "thought": True},
                {"text": "42", "thoughtSignature": "c2lnbmF0dXJlLTE="},
            ],
            usage={
                "promptTokenCount": 20,
                "candidatesTokenCount": 2,
                "thoughtsTokenCount": 150,
                "totalTokenCount": 172,
            },
        ),
        reply([{"text": "You asked about 19 + 23."}]),
    )
    model = make_model()
    settings = ModelSettings(thinking_budget=1024)
    question = ModelRequest.user("19 + 23?")

    response = await model.request([question], settings, ModelRequestParams())

    assert response.parts == [
        ThinkingPart(content="**Adding** 19 and 23 gives 42."),
        TextPart(content="42", provider_details={"thought_signature": "c2lnbmF0dXJlLTE="}),
    ]
    assert response.usage.reasoning_tokens == 150
    assert response.usage.output_tokens == 152  # candidates + thoughts
    assert response.usage.input_tokens == 20

    await model.request(
        [question, response, ModelRequest.user("What did I ask?")], settings, ModelRequestParams()
    )
    assert gemini.body()["contents"][1] == {
        "role": "model",
        "parts": [
            {"text": "**Adding** 19 and 23 gives 42.", "thought": True},
            {"text": "42", "thoughtSignature": "c2lnbmF0dXJlLTE="},
        ],
    }


async def test_signatures_survive_a_json_round_trip_of_the_history(gemini, make_model) -> None:
    from covey.spec import dump_messages, load_messages

    signature = base64.b64encode(bytes(range(250, 256)) * 3).decode()  # has '+' and '/'
    gemini.add(
        reply(
            [{"functionCall": {"name": "get_weather", "args": {}}, "thoughtSignature": signature}]
        ),
        reply([{"text": "ok"}]),
    )
    model = make_model()
    first = ModelRequest.user("go")
    response = await model.request([first], None, ModelRequestParams(function_tools=[WEATHER]))
    (call,) = response.tool_calls()
    history = load_messages(
        dump_messages(
            [
                first,
                response,
                ModelRequest(
                    parts=[
                        ToolReturnPart(
                            tool_name="get_weather", content="ok", tool_call_id=call.tool_call_id
                        )
                    ]
                ),
            ]
        )
    )

    await model.request(history, None, ModelRequestParams(function_tools=[WEATHER]))

    sent = gemini.body()["contents"][1]["parts"][0]["thoughtSignature"]
    # The SDK re-encodes bytes as URL-safe base64; the bytes are the ones Gemini sent.
    assert base64.urlsafe_b64decode(sent) == base64.b64decode(signature)


async def test_usage_counts_cache_thoughts_tool_prompts_and_modalities(gemini, make_model) -> None:
    gemini.add(
        reply(
            [{"text": "ok"}],
            usage={
                "promptTokenCount": 1000,
                "cachedContentTokenCount": 800,
                "candidatesTokenCount": 50,
                "thoughtsTokenCount": 30,
                "toolUsePromptTokenCount": 20,
                "totalTokenCount": 1100,
                "promptTokensDetails": [
                    {"modality": "TEXT", "tokenCount": 700},
                    {"modality": "AUDIO", "tokenCount": 300},
                ],
            },
        )
    )

    response = await make_model().request([ModelRequest.user("go")], None, ModelRequestParams())

    usage = response.usage
    assert usage.input_tokens == 1020  # prompt (cached included) + tool-use prompt
    assert usage.cache_read_tokens == 800
    assert usage.output_tokens == 80
    assert usage.reasoning_tokens == 30
    assert usage.total_tokens == 1100
    assert usage.requests == 1
    assert usage.details == {"tool_use_prompt_tokens": 20, "audio_input_tokens": 300}


@pytest.mark.parametrize(
    ("finish", "expected"),
    [
        ("STOP", "stop"),
        ("MAX_TOKENS", "length"),
        ("SAFETY", "content_filter"),
        ("RECITATION", "content_filter"),
        ("PROHIBITED_CONTENT", "content_filter"),
        ("MALFORMED_FUNCTION_CALL", "malformed_function_call"),
        ("OTHER", "other"),
    ],
)
async def test_finish_reasons_are_normalised(
    gemini, make_model, finish: str, expected: str
) -> None:
    gemini.add(reply([{"text": "partial"}], finish=finish))
    response = await make_model().request([ModelRequest.user("go")], None, ModelRequestParams())
    assert response.finish_reason == expected


async def test_a_blocked_prompt_gives_an_empty_content_filter_response(gemini, make_model) -> None:
    gemini.add(
        {
            "promptFeedback": {"blockReason": "SAFETY"},
            "usageMetadata": {"promptTokenCount": 9, "totalTokenCount": 9},
            "modelVersion": "gemini-2.5-flash",
        }
    )
    response = await make_model().request([ModelRequest.user("bad")], None, ModelRequestParams())
    assert response.parts == []
    assert response.finish_reason == "content_filter"
    assert response.usage.input_tokens == 9


async def test_media_by_bytes_and_by_url(gemini, make_model) -> None:
    gemini.add(reply([{"text": "A cat, a meow, a memo and a talk."}]))
    png = b"\x89PNG\r\n\x1a\n fake"
    wav = b"RIFF....WAVEfmt "
    message = ModelRequest(
        parts=[
            UserPart(
                content=[
                    TextContent(text="Describe these."),
                    ImageContent(data=png, media_type="image/png"),
                    ImageContent(url="https://example.com/cat.jpg"),
                    AudioContent(data=wav, media_type="audio/wav"),
                    DocumentContent(url="https://example.com/memo.pdf"),
                    VideoContent(url="https://www.youtube.com/watch?v=9hE5-98ZeCg"),
                    ImageContent(url="data:image/gif;base64,R0lGODlhAQABAAAAACw="),
                ]
            )
        ]
    )

    await make_model().request([message], None, ModelRequestParams())

    assert gemini.body()["contents"] == [
        {
            "role": "user",
            "parts": [
                {"text": "Describe these."},
                {"inlineData": {"data": base64.b64encode(png).decode(), "mime_type": "image/png"}},
                {
                    "fileData": {
                        "file_uri": "https://example.com/cat.jpg",
                        "mime_type": "image/jpeg",
                    }
                },
                {"inlineData": {"data": base64.b64encode(wav).decode(), "mime_type": "audio/wav"}},
                {
                    "fileData": {
                        "file_uri": "https://example.com/memo.pdf",
                        "mime_type": "application/pdf",
                    }
                },
                {"fileData": {"file_uri": "https://www.youtube.com/watch?v=9hE5-98ZeCg"}},
                {"inlineData": {"data": "R0lGODlhAQABAAAAACw=", "mime_type": "image/gif"}},
            ],
        }
    ]


async def test_non_text_output_parts_are_left_out(gemini, make_model) -> None:
    gemini.add(
        reply(
            [
                {"text": "Here is a plot:"},
                {"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}},
                {"executableCode": {"language": "PYTHON", "code": "print(1)"}},
            ]
        )
    )
    response = await make_model().request([ModelRequest.user("plot")], None, ModelRequestParams())
    assert response.parts == [TextPart(content="Here is a plot:")]


async def test_the_default_endpoint_is_the_gemini_api_v1beta(
    gemini, make_model, monkeypatch
) -> None:
    monkeypatch.delenv("GOOGLE_GEMINI_BASE_URL", raising=False)
    gemini.add(reply([{"text": "ok"}]))
    await make_model(base_url=None).request([ModelRequest.user("x")], None, ModelRequestParams())
    assert str(gemini.last.url) == (
        "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent"
    )
