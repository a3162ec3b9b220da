"""ConverseStream: events as they arrive, read in a worker thread so the loop never blocks, and a
stream closed (or cancelled) early closes its HTTP response and ends its reader thread."""

from __future__ import annotations

import base64
import threading
from typing import Any

import anyio
import anyio.lowlevel
import anyio.to_thread
import pytest

from covey.models.bedrock import BedrockModel
from covey.models.bedrock.testing import (
    FakeBedrockServer,
    FakeResponse,
    converse_response,
    exception_event,
    text_response,
)
from covey.spec import ModelRequest, ModelRequestParams
from covey.spec.errors import ModelServerError, RateLimitedError, UnexpectedModelBehavior
from covey.spec.messages import TextPart, ThinkingPart, ToolCallPart
from covey.spec.models import (
    FinalResponseEvent,
    PartDeltaEvent,
    PartStartEvent,
    ThinkingPartDelta,
)

HI = [ModelRequest.user("hi")]


async def _collect(model: BedrockModel, params: ModelRequestParams | None = None) -> list[Any]:
    return [e async for e in model.request_stream(HI, None, params or ModelRequestParams())]


def _pump_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("bedrock-stream-")]


async def _reader_blocked_on_the_socket() -> None:
    """Wait until the stream's reader thread is inside a socket read (polling its stack: there
    is no event to wait for)."""
    import sys

    for _ in range(500):
        for thread in _pump_threads():
            frame = sys._current_frames().get(thread.ident or 0)
            while frame is not None:
                if frame.f_code.co_name in ("readinto", "recv_into", "readline"):
                    return
                frame = frame.f_back
        await anyio.sleep(0.01)
    raise AssertionError("the reader never blocked on the socket")


async def _readers_end() -> None:
    """Wait (in a worker thread, the loop stays free) for every stream reader thread to end."""
    for thread in _pump_threads():
        await anyio.to_thread.run_sync(thread.join, 10)
    assert _pump_threads() == []


async def test_reasoning_tool_use_and_usage_stream(
    model: BedrockModel, server: FakeBedrockServer
) -> None:
    server.add(
        converse_response(
            [
                {
                    "reasoningContent": {
                        "reasoningText": {"text": "Let me think.", "signature": "sig-9"}
                    }
                },
                {"reasoningContent": {"redactedContent": base64.b64encode(b"\x01\x02").decode()}},
                {"text": "Checking."},
                {"toolUse": {"toolUseId": "t1", "name": "get_weather", "input": {"city": "Paris"}}},
            ],
            stop_reason="tool_use",
            input_tokens=30,
            output_tokens=40,
            cache_read_tokens=500,
            cache_write_tokens=20,
        )
    )
    events = await _collect(model)
    final = events[-1]
    assert isinstance(final, FinalResponseEvent)
    response = final.response
    kinds = [type(p) for p in response.parts]
    assert kinds == [ThinkingPart, ThinkingPart, TextPart, ToolCallPart]
    assert response.parts[0].content == "Let me think."
    assert response.parts[0].signature == "sig-9"
    assert response.parts[1].redacted
    assert response.parts[3].args_as_dict() == {"city": "Paris"}
    assert response.finish_reason == "tool_calls"
    assert response.usage.input_tokens == 30 + 500 + 20
    assert response.usage.cache_read_tokens == 500
    assert response.usage.cache_write_tokens == 20
    assert response.usage.output_tokens == 40
    assert response.provider_response_id == "fake-request-id"
    signatures = [
        e.delta.signature
        for e in events
        if isinstance(e, PartDeltaEvent)
        and isinstance(e.delta, ThinkingPartDelta)
        and e.delta.signature
    ]
    assert signatures == ["sig-9"]
    assert server.requests[0].operation == "converse-stream"


