"""Media a tool returns reaches Gemini as media parts, never as base64 inside the response JSON.

Images, PDFs and plain text ride in the `functionResponse.parts` (multimodal function
responses; the SDK writes those nested parts with proto field names, `inline_data`, which the
API's JSON parser accepts like `inlineData`); other media (audio, video) follows the function responses as `inlineData` /
`fileData` parts of the same user turn. Driven through the real google-genai SDK against
`FakeGeminiServer`; the recorded body is the proof.
"""

from __future__ import annotations

import base64
from typing import Any

from covey.models.google import GoogleModel
from covey.models.google.testing import FakeGeminiServer, text_answer
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
    UserPart,
    VideoContent,
    dump_messages,
    load_messages,
)

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40
PDF = b"%PDF-1.7\n" + b"0" * 2000
IMAGE = ImageContent(data=PNG, media_type="image/png")


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def history(content: Any, *more: UserPart) -> list[ModelRequest | ModelResponse]:
    return [
        ModelRequest.user("Take a screenshot."),
        ModelResponse(parts=[ToolCallPart(tool_name="screenshot", tool_call_id="c1")]),
        ModelRequest(
            parts=[
                ToolReturnPart(tool_name="screenshot", tool_call_id="c1", content=content),
                *more,
            ]
        ),
    ]


async def user_turn(messages: list[ModelRequest | ModelResponse]) -> list[dict[str, Any]]:
    with FakeGeminiServer([text_answer("I see it.")]) as server:
        model = GoogleModel("gemini-2.5-flash", api_key="fake-key", base_url=server.url)
        try:
            await model.request(messages, None, ModelRequestParams())
        finally:
            await model.aclose()
        turn = server.requests[-1].body["contents"][2]
    assert turn["role"] == "user"
    return turn["parts"]


def normalise(value: Any) -> Any:
    """Base64 as sent (the SDK may use the URL-safe alphabet) → standard base64, for comparing."""
    if isinstance(value, dict):
        out = {k: normalise(v) for k, v in value.items()}
        if isinstance(out.get("data"), str):
            raw = out["data"]
            out["data"] = b64(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
        return out
    if isinstance(value, list):
        return [normalise(v) for v in value]
    return value


async def test_an_image_rides_in_the_function_response_parts() -> None:
    as_objects = await user_turn(history([TextContent(text="a screenshot"), IMAGE]))
    as_dicts = await user_turn(
        history([{"kind": "text", "text": "a screenshot"}, IMAGE.model_dump(mode="json")])
    )
    assert as_objects == as_dicts
    assert normalise(as_objects) == [
        {
            "functionResponse": {
                "name": "screenshot",
                "response": {
                    "output": "a screenshot\n"
                    "[image 1: image/png, 10.2 kB — attached to this function response]"
                },
                "parts": [
                    {
                        "inline_data": {
                            "data": b64(PNG),
                            "mime_type": "image/png",
                            "display_name": "image_1",
                        }
                    }
                ],
            }
        }
    ]


async def test_other_media_follows_the_function_responses_in_the_same_turn() -> None:
    parts = await user_turn(
        history(
            [
                DocumentContent(data=PDF, media_type="application/pdf", filename="r.pdf"),
                ImageContent(url="https://x.test/a.jpg"),
                AudioContent(data=b"RIFF" * 10, media_type="audio/wav"),
                VideoContent(url="https://x.test/v.mp4"),
            ],
            UserPart(content="Describe them."),
        )
    )
    response = normalise(parts[0]["functionResponse"])
    assert response["response"]["output"].splitlines() == [
        "[document 1: r.pdf, application/pdf, 2.0 kB — attached to this function response]",
        "[image 1: https://x.test/a.jpg — attached to this function response]",
        "[audio 1: audio/wav, 40 B — attached after the function responses]",
        "[video 1: https://x.test/v.mp4 — attached after the function responses]",
    ]
    assert response["parts"] == [
        {
            "inline_data": {
                "data": b64(PDF),
                "mime_type": "application/pdf",
                "display_name": "document_1",
            }
        },
        {
            "file_data": {
                "file_uri": "https://x.test/a.jpg",
                "mime_type": "image/jpeg",
                "display_name": "image_1",
            }
        },
    ]
    assert normalise(parts[1:]) == [
        {"inlineData": {"data": b64(b"RIFF" * 10), "mime_type": "audio/wav"}},
        {"fileData": {"file_uri": "https://x.test/v.mp4", "mime_type": "video/mp4"}},
        {"text": "Describe them."},
    ]


async def test_a_stored_and_resumed_run_sends_the_same() -> None:
    fresh = history([IMAGE, {"rows": 3}])
    stored = load_messages(dump_messages(fresh))
    assert await user_turn(stored) == await user_turn(fresh)


async def test_plain_and_json_results_are_unchanged() -> None:
    assert await user_turn(history({"temp": 21})) == [
        {"functionResponse": {"name": "screenshot", "response": {"output": {"temp": 21}}}}
    ]
    assert await user_turn(history([{"kind": "text", "text": "x"}])) == [
        {
            "functionResponse": {
                "name": "screenshot",
                "response": {"output": [{"kind": "text", "text": "x"}]},
            }
        }
    ]
