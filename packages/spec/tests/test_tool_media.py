"""`ToolReturnPart.content_parts` / `content_as_placeholder_text`: media in a tool's result."""

from __future__ import annotations

import base64
import json

from covey.spec import (
    AudioContent,
    DocumentContent,
    ImageContent,
    ModelRequest,
    TextContent,
    ToolReturnPart,
    VideoContent,
    dump_messages,
    load_messages,
    media_placeholder,
)

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 48  # 12,296 bytes
B64 = base64.b64encode(PNG).decode()


def part(content: object) -> ToolReturnPart:
    return ToolReturnPart(tool_name="shot", tool_call_id="c1", content=content)


def test_plain_results_have_no_parts_and_keep_their_text() -> None:
    for content in ["hello", {"temp": 21}, [1, 2, 3], [{"kind": "text", "text": "x"}], None]:
        p = part(content)
        assert p.content_parts() is None
        assert p.content_as_placeholder_text() == p.content_as_text()


def test_objects_and_their_json_dicts_give_the_same_parts() -> None:
    image = ImageContent(data=PNG, media_type="image/png")
    objects = part([TextContent(text="a screenshot"), image])
    dicts = part(
        [TextContent(text="a screenshot").model_dump(mode="json"), image.model_dump(mode="json")]
    )
    assert (
        objects.content_parts()
        == dicts.content_parts()
        == [TextContent(text="a screenshot"), image]
    )
    # The dict's `data` is base64 text; it is decoded, not taken as the bytes of that text.
    parts = dicts.content_parts()
    assert parts is not None and isinstance(parts[1], ImageContent) and parts[1].data == PNG


def test_a_single_media_item_and_a_stored_run_round_trip() -> None:
    image = ImageContent(data=PNG, media_type="image/png")
    stored = load_messages(dump_messages([ModelRequest(parts=[part([image, {"rows": 3}])])]))
    reloaded = stored[0].parts[0]
    assert isinstance(reloaded, ToolReturnPart)
    assert isinstance(reloaded.content[0], dict)  # the stored form is the JSON dict
    assert reloaded.content_parts() == [image, TextContent(text='{"rows": 3}')]
    assert part(image).content_parts() == [image]


def test_other_items_become_json_text_and_strings_stay_text() -> None:
    parts = part(["caption", {"a": 1}, 7, ImageContent(url="https://x.test/a.png")]).content_parts()
    assert parts == [
        TextContent(text="caption"),
        TextContent(text='{"a": 1}'),
        TextContent(text="7"),
        ImageContent(url="https://x.test/a.png"),
    ]


def test_a_dict_that_does_not_validate_is_text_not_media() -> None:
    bad = {"kind": "image", "data": "not base64!", "media_type": "image/png"}
    assert part([bad]).content_parts() is None
    mixed = part([bad, ImageContent(data=PNG, media_type="image/png")]).content_parts()
    assert mixed is not None
    assert mixed[0] == TextContent(text=json.dumps(bad))
    # A media-looking dict with unknown fields (e.g. someone's own JSON) is not media either.
    assert part({"kind": "image", "src": "x"}).content_parts() is None


def test_placeholder_text_never_carries_the_bytes() -> None:
    p = part(
        [
            TextContent(text="Here it is."),
            ImageContent(data=PNG, media_type="image/png"),
            {"kind": "image", "url": f"data:image/jpeg;base64,{B64}"},
            DocumentContent(data=b"%PDF-1.7" * 300, media_type="application/pdf", filename="r.pdf"),
            AudioContent(data=b"RIFF" * 10, media_type="audio/wav"),
            VideoContent(url="https://cdn.test/v.mp4", media_type="video/mp4"),
        ]
    )
    text = p.content_as_placeholder_text(
        lambda item: "not shown" if item.kind in ("audio", "video") else "attached below"
    )
    assert text.splitlines() == [
        "Here it is.",
        "[image 1: image/png, 12.3 kB — attached below]",
        "[image 2: image/jpeg, 12.3 kB — attached below]",
        "[document 1: r.pdf, application/pdf, 2.4 kB — attached below]",
        "[audio 1: audio/wav, 40 B — not shown]",
        "[video 1: video/mp4, https://cdn.test/v.mp4 — not shown]",
    ]
    assert B64[:40] not in text


def test_media_placeholder_sizes_and_notes() -> None:
    big = ImageContent(data=b"x" * 2_500_000, media_type="image/png")
    assert media_placeholder(big, 3, "") == "[image 3: image/png, 2.5 MB]"
    long_url = "https://x.test/" + "a" * 300
    assert media_placeholder(ImageContent(url=long_url), 1).endswith("… — attached below]")
