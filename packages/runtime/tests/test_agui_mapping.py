"""`AguiTranslator` on event sequences a served run rarely produces on demand: reasoning, two
runs writing at once, a model request failing mid-message, failed and cancelled runs, a model
that does not stream. Every output is checked against `ag-ui-protocol`'s `Event` union and the
rules an AG-UI client verifies."""

from __future__ import annotations

from typing import Any

from ag_ui.core import Event
from pydantic import TypeAdapter

from covey.runtime.agui import AguiTranslator, encode
from covey.spec import ModelResponse, RunResult, RunStatus, TextPart, Usage
from covey.spec import events as ev
from covey.spec.runs import ErrorInfo

EVENTS: TypeAdapter[Any] = TypeAdapter(Event)
TOP = "run-top"


def _feed(events: list[ev.BaseEvent]) -> list[dict[str, Any]]:
    translator = AguiTranslator(thread_id="t", run_id="client")
    frames = [encode(translator.started())]
    for event in events:
        state = {"k": 1} if translator.wants_state(event) else None
        fast = translator.frames(event, state)
        frames += fast
    out: list[dict[str, Any]] = []
    for frame in frames:
        assert frame.startswith(b"data: ") and frame.endswith(b"\n\n")
        parsed = EVENTS.validate_json(frame[6:-2])
        out.append(parsed.model_dump(by_alias=True, exclude_none=True, mode="json"))
    _check(out)
    return out


def _check(events: list[dict[str, Any]]) -> None:
    assert events[0]["type"] == "RUN_STARTED"
    assert events[-1]["type"] in ("RUN_FINISHED", "RUN_ERROR")
    open_ids: dict[str, set[str]] = {"TEXT": set(), "TOOL": set(), "REASONING": set()}
    for e in events:
        kind = e["type"]
        for prefix, key in (
            ("TEXT_MESSAGE", "messageId"),
            ("TOOL_CALL", "toolCallId"),
            ("REASONING_MESSAGE", "messageId"),
        ):
            family = open_ids[prefix.split("_")[0]]
            if kind == f"{prefix}_START":
                assert e[key] not in family
                family.add(e[key])
            elif kind in (f"{prefix}_CONTENT", f"{prefix}_ARGS"):
                assert e[key] in family, e
            elif kind == f"{prefix}_END":
                family.remove(e[key])
    assert not any(open_ids.values()), open_ids


def _result(status: RunStatus, error: ErrorInfo | None = None, output: Any = None) -> Any:
    return RunResult[Any](run_id=TOP, status=status, error=error, output=output, usage=Usage())


def _start() -> ev.RunStarted:
    return ev.RunStarted(run_id=TOP, session_id="t")


def test_reasoning_then_text_then_a_failed_model_request() -> None:
    out = _feed(
        [
            _start(),
            ev.ModelRequestStarted(run_id=TOP, model_name="m", step=1),
            ev.ThinkingDelta(run_id=TOP, delta="Let me think"),
            ev.ThinkingDelta(run_id=TOP, delta="..."),
            ev.TextDelta(run_id=TOP, delta="Hel"),
            ev.TextDelta(run_id=TOP, delta=""),  # an empty delta sends nothing
            ev.ToolCallDelta(run_id=TOP, tool_call_id="c1", tool_name="f", args_delta='{"a"'),
            ev.ToolCallDelta(run_id=TOP, args_delta=": 1}"),  # no id: the part's open call
            ev.ModelRequestFailed(
                run_id=TOP, model_name="m", step=1, error=ErrorInfo(type="X", message="down")
            ),
            ev.RunFailed(
                run_id=TOP,
                result=_result(RunStatus.FAILED, ErrorInfo(type="ModelHTTPError", message="down")),
            ),
        ]
    )
    types = [e["type"] for e in out]
    assert types[:4] == ["RUN_STARTED", "CUSTOM", "STATE_SNAPSHOT", "REASONING_START"]
    reasoning = "".join(e["delta"] for e in out if e["type"] == "REASONING_MESSAGE_CONTENT")
    assert reasoning == "Let me think..."
    assert types.index("REASONING_END") < types.index("TEXT_MESSAGE_START")
    assert sum(t == "TEXT_MESSAGE_CONTENT" for t in types) == 1
    args = "".join(e["delta"] for e in out if e["type"] == "TOOL_CALL_ARGS")
    assert args == '{"a": 1}'
    assert out[-1] == {"type": "RUN_ERROR", "message": "down", "code": "ModelHTTPError"}
    assert out[-2]["type"] == "STATE_SNAPSHOT"


