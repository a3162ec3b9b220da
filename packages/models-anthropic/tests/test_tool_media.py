"""Media a tool returns reaches the Messages API as image/document blocks, never as base64 text.

Driven through the real SDK against `FakeAnthropicServer`; the body it records is the proof.
"""

from __future__ import annotations

import base64
from typing import Any

from covey.models.anthropic import AnthropicModel
from covey.models.anthropic.testing import FakeAnthropicServer, text_message
from covey.spec import (
    AudioContent,
    DocumentContent,
    ImageContent,
    ModelRequest,
    ModelRequestParams,
    ModelResponse,
    TextContent,
    ToolCallPart,
    ToolReturnPart,
    dump_messages,
    load_messages,
)

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40
PNG_B64 = base64.b64encode(PNG).decode()
PDF = b"%PDF-1.7\n" + b"0" * 2000


def history(content: Any) -> list[ModelRequest | ModelResponse]:
    return [
        ModelRequest.user("Take a screenshot."),
        ModelResponse(parts=[ToolCallPart(tool_name="screenshot", tool_call_id="tu_1")]),
        ModelRequest(
            parts=[ToolReturnPart(tool_name="screenshot", tool_call_id="tu_1", content=content)]
        ),
    ]


async def tool_result(messages: list[ModelRequest | ModelResponse]) -> dict[str, Any]:
    with FakeAnthropicServer([text_message("I see it.")]) as server:
        model = AnthropicModel("claude-sonnet-4-6", api_key="sk-ant-fake", base_url=server.url)
        await model.request(messages, None, ModelRequestParams())
        body = server.last_request.body
    result = body["messages"][2]["content"][0]
    assert result["type"] == "tool_result"
    return result


def texts(value: Any) -> list[str]:
    """Every string the model reads as text: `text` fields and string tool-result content."""
    if isinstance(value, dict):
        found = [v for k, v in value.items() if k in ("text", "content") and isinstance(v, str)]
        return found + [t for v in value.values() for t in texts(v)]
    if isinstance(value, list):
        return [t for v in value for t in texts(v)]
    return []


IMAGE_BLOCK = {
    "type": "image",
    "source": {"type": "base64", "media_type": "image/png", "data": PNG_B64},
}


async def test_an_image_object_and_its_dict_form_send_the_same_image_block() -> None:
    image = ImageContent(data=PNG, media_type="image/png")
    as_objects = await tool_result(history([TextContent(text="a screenshot"), image]))
    as_dicts = await tool_result(
        history([{"kind": "text", "text": "a screenshot"}, image.model_dump(mode="json")])
    )
    assert as_objects == as_dicts
    assert as_objects["content"] == [{"type": "text", "text": "a screenshot"}, IMAGE_BLOCK]
    assert not any(PNG_B64[:32] in t for t in texts(as_dicts))


async def test_a_stored_and_resumed_run_sends_the_same_blocks() -> None:
    fresh = history([ImageContent(data=PNG, media_type="image/png"), {"rows": 3}])
    stored = load_messages(dump_messages(fresh))
    assert await tool_result(stored) == await tool_result(fresh)
    assert (await tool_result(stored))["content"] == [
        IMAGE_BLOCK,
        {"type": "text", "text": '{"rows": 3}'},
    ]


async def test_documents_urls_and_what_anthropic_cannot_take() -> None:
    result = await tool_result(
        history(
            [
                DocumentContent(data=PDF, media_type="application/pdf", filename="r.pdf"),
                DocumentContent(data=b"notes", media_type="text/plain"),
                ImageContent(url="https://example.com/cat.jpg"),
                AudioContent(data=b"RIFF" * 100, media_type="audio/wav"),
                ImageContent(data=b"BM" * 100, media_type="image/bmp"),
            ]
        )
    )
    assert result["content"] == [
        {
            "type": "document",
            "source": {
                "type": "base64",
                "media_type": "application/pdf",
                "data": base64.b64encode(PDF).decode(),
            },
            "title": "r.pdf",
        },
        {
            "type": "document",
            "source": {"type": "text", "media_type": "text/plain", "data": "notes"},
        },
        {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}},
        {
            "type": "text",
            "text": "[audio 1: audio/wav, 400 B — not shown: Anthropic models do not take audio]",
        },
        {
            "type": "text",
            "text": "[image 2: image/bmp, 200 B — not shown: Anthropic models cannot read image/bmp]",
        },
    ]


async def test_plain_and_json_results_are_sent_as_before() -> None:
    assert (await tool_result(history("12:00")))["content"] == "12:00"
    assert (await tool_result(history({"temp": 21})))["content"] == '{"temp": 21}'
    # JSON that merely mentions a kind, and a media-looking dict that is not valid media.
    odd = [
        {"kind": "text", "text": "x"},
        {"kind": "image", "data": "%%%", "media_type": "image/png"},
    ]
    assert (await tool_result(history(odd)))["content"] == ToolReturnPart(
        tool_name="t", tool_call_id="t", content=odd
    ).content_as_text()
