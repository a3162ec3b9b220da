"""Messages and parts: construction rules, helpers, and the JSON round trip of a history."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from covey.spec import (
    AudioContent,
    DocumentContent,
    ImageContent,
    ModelRequest,
    ModelResponse,
    RetryPart,
    SystemPart,
    TextContent,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    ToolReturnPart,
    Usage,
    UserPart,
    VideoContent,
    dump_messages,
    load_messages,
)


def full_history() -> list[ModelRequest | ModelResponse]:
    return [
        ModelRequest(
            parts=[
                SystemPart(content="Be brief."),
                UserPart(
                    content=[
                        TextContent(text="What is in these?"),
                        ImageContent(url="https://example.com/cat.png", detail="high"),
                        ImageContent(data=b"\x89PNG\r\n\x1a\n", media_type="image/png"),
                        AudioContent(data=b"RIFF....WAVE", media_type="audio/wav"),
                        VideoContent(url="https://example.com/clip.mp4"),
                        DocumentContent(
                            data=b"%PDF-1.7", media_type="application/pdf", filename="a.pdf"
                        ),
                    ]
                ),
            ]
        ),
        ModelResponse(
            parts=[
                ThinkingPart(content="Let me look.", signature="sig-1", provider_details={"x": 1}),
                ThinkingPart(content="", redacted=True, provider_details={"data": "opaque"}),
                TextPart(content="Calling tools."),
                ToolCallPart(tool_name="zoom", args={"factor": 2}, tool_call_id="c1"),
                ToolCallPart(tool_name="ocr", args='{"page": 1}', tool_call_id="c2"),
            ],
            usage=Usage(input_tokens=100, output_tokens=20, cache_read_tokens=50, requests=1),
            model_name="m",
            provider_name="p",
            provider_response_id="resp_1",
            finish_reason="tool_calls",
        ),
        ModelRequest(
            parts=[
                ToolReturnPart(tool_name="zoom", content={"ok": True}, tool_call_id="c1"),
                RetryPart(
                    content=[{"loc": ["page"], "msg": "too big", "type": "value_error"}],
                    tool_name="ocr",
                    tool_call_id="c2",
                ),
            ]
        ),
        ModelResponse(parts=[TextPart(content="A cat.")]),
    ]


def test_a_history_round_trips_through_json_with_every_part_kind() -> None:
    history = full_history()
    data = dump_messages(history)
    assert load_messages(data) == history
    assert load_messages(data.decode()) == history
    assert load_messages(json.loads(data)) == history
    image = json.loads(data)[0]["parts"][1]["content"][2]
    assert image["kind"] == "image"
    assert image["data"] == "iVBORw0KGgo="  # bytes travel as base64


def test_media_needs_exactly_one_source_and_a_type_for_bytes() -> None:
    with pytest.raises(ValidationError, match="exactly one"):
        ImageContent()
    with pytest.raises(ValidationError, match="exactly one"):
        ImageContent(url="https://x", data=b"x", media_type="image/png")
    with pytest.raises(ValidationError, match="media_type"):
        AudioContent(data=b"x")


def test_unknown_fields_and_kinds_are_rejected() -> None:
    with pytest.raises(ValidationError):
        TextPart(content="x", colour="red")  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        load_messages([{"kind": "request", "parts": [{"kind": "shout", "content": "x"}]}])


def test_tool_call_arguments_as_dict_and_json() -> None:
    assert ToolCallPart(tool_name="t", args='{"a": 1}', tool_call_id="1").args_as_dict() == {"a": 1}
    assert ToolCallPart(tool_name="t", args="", tool_call_id="1").args_as_dict() == {}
    assert ToolCallPart(tool_name="t", args={"a": 1}, tool_call_id="1").args_as_json() == '{"a": 1}'
    with pytest.raises(ValueError, match="JSON object"):
        ToolCallPart(tool_name="t", args="[1]", tool_call_id="1").args_as_dict()


def test_helpers() -> None:
    response = full_history()[1]
    assert isinstance(response, ModelResponse)
    assert response.text() == "Calling tools."
    assert [c.tool_call_id for c in response.tool_calls()] == ["c1", "c2"]
    user = UserPart(content=[TextContent(text="a"), ImageContent(url="u"), TextContent(text="b")])
    assert user.text() == "a\nb"
    retry = RetryPart(content=[{"loc": ["x", 0], "msg": "bad"}])
    assert "- x.0: bad" in retry.message()
    assert ToolReturnPart(tool_name="t", content={"a": 1}, tool_call_id="1").content_as_text() == (
        '{"a": 1}'
    )
    assert ModelRequest.user("hi").parts[0].content == "hi"  # type: ignore[union-attr]