def test_the_direct_token_frame_is_the_pydantic_one() -> None:
    """`frames` writes a token of an open message itself: byte for byte what `encode` gives,
    unicode, quotes and newlines included."""
    from ag_ui.core import TextMessageContentEvent

    translator = AguiTranslator(thread_id="t", run_id="c")
    translator.frames(_start())
    translator.frames(ev.TextDelta(run_id=TOP, delta="first"))
    for delta in ['"quoted" \\ back', "line\nbreak\ttab", "naïve — 日本 🦜", "\u2028\x00"]:
        (frame,) = translator.frames(ev.TextDelta(run_id=TOP, delta=delta))
        message = translator._message[TOP]
        assert frame == encode(TextMessageContentEvent(message_id=message, delta=delta))


def test_two_runs_writing_at_once_stay_apart() -> None:
    out = _feed(
        [
            _start(),
            ev.TextDelta(run_id="member-a", parent_run_id=TOP, delta="A1 "),
            ev.TextDelta(run_id="member-b", parent_run_id=TOP, delta="B1 "),
            ev.TextDelta(run_id="member-a", parent_run_id=TOP, delta="A2"),
            ev.TextDelta(run_id="member-b", parent_run_id=TOP, delta="B2"),
            ev.RunCancelled(run_id=TOP, result=_result(RunStatus.CANCELLED)),
        ]
    )
    by_message: dict[str, str] = {}
    for e in out:
        if e["type"] == "TEXT_MESSAGE_CONTENT":
            by_message[e["messageId"]] = by_message.get(e["messageId"], "") + e["delta"]
    assert sorted(by_message.values()) == ["A1 A2", "B1 B2"]
    # Cancelled mid-message: both messages are ended before the run finishes.
    assert out[-1]["type"] == "RUN_FINISHED"
    assert out[-1]["outcome"] == {"type": "cancelled"}
    assert out[-1]["runId"] == "client" and out[-1]["threadId"] == "t"


def test_a_model_that_does_not_stream_and_a_failing_tool() -> None:
    response = ModelResponse(parts=[TextPart(content="Whole answer.")])
    out = _feed(
        [
            _start(),
            ev.ModelRequestStarted(run_id=TOP, model_name="m", step=1),
            ev.ModelRequestCompleted(
                run_id=TOP, model_name="m", step=1, response=response, usage=Usage()
            ),
            ev.ToolCallStarted(run_id=TOP, tool_call_id="c9", tool_name="f", args={"x": 1}),
            ev.ToolCallFailed(run_id=TOP, tool_call_id="c9", tool_name="f", error="no such row"),
            ev.RunCompleted(run_id=TOP, result=_result(RunStatus.COMPLETED, output={"n": 1})),
        ]
    )
    text = [e["delta"] for e in out if e["type"] == "TEXT_MESSAGE_CONTENT"]
    assert text == ["Whole answer."]
    start = next(e for e in out if e["type"] == "TOOL_CALL_START")
    assert start == {"type": "TOOL_CALL_START", "toolCallId": "c9", "toolCallName": "f"}
    assert next(e for e in out if e["type"] == "TOOL_CALL_ARGS")["delta"] == '{"x": 1}'
    result = next(e for e in out if e["type"] == "TOOL_CALL_RESULT")
    assert result["content"] == "Error: no such row"
    assert result["toolCallId"] == "c9"
    assert out[-1]["result"] == {"n": 1}
    assert out[-1]["outcome"] == {"type": "success"}
