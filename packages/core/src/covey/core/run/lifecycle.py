"""A run's start and finish: the session opened (and its history read) before any work, every
started subject closed, the session's state saved, the `RunResult` and the stored `Run` record
built, and the record kept at the end.

Functions of the `RunEngine` (passed as `engine`), kept apart from the loop that drives the steps.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import anyio
from pydantic_core import to_jsonable_python

from covey.core.history import repair_history
from covey.core.run.state import MISSING
from covey.core.summaries import HISTORY_KEY
from covey.spec import ErrorInfo, RunResult, RunStatus, ToolCallRecord, UserContent
from covey.spec import events as ev
from covey.spec.store import Run

if TYPE_CHECKING:
    from covey.core.run.engine import RunEngine

__all__ = [
    "build_result",
    "close_open",
    "close_session",
    "finish",
    "input_json",
    "run_record",
    "start",
]


async def start(engine: RunEngine) -> None:
    """Before any model or tool work: check and save the session (with the request's
    state) and read its history; the run's record is saved next, with `run.started`."""
    if engine.resume is not None:
        run = engine.resume.run
        state = engine.state
        state.messages.extend(run.messages)
        state.tool_calls.extend(run.tool_calls)
        engine.ctx.usage.incr(run.usage)
        state.seq = int(run.metadata.get("last_seq", 0))
        state.step = int(run.metadata.get("step", 0))
        state.started_at = run.started_at or state.started_at
        engine.ctx.references.extend(run.to_result().references)
    persist = engine.persist
    session_id = engine.ctx.session_id
    if persist.store is not None and session_id is not None:
        if engine.options.shared_state is None:
            engine.ctx.state = await persist.open_session(
                session_id,
                agent_id=engine.plan.name,
                user_id=engine.ctx.user_id,
                state=dict(engine.options.state or {}) if engine.resume is None else {},
            )
        if engine.options.message_history is None:
            history, info, engine.summary = await persist.session_history(
                session_id, engine.plan, top_level=engine.ctx.parent_run_id is None
            )
            engine.state.history = history
            engine.state.metadata[HISTORY_KEY] = info.to_json()
    if engine.options.message_history is not None:
        engine.state.history = repair_history(engine.options.message_history)


def close_open(
    engine: RunEngine, *, cancelled: bool, error: BaseException | None = None
) -> list[ev.BaseEvent]:
    """Close every started subject so each `.started` has exactly one ending; tool calls in
    flight go on the record as ended by the stop."""
    state = engine.state
    closing: list[ev.BaseEvent] = []
    info = ErrorInfo.from_exception(error) if error else ErrorInfo(type="Cancelled", message="")
    reason = info.message if error else "Cancelled: the run was cancelled before it finished."
    for call_id, (name, args) in list(state.open_tool_calls.items()):
        state.tool_calls.append(
            ToolCallRecord(tool_call_id=call_id, tool_name=name, args=args, error=reason)
        )
        if cancelled:
            closing.append(engine.emit(ev.ToolCallCancelled, tool_call_id=call_id, tool_name=name))
        else:
            closing.append(
                engine.emit(
                    ev.ToolCallFailed, tool_call_id=call_id, tool_name=name, error=info.message
                )
            )
    state.open_tool_calls.clear()
    if state.open_model_request is not None:
        name = state.open_model_request
        if cancelled:
            closing.append(engine.emit(ev.ModelRequestCancelled, model_name=name, step=state.step))
        else:
            closing.append(
                engine.emit(ev.ModelRequestFailed, model_name=name, step=state.step, error=info)
            )
        state.open_model_request = None
    return closing


async def close_session(
    engine: RunEngine, status: RunStatus, error: BaseException | None, *, started: bool
) -> tuple[RunStatus, BaseException | None, bool]:
    """Save the session's state at the end of a run that opened it; a failure to save fails the
    run. Returns the run's status and error after it, and whether a completed run keeps its
    output (the work was done: its output, messages and usage stay on the record)."""
    if (
        engine.persist.store is None
        or engine.ctx.session_id is None
        or not started
        or engine.options.shared_state is not None
    ):
        return status, error, False
    try:
        with anyio.CancelScope(shield=True):
            await engine.persist.close_session(
                engine.ctx.session_id,
                agent_id=engine.plan.name,
                user_id=engine.ctx.user_id,
                state=engine.ctx.state,
            )
    except Exception as exc:
        return RunStatus.FAILED, exc, status is RunStatus.COMPLETED
    return status, error, False


