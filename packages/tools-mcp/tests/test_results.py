"""Tool results → Covey content, from the official `server-everything` and built by hand."""

from __future__ import annotations

import base64
from typing import Any

from mcp_types import (
    AudioContent,
    BlobResourceContents,
    CallToolResult,
    EmbeddedResource,
    ImageContent,
    TextContent,
    TextResourceContents,
)

from covey.spec.context import RunContext
from covey.spec.messages import ImageContent as CoveyImage
from covey.tools.mcp import MCPToolset
from covey.tools.mcp._results import to_tool_result

CTX = RunContext[Any](run_id="results")


async def test_server_everything_results_map_to_covey_content(everything_js: list[str]) -> None:
    toolset = MCPToolset.stdio(everything_js[0], everything_js[1:], timeout=20)
    assert toolset.id == "index"  # named after the script; pass name= for a better one
    async with toolset:
        names = {t.name for t in await toolset.list_tools(CTX)}
        assert {"echo", "get-tiny-image", "get-structured-content"} <= names
        # server-everything (a 2025-11-25 server) sends notifications/tools/list_changed as it
        # starts: list_tools waited for the refresh it asked for.
        assert toolset.tools_generation >= 2

        echo = await toolset.call_tool("echo", {"message": "hi"}, CTX)
        assert echo.content == "Echo: hi"  # one text item: the plain string

        image = await toolset.call_tool("get-tiny-image", {}, CTX)
        assert not image.is_error
        kinds = [part["kind"] for part in image.content]
        assert "image" in kinds and "text" in kinds
        picture = CoveyImage.model_validate(next(p for p in image.content if p["kind"] == "image"))
        assert picture.media_type == "image/png"
        assert picture.data is not None and picture.data.startswith(b"\x89PNG")

        weather = await toolset.call_tool("get-structured-content", {"location": "Chicago"}, CTX)
        assert isinstance(weather.content, dict)
        assert "temperature" in weather.content
        assert "temperature" in weather.metadata["text"]  # the text kept beside it

        text_resource = await toolset.call_tool(
            "get-resource-reference", {"resourceType": "Text", "resourceId": 1}, CTX
        )
        parts = text_resource.content
        assert any(p["kind"] == "text" and "demo://resource/" in p["text"] for p in parts)

        blob = await toolset.call_tool(
            "get-resource-reference", {"resourceType": "Blob", "resourceId": 2}, CTX
        )
        assert any(p["kind"] == "document" and p["data"] for p in blob.content)

        links = await toolset.call_tool("get-resource-links", {"count": 2}, CTX)
        documents = [p for p in links.content if p["kind"] == "document"]
        assert len(documents) == 2
        assert all(d["url"].startswith("demo://") for d in documents)


def test_mapping_rules() -> None:
    png = base64.b64encode(b"\x89PNG fake").decode()
    wav = base64.b64encode(b"RIFF fake").decode()

    many = to_tool_result(CallToolResult(content=[TextContent(text="a"), TextContent(text="b")]))
    assert many.content == [{"kind": "text", "text": "a"}, {"kind": "text", "text": "b"}]

    media = to_tool_result(
        CallToolResult(
            content=[
                ImageContent(data=png, mime_type="image/png"),
                AudioContent(data=wav, mime_type="audio/wav"),
                ImageContent(data="%%% not base64", mime_type="image/png"),
            ]
        )
    )
    image, audio, broken = media.content
    assert (image["kind"], base64.b64decode(image["data"])) == ("image", b"\x89PNG fake")
    assert (audio["kind"], audio["media_type"]) == ("audio", "audio/wav")
    assert broken["kind"] == "text" and "not valid base64" in broken["text"]

    resources = to_tool_result(
        CallToolResult(
            content=[
                EmbeddedResource(resource=TextResourceContents(uri="file:///a.txt", text="hi")),
                EmbeddedResource(
                    resource=BlobResourceContents(
                        uri="file:///a.pdf", blob=png, mime_type="application/pdf"
                    )
                ),
            ]
        )
    )
    text, document = resources.content
    assert text == {"kind": "text", "text": "[file:///a.txt]\nhi"}
    assert document["kind"] == "document" and document["filename"] == "file:///a.pdf"

    error = to_tool_result(
        CallToolResult(content=[TextContent(text="no such city")], is_error=True)
    )
    assert (error.content, error.is_error) == ("no such city", True)

    structured = to_tool_result(
        CallToolResult(content=[TextContent(text="21C")], structured_content={"t": 21})
    )
    assert (structured.content, structured.metadata) == ({"t": 21}, {"text": "21C"})

    assert to_tool_result(CallToolResult(content=[])).content == ""
