"""Media a tool returns reaches both OpenAI APIs as image/file structures, never as base64 text.

Driven through the real SDK against `FakeOpenAIServer` over loopback; the recorded body is the
proof. Chat Completions: the tool message names the media, one user message after the batch
carries it. Responses: `function_call_output.output` is an array of `input_*` items.
"""

from __future__ import annotations

import base64
from typing import Any

from covey.models.openai import OpenAIChatModel, OpenAIResponsesModel
from covey.models.openai.testing import FakeOpenAIServer, text_reply
from covey.spec import (
    AudioContent,
    DocumentContent,
    ImageContent,
    ModelRequest,
    ModelRequestParams,
    ModelResponse,
    RetryPart,
    TextContent,
    ToolCallPart,
    ToolReturnPart,
    UserPart,
    VideoContent,
    dump_messages,
    load_messages,
)

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40
PNG_URL = "data:image/png;base64," + base64.b64encode(PNG).decode()
PDF = b"%PDF-1.7\n" + b"0" * 2000
PDF_URL = "data:application/pdf;base64," + base64.b64encode(PDF).decode()
IMAGE = ImageContent(data=PNG, media_type="image/png")


def history(*returns: ToolReturnPart | RetryPart | UserPart) -> list[ModelRequest | ModelResponse]:
    calls = [
        ToolCallPart(tool_name=p.tool_name or "t", tool_call_id=p.tool_call_id or "x")
        for p in returns
        if not isinstance(p, UserPart)
    ]
    return [
        ModelRequest.user("Take a screenshot."),
        ModelResponse(parts=list(calls)),
        ModelRequest(parts=list(returns)),
    ]


def ret(content: Any, call_id: str = "call_1", name: str = "screenshot") -> ToolReturnPart:
    return ToolReturnPart(tool_name=name, tool_call_id=call_id, content=content)


async def chat_body(messages: list[ModelRequest | ModelResponse]) -> dict[str, Any]:
    with FakeOpenAIServer([text_reply("I see it.")]) as server:
        model = OpenAIChatModel("gpt-4.1", api_key="sk-test-123456", base_url=server.url)
        try:
            await model.request(messages, None, ModelRequestParams())
        finally:
            await model.aclose()
        return server.requests[-1].json


async def responses_body(messages: list[ModelRequest | ModelResponse]) -> dict[str, Any]:
    reply = text_reply("I see it.", api="responses")
    with FakeOpenAIServer([reply]) as server:
        model = OpenAIResponsesModel("gpt-4.1", api_key="sk-test-123456", base_url=server.url)
        try:
            await model.request(messages, None, ModelRequestParams())
        finally:
            await model.aclose()
        return server.requests[-1].json


def texts(value: Any) -> list[str]:
    """Every string a model reads as text (`text`, `content` and `output` strings)."""
    if isinstance(value, dict):
        keys = ("text", "content", "output")
        found = [v for k, v in value.items() if k in keys and isinstance(v, str)]
        return found + [t for v in value.values() for t in texts(v)]
    if isinstance(value, list):
        return [t for v in value for t in texts(v)]
    return []


def no_base64_in_text(body: dict[str, Any]) -> bool:
    return not any(PNG_URL[30:70] in t or PDF_URL[40:80] in t for t in texts(body))


# --- Chat Completions -----------------------------------------------------------------------------


async def test_chat_tool_message_names_the_image_and_a_user_message_carries_it() -> None:
    as_objects = await chat_body(history(ret([TextContent(text="a screenshot"), IMAGE])))
    as_dicts = await chat_body(
        history(ret([{"kind": "text", "text": "a screenshot"}, IMAGE.model_dump(mode="json")]))
    )
    assert as_objects == as_dicts
    assert as_objects["messages"][2:] == [
        {
            "role": "tool",
            "tool_call_id": "call_1",
            "content": "a screenshot\n[image 1: image/png, 10.2 kB — attached in the next user message]",
        },
        {
            "role": "user",
            "content": [
                {
                    "type": "text",
                    "text": "Media returned by tool `screenshot` (call call_1): image 1.",
                },
                {"type": "image_url", "image_url": {"url": PNG_URL}},
            ],
        },
    ]
    assert no_base64_in_text(as_dicts)


