"""A function tool that returns a screenshot: the image reaches an OpenAI-compatible model as an
image, not as base64 text, through the whole stack (Agent → run loop → OpenAIChatModel → SDK →
loopback `FakeOpenAIServer`)."""

from __future__ import annotations

import base64

from covey.core import Agent
from covey.models.openai import OpenAIChatModel
from covey.models.openai.testing import FakeOpenAIServer, text_reply, tool_call_reply
from covey.spec import ImageContent, TextContent

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40
PNG_B64 = base64.b64encode(PNG).decode()


def screenshot() -> list[TextContent | ImageContent]:
    """Take a screenshot of the screen."""
    return [TextContent(text="The login page."), ImageContent(data=PNG, media_type="image/png")]


async def test_a_tools_image_reaches_the_model_as_an_image_url_part() -> None:
    script = [tool_call_reply("screenshot", {}, call_id="call_shot"), text_reply("A login form.")]
    with FakeOpenAIServer(script) as server:
        model = OpenAIChatModel("gpt-4.1", api_key="sk-test-123456", base_url=server.url)
        try:
            result = await Agent(model=model, tools=[screenshot]).run("What is on screen?")
        finally:
            await model.aclose()
        assert result.output == "A login form."
        second = server.requests[1].json

    tool_message, media_message = second["messages"][-2:]
    assert tool_message == {
        "role": "tool",
        "tool_call_id": "call_shot",
        "content": "The login page.\n"
        "[image 1: image/png, 10.2 kB — attached in the next user message]",
    }
    assert media_message == {
        "role": "user",
        "content": [
            {
                "type": "text",
                "text": "Media returned by tool `screenshot` (call call_shot): image 1.",
            },
            {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG_B64}"}},
        ],
    }
    # The base64 appears exactly once in the request: inside the image_url, nowhere as text.
    assert server.requests[1].body.count(PNG_B64[:64].encode()) == 1
