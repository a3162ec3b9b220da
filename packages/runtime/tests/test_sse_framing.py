"""Covey's SSE frames are byte for byte what Litestar's reference encoder makes of the same event."""

from __future__ import annotations

import pytest
from litestar.response.sse import ServerSentEventMessage

from covey.runtime.sse import KEEPALIVE_FRAME, sse_frame
from covey.spec import events as ev

EVENTS = [
    ev.TextDelta(run_id="r1", seq=7, delta="two\nlines, a \r and \u2028 and emoji 🙂"),
    ev.TextDelta(run_id="r1", seq=123456789, delta=""),
    ev.RunStarted(run_id="r2", seq=1, input={"text": "a\n\nb"}),
]


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: f"{e.type}-{e.seq}")
def test_an_event_frame_matches_litestars_encoder(event: ev.BaseEvent) -> None:
    """id = seq (what `Last-Event-ID` sends back), event = type, data = the JSON on one line."""
    reference = ServerSentEventMessage(
        id=event.seq, event=event.type, data=event.model_dump_json(), sep="\n"
    ).encode()
    assert sse_frame(event) == reference
    assert sse_frame(event).count(b"\ndata: ") == 1


def test_the_keepalive_is_a_comment_litestar_would_frame_the_same() -> None:
    reference = ServerSentEventMessage(comment="keepalive", data=None, sep="\n").encode()
    assert reference == KEEPALIVE_FRAME