async def test_an_exception_event_mid_stream_is_mapped(
    model: BedrockModel, server: FakeBedrockServer
) -> None:
    server.add(
        FakeResponse.stream(
            [
                ("messageStart", {"role": "assistant"}),
                ("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "Hel"}}),
                exception_event("throttlingException", "Too many tokens, please wait."),
            ]
        ),
        FakeResponse.stream([exception_event("modelStreamErrorException", "model failed")]),
    )
    with pytest.raises(RateLimitedError) as caught:
        await _collect(model)
    assert caught.value.status_code == 429
    with pytest.raises(ModelServerError):
        await _collect(model)
    await _readers_end()


async def test_a_stream_that_stops_early_is_incomplete(
    model: BedrockModel, server: FakeBedrockServer
) -> None:
    server.add(FakeResponse.stream([("messageStart", {"role": "assistant"})]))
    with pytest.raises(UnexpectedModelBehavior, match="ended before its messageStop"):
        await _collect(model)


async def test_the_loop_runs_while_bedrock_answers(aws: Any) -> None:
    arrived, release = threading.Event(), threading.Event()

    def slow(request: Any) -> Any:
        arrived.set()
        release.wait(30)
        return text_response("late")

    with FakeBedrockServer(slow) as server:
        model = BedrockModel(aws.MODEL, region_name=aws.REGION, endpoint_url=server.url)
        ticks = 0
        result: list[Any] = []

        async def call() -> None:
            result.append(await model.request(HI, None, ModelRequestParams()))

        async with anyio.create_task_group() as group:
            group.start_soon(call)
            await anyio.to_thread.run_sync(arrived.wait, 30)
            # The request is in flight, blocked in botocore; this task still runs on the loop.
            for _ in range(5):
                ticks += 1
                await anyio.lowlevel.checkpoint()
            release.set()
        await model.aclose()
    assert ticks == 5
    assert result[0].text() == "late"


async def test_closing_a_stream_early_ends_its_reader(
    model: BedrockModel, server: FakeBedrockServer
) -> None:
    chunks = [
        ("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": f"w{i} "}})
        for i in range(500)
    ]
    server.add(FakeResponse.stream([("messageStart", {"role": "assistant"}), *chunks]))
    stream = model.request_stream(HI, None, ModelRequestParams())
    first = await anext(aiter(stream))
    assert isinstance(first, PartStartEvent)
    await stream.aclose()  # type: ignore[attr-defined]
    await _readers_end()


async def test_cancelling_a_stream_ends_its_reader(
    model: BedrockModel, server: FakeBedrockServer
) -> None:
    started = anyio.Event()
    server.add(
        FakeResponse.stream(
            [("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "x"}})] * 300
        )
    )

    async def consume() -> None:
        async for _ in model.request_stream(HI, None, ModelRequestParams()):
            started.set()
            await anyio.sleep_forever()

    async with anyio.create_task_group() as group:
        group.start_soon(consume)
        await started.wait()
        group.cancel_scope.cancel()
    await _readers_end()


async def test_closing_a_stalled_stream_ends_its_reader(
    model: BedrockModel, server: FakeBedrockServer
) -> None:
    release = threading.Event()
    first = ("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "Hel"}})
    server.add(FakeResponse.stream([first, first], hold_after=1, release=release))
    stream = model.request_stream(HI, None, ModelRequestParams())
    try:
        assert isinstance(await anext(aiter(stream)), PartStartEvent)
        await _reader_blocked_on_the_socket()  # Bedrock sends nothing more
        with anyio.fail_after(5):  # closing never waits for the blocked reader
            await stream.aclose()  # type: ignore[attr-defined]
        await _readers_end()
    finally:
        release.set()


async def test_a_stalled_stream_times_out(model: BedrockModel, server: FakeBedrockServer) -> None:
    from covey.spec import ModelSettings
    from covey.spec.errors import ModelConnectionError

    release = threading.Event()
    first = ("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "Hel"}})
    server.add(FakeResponse.stream([first, first], hold_after=1, release=release))
    try:
        with pytest.raises(ModelConnectionError, match="timed out"):
            async for _ in model.request_stream(HI, ModelSettings(timeout=1), ModelRequestParams()):
                pass
        await _readers_end()
    finally:
        release.set()


@pytest.mark.parametrize("how", ["corrupted frame", "dropped connection"])
async def test_a_stream_broken_in_transit_is_a_retryable_connection_error(
    model: BedrockModel, server: FakeBedrockServer, how: str
) -> None:
    from covey.models.bedrock.testing import encode_event
    from covey.spec.errors import ModelConnectionError

    start = ("messageStart", {"role": "assistant"})
    if how == "corrupted frame":
        frame = bytearray(
            encode_event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "x"}})
        )
        frame[-6] ^= 0xFF  # a flipped payload byte: the message CRC no longer matches
        server.add(FakeResponse.stream([start, bytes(frame)]))
    else:
        server.add(FakeResponse.stream([start], drop=True))
    with pytest.raises(ModelConnectionError, match="stream broke"):
        await _collect(model)
    await _readers_end()
