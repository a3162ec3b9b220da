"""`ResponseAssembler`: provider chunks -> part events -> one final `ModelResponse`.

Focused on provider details on text parts: providers label a text part (OpenAI's message id and
`phase`) or sign it (Gemini's `thoughtSignature`, often on a last fragment without text), and the
part's end event and the final response must carry what they sent.
"""

from __future__ import annotations

from covey.spec.messages import TextPart, ThinkingPart
from covey.spec.models import (
    FinalResponseEvent,
    ModelStreamEvent,
    PartDeltaEvent,
    PartEndEvent,
    PartStartEvent,
    TextPartDelta,
)
from covey.spec.streaming import ResponseAssembler


def final_parts(events: list[ModelStreamEvent]) -> list[object]:
    last = events[-1]
    assert isinstance(last, FinalResponseEvent)
    return list(last.response.parts)


def test_text_without_details_streams_as_before() -> None:
    asm = ResponseAssembler()
    events = asm.text("Hel") + asm.text("") + asm.text("lo") + asm.finish()
    assert events[:-1] == [
        PartStartEvent(0, TextPart(content="Hel")),
        PartDeltaEvent(0, TextPartDelta("lo")),
        PartEndEvent(0, TextPart(content="Hello")),
    ]
    assert final_parts(events) == [TextPart(content="Hello")]


def test_details_given_with_text_reach_the_end_event_and_the_final_response() -> None:
    """Fails if `text(provider_details=...)` is dropped: OpenAI's message id would be lost."""
    asm = ResponseAssembler()
    events = asm.text("Hi", key="m", provider_details={"id": "msg_1"})
    events += asm.text(" there", key="m")
    events += asm.end("m")
    labelled = TextPart(content="Hi there", provider_details={"id": "msg_1"})
    # The start event holds what is known of the text so far, like thinking and tool calls do.
    assert events == [
        PartStartEvent(0, TextPart(content="Hi")),
        PartDeltaEvent(0, TextPartDelta(" there")),
        PartEndEvent(0, labelled),
    ]
    assert final_parts(asm.finish()) == [labelled]


def test_an_empty_fragment_with_details_signs_the_open_part_without_a_delta() -> None:
    """Gemini signs a text part on a last fragment whose text is empty."""
    asm = ResponseAssembler()
    events = asm.text("Take the train.")
    signed = asm.text("", provider_details={"thought_signature": "c2ln"})
    assert signed == []  # no text, so no delta event
    events += asm.finish()
    part = TextPart(content="Take the train.", provider_details={"thought_signature": "c2ln"})
    assert events[1] == PartEndEvent(0, part)
    assert final_parts(events) == [part]


def test_an_empty_fragment_with_details_opens_a_part_with_an_empty_start() -> None:
    asm = ResponseAssembler()
    opened = asm.text("", key="m", provider_details={"id": "msg_1"})
    assert opened == [PartStartEvent(0, TextPart(content=""))]
    events = asm.text("Hi", key="m") + asm.finish()
    part = TextPart(content="Hi", provider_details={"id": "msg_1"})
    assert events[:-1] == [PartDeltaEvent(0, TextPartDelta("Hi")), PartEndEvent(0, part)]
    assert final_parts(events) == [part]


def test_an_empty_fragment_without_details_opens_nothing() -> None:
    asm = ResponseAssembler()
    assert asm.text("") == []
    assert asm.text("", provider_details={}) == []
    assert final_parts(asm.finish()) == []


def test_details_merge_and_later_keys_win() -> None:
    """Fails if details replace each other: an id known at the start must survive a later phase."""
    asm = ResponseAssembler()
    asm.text("a", key="m", provider_details={"id": "msg_1", "phase": "commentary"})
    asm.text("", key="m", provider_details={"phase": "final_answer", "extra": 1})
    (end,) = asm.end("m")
    expected = {"id": "msg_1", "phase": "final_answer", "extra": 1}
    assert end == PartEndEvent(0, TextPart(content="a", provider_details=expected))
    assert final_parts(asm.finish()) == [TextPart(content="a", provider_details=expected)]


def test_details_stay_with_their_part_among_others() -> None:
    asm = ResponseAssembler()
    events = asm.thinking("Plan.", key="t")
    events += asm.text("One", key=1, provider_details={"id": "a"})
    events += asm.text("Two", key=2)
    events += asm.text("", key=1, provider_details={"phase": "final_answer"})
    events += asm.finish()
    ends = {e.index: e.part for e in events if isinstance(e, PartEndEvent)}
    assert ends == {
        0: ThinkingPart(content="Plan."),
        1: TextPart(content="One", provider_details={"id": "a", "phase": "final_answer"}),
        2: TextPart(content="Two"),
    }
    assert final_parts(events) == [ends[0], ends[1], ends[2]]


def test_details_after_a_part_ended_open_a_new_part() -> None:
    """A key whose part has ended starts a new part, as text does; the ended part is unchanged."""
    asm = ResponseAssembler()
    asm.text("a", key="m")
    asm.end("m")
    assert asm.text("", key="m", provider_details={"id": "x"}) == [
        PartStartEvent(1, TextPart(content=""))
    ]
    assert final_parts(asm.finish()) == [
        TextPart(content="a"),
        TextPart(content="", provider_details={"id": "x"}),
    ]
