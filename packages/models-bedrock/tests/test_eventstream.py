"""The fake's `application/vnd.amazon.eventstream` encoder, checked with botocore's own decoder:
prelude, headers, payload and both CRC32s."""

from __future__ import annotations

import json

import pytest
from botocore.eventstream import (
    ChecksumMismatch,
    EventStreamBuffer,
)

from covey.models.bedrock.testing import (
    encode_event,
    encode_message,
    exception_event,
    response_events,
    tool_call_response,
)


def _decode(data: bytes) -> list:
    buffer = EventStreamBuffer()
    buffer.add_data(data)
    return list(buffer)


def test_a_message_decodes_with_botocore() -> None:
    payload = json.dumps({"contentBlockIndex": 0, "delta": {"text": "héllo"}}).encode()
    [message] = _decode(encode_message({":event-type": "contentBlockDelta"}, payload))
    assert message.headers == {":event-type": "contentBlockDelta"}
    assert message.payload == payload


def test_events_and_exceptions_carry_the_headers_botocore_dispatches_on() -> None:
    stream = encode_event("messageStart", {"role": "assistant"}) + encode_event(
        *exception_event("throttlingException", "slow down")
    )
    first, second = _decode(stream)
    assert first.headers[":message-type"] == "event"
    assert first.headers[":event-type"] == "messageStart"
    assert json.loads(first.payload) == {"role": "assistant"}
    assert second.headers[":message-type"] == "exception"
    assert second.headers[":exception-type"] == "throttlingException"
    assert json.loads(second.payload) == {"message": "slow down"}


def test_lengths_are_exact() -> None:
    payload = b'{"a":1}'
    data = encode_message({":event-type": "e"}, payload)
    [message] = _decode(data)
    assert message.prelude.total_length == len(data)
    headers_length = 1 + len(":event-type") + 1 + 2 + 1
    assert message.prelude.headers_length == headers_length
    assert len(data) == 12 + headers_length + len(payload) + 4


@pytest.mark.parametrize("where", ["prelude", "payload"])
def test_a_corrupted_byte_fails_the_crc(where: str) -> None:
    data = bytearray(encode_event("messageStart", {"role": "assistant"}))
    data[2 if where == "prelude" else len(data) - 6] ^= 0x01
    with pytest.raises(ChecksumMismatch):
        _decode(bytes(data))


def test_a_converse_body_streams_as_bedrock_streams_it() -> None:
    body = tool_call_response("get_weather", {"city": "Paris"}, text="Let me check.")
    kinds = [kind for kind, _ in response_events(body)]
    assert kinds == [
        "messageStart",
        "contentBlockDelta",
        "contentBlockDelta",
        "contentBlockStop",
        "contentBlockStart",
        "contentBlockDelta",
        "contentBlockDelta",
        "contentBlockStop",
        "messageStop",
        "metadata",
    ]
    decoded = _decode(b"".join(encode_event(k, p) for k, p in response_events(body)))
    assert [m.headers[":event-type"] for m in decoded] == kinds