def build_result(
    engine: RunEngine, status: RunStatus, error: BaseException | None, *, keep_output: bool = False
) -> RunResult[Any]:
    """The run's result as it stands, with `status` (any `error` makes it failed). The output is
    kept only for a completed run, or with `keep_output` (a run whose session could not be
    saved after its work was done)."""
    if error is not None:
        status = RunStatus.FAILED
    state = engine.state
    done = status is RunStatus.COMPLETED or keep_output
    result: RunResult[Any] = RunResult.model_construct(
        run_id=engine.ctx.run_id,
        session_id=engine.ctx.session_id,
        agent_id=engine.plan.name,
        parent_run_id=engine.ctx.parent_run_id,
        user_id=engine.ctx.user_id,
        status=status,
        output=state.final if done and state.final is not MISSING else None,
        usage=engine.ctx.usage,
        messages=list(state.messages),
        tool_calls=list(state.tool_calls),
        requirements=list(state.requirements) if status is RunStatus.PAUSED else [],
        error=ErrorInfo.from_exception(error) if error is not None else None,
        references=list(engine.ctx.references),
        started_at=state.started_at,
        finished_at=None if status in (RunStatus.PAUSED, RunStatus.RUNNING) else datetime.now(UTC),
    )
    result._history = list(state.history)  # pyright: ignore[reportPrivateUsage]
    result._exception = error  # pyright: ignore[reportPrivateUsage]
    return result


def run_record(engine: RunEngine, status: RunStatus, result: RunResult[Any] | None = None) -> Run:
    """The stored record of the run: the result, the input as stored, and what a resume needs
    back in `metadata` (the last `seq`, the step, a paused run's pending parts and calls)."""
    if result is None:
        result = build_result(engine, status, None)
    metadata = dict(engine.options.metadata)
    if engine.state.metadata:
        metadata.update(engine.state.metadata)
    metadata.update(last_seq=engine.state.seq, step=engine.state.step)
    if status is RunStatus.PAUSED:
        metadata["pending_parts"] = [p.model_dump(mode="json") for p in engine.state.pending_parts]
        if engine.state.paused_calls:
            metadata["paused_calls"] = engine.state.paused_calls
    output = result.output
    if output is not None and not isinstance(output, str | int | float | bool):
        output = to_jsonable_python(output)
    run = Run.from_result(
        result.model_copy(update={"output": output}),
        input=input_json(engine.options.input),
        metadata=metadata,
    )
    if engine.resume is not None:
        run.input = engine.resume.run.input
    return run


async def finish(engine: RunEngine, toolsets: AsyncExitStack, result: RunResult[Any]) -> None:
    """Close the run's toolsets, then keep its final record, even when closing fails."""
    try:
        await toolsets.aclose()
    finally:
        await _keep(engine, result)


async def _keep(engine: RunEngine, result: RunResult[Any]) -> None:
    """Save the final record with the rest of the log; without a store, keep a paused run in
    memory (`paused_runs`) so it can still be resumed."""
    paused = engine.plan.paused_runs
    if engine.persist.store is None:
        # Nothing to save: the record (a deep copy of the messages) is built only for a
        # paused run kept in memory.
        if result.status is RunStatus.PAUSED and paused is not None:
            paused.keep(run_record(engine, result.status, result))
        return
    record = run_record(engine, result.status, result)
    # The rest of the log and the final record in one store call (one transaction in a
    # store that has them; otherwise the log first, so a follower that stops at a final
    # status has every event by then).
    await engine.persist.save_run(record)


def input_json(value: str | Sequence[UserContent] | None) -> Any:
    """A run's input as stored."""
    if value is None or isinstance(value, str):
        return value
    return [c.model_dump(mode="json") for c in value]