async def test_chat_one_user_message_after_the_whole_batch_of_tool_messages() -> None:
    body = await chat_body(
        history(
            ret([ImageContent(url="https://x.test/a.png", detail="low")], "call_1", "fetch"),
            ret("plain", "call_2", "clock"),
            RetryPart(content="bad args", tool_name="t", tool_call_id="call_3"),
            ret(
                [
                    DocumentContent(data=PDF, media_type="application/pdf", filename="r.pdf"),
                    AudioContent(data=b"RIFF" * 10, media_type="audio/wav"),
                    VideoContent(url="https://x.test/v.mp4", media_type="video/mp4"),
                ],
                "call_4",
                "export",
            ),
            UserPart(content="And now?"),
        )
    )
    roles = [(m["role"], m.get("tool_call_id")) for m in body["messages"][2:]]
    assert roles == [
        ("tool", "call_1"),
        ("tool", "call_2"),
        ("tool", "call_3"),
        ("tool", "call_4"),
        ("user", None),
        ("user", None),
    ]
    assert body["messages"][3]["content"] == "plain"  # a plain result is unchanged
    assert body["messages"][5]["content"].splitlines() == [
        "[document 1: r.pdf, application/pdf, 2.0 kB — attached in the next user message]",
        "[audio 1: audio/wav, 40 B — attached in the next user message]",
        "[video 1: video/mp4, https://x.test/v.mp4 — not shown: the Chat Completions API "
        "cannot take this video]",
    ]
    assert body["messages"][6]["content"] == [
        {"type": "text", "text": "Media returned by tool `fetch` (call call_1): image 1."},
        {"type": "image_url", "image_url": {"url": "https://x.test/a.png", "detail": "low"}},
        {
            "type": "text",
            "text": "Media returned by tool `export` (call call_4): document 1, audio 1.",
        },
        {"type": "file", "file": {"filename": "r.pdf", "file_data": PDF_URL}},
        {
            "type": "input_audio",
            "input_audio": {"data": base64.b64encode(b"RIFF" * 10).decode(), "format": "wav"},
        },
    ]
    assert body["messages"][7] == {"role": "user", "content": "And now?"}
    assert no_base64_in_text(body)


async def test_chat_a_stored_and_resumed_run_sends_the_same() -> None:
    fresh = history(ret([IMAGE, {"rows": 3}]))
    stored = load_messages(dump_messages(fresh))
    assert isinstance(stored[2].parts[0].content[0], dict)  # type: ignore[union-attr]
    assert await chat_body(stored) == await chat_body(fresh)


async def test_chat_plain_and_json_results_are_unchanged() -> None:
    body = await chat_body(history(ret({"temp": 21}), ret([1, 2], "call_2")))
    assert body["messages"][2:] == [
        {"role": "tool", "tool_call_id": "call_1", "content": '{"temp": 21}'},
        {"role": "tool", "tool_call_id": "call_2", "content": "[1, 2]"},
    ]


# --- Responses ------------------------------------------------------------------------------------


async def test_responses_output_is_an_array_of_input_items() -> None:
    as_objects = await responses_body(history(ret([TextContent(text="a screenshot"), IMAGE])))
    as_dicts = await responses_body(
        history(ret([{"kind": "text", "text": "a screenshot"}, IMAGE.model_dump(mode="json")]))
    )
    assert as_objects == as_dicts
    assert as_objects["input"][2] == {
        "type": "function_call_output",
        "call_id": "call_1",
        "output": [
            {"type": "input_text", "text": "a screenshot"},
            {"type": "input_image", "image_url": PNG_URL, "detail": "auto"},
        ],
    }
    assert no_base64_in_text(as_dicts)


async def test_responses_files_urls_and_what_it_cannot_take() -> None:
    body = await responses_body(
        history(
            ret(
                [
                    DocumentContent(data=PDF, media_type="application/pdf", filename="r.pdf"),
                    DocumentContent(url="https://x.test/spec.pdf"),
                    ImageContent(url="https://x.test/a.png", detail="high"),
                    AudioContent(data=b"RIFF" * 10, media_type="audio/wav"),
                ]
            )
        )
    )
    assert body["input"][2]["output"] == [
        {"type": "input_file", "filename": "r.pdf", "file_data": PDF_URL},
        {"type": "input_file", "file_url": "https://x.test/spec.pdf"},
        {"type": "input_image", "image_url": "https://x.test/a.png", "detail": "high"},
        {
            "type": "input_text",
            "text": "[audio 1: audio/wav, 40 B — not shown: the Responses API takes no audio "
            "in a tool result]",
        },
    ]
    assert no_base64_in_text(body)


async def test_responses_stored_run_and_plain_results() -> None:
    fresh = history(ret([IMAGE]), ret({"temp": 21}, "call_2"))
    stored = load_messages(dump_messages(fresh))
    body = await responses_body(stored)
    assert body == await responses_body(fresh)
    assert body["input"][4] == {
        "type": "function_call_output",
        "call_id": "call_2",
        "output": '{"temp": 21}',
    }
