"""The steps that do the work: a function, or an agent, team or workflow run as a child run."""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, Any, cast

import anyio
from pydantic import BaseModel

from covey.core.run.state import Cancelled
from covey.core.workflow.definition import Workflow
from covey.core.workflow.executor import Frame, Out, Paused, StepError, jsonable
from covey.core.workflow.steps import Step, StepInput, StepPause
from covey.spec import RunStatus
from covey.spec import events as ev
from covey.spec.store import Run

if TYPE_CHECKING:
    from covey.core.workflow.executor import WorkflowRun
    from covey.core.workflow.plan import Node

__all__ = ["function_step", "runnable_step"]

_FINAL = (ev.RunCompleted, ev.RunFailed, ev.RunPaused, ev.RunCancelled)
_ABSENT: Any = object()


def _revive(node: Node, stored: Any) -> Any:
    """A finished step's stored output as the step returned it (models validated again)."""
    model = node.output_model()
    if model is not None and stored is not None and not isinstance(stored, model):
        return model.model_validate(stored)
    return stored


def _replayed(run: WorkflowRun, frame: Frame, out: Out) -> bool:
    """Take a step that finished before a resume from its record; whether it had."""
    resume = run.resume
    if resume is None:
        return False
    done = resume.finished.get(frame.path)
    if done is None:
        return False
    value = _revive(frame.node, done.output)
    run.outputs[frame.node.name] = value
    run.done[frame.path] = {"output": done.output, "run_id": done.run_id}
    out.value = value
    return True


def _decisions(run: WorkflowRun, path: str) -> dict[str, Any]:
    """The answers a resume brought for the paused step at `path`, by request id."""
    resume = run.resume
    if resume is None:
        return {}
    paused = resume.paused.get(path)
    if paused is None:
        return {}
    found: dict[str, Any] = {}
    for request_id in paused.requirement_ids:
        for given in (resume.approvals, resume.inputs, resume.results):
            if request_id in given:
                found[request_id] = given[request_id]
    return found


def _finished(run: WorkflowRun, frame: Frame, value: Any, run_id: str | None) -> ev.BaseEvent:
    stored = jsonable(value, strict=run.persist.store is not None)
    run.outputs[frame.node.name] = value
    run.done[frame.path] = {"output": stored, "run_id": run_id}
    return run.end(frame, ev.StepCompleted, output=stored, step_run_id=run_id)


# --- functions -----------------------------------------------------------------------------------


async def function_step(
    run: WorkflowRun, frame: Frame, previous: Any, out: Out, iteration: int | None
) -> AsyncIterator[ev.BaseEvent]:
    """Call a function step (sync ones in a worker thread), then store its output."""
    if _replayed(run, frame, out):
        return
    for event in run.open_frame(frame):
        yield event
    await run.boundary()  # the step's start is stored before it runs
    node = frame.node
    decisions = _decisions(run, frame.path)
    step = run.step_input(frame, previous, iteration, decisions)
    started_at = datetime.now(UTC)
    try:
        value = await _call(run, node, step, previous)
    except StepPause as pause:
        requirement = pause.requirement
        run.requirements.append(requirement)
        run.paused_out[frame.path] = {"run_id": None, "requirements": [requirement.tool_call_id]}
        yield run.end(frame, ev.StepPaused, requirements=[requirement])
        raise Paused from None
    run.ordinal += 1
    store = run.persist.store
    record_id = None
    if store is not None:
        record_id = uuid.uuid4().hex
        record = Run(
            id=record_id,
            session_id=run.ctx.session_id,
            agent_id=node.name,
            parent_run_id=run.ctx.run_id,
            user_id=run.ctx.user_id,
            status=RunStatus.COMPLETED,
            input=jsonable(previous),
            output=jsonable(value),
            started_at=started_at,
            finished_at=datetime.now(UTC),
            metadata=_step_metadata(run, frame),
        )
        # The step's side effects happened: its record is written even if a cancel arrives.
        with anyio.CancelScope(shield=True):
            await store.save_run(run.persist.scope, record)
    yield _finished(run, frame, value, record_id)
    out.value = value


async def _call(run: WorkflowRun, node: Node, step: StepInput[Any], previous: Any) -> Any:
    call = node.call()
    args: tuple[Any, ...]
    if call.takes == "none":
        args = ()
    elif call.takes == "step":
        args = (step,)
    elif call.takes == "model":
        assert call.model is not None
        args = (_as_model(call.model, previous),)
    else:
        args = (previous,)
    function = node.target
    if call.is_async:
        value = await run.guard(function(*args))
    else:
        value = await run.guard(
            anyio.to_thread.run_sync(partial(function, *args), abandon_on_cancel=True)
        )
    if call.returns is not None and not isinstance(value, call.returns):
        value = _as_model(call.returns, value)
    return value


def _as_model(model: type[BaseModel], value: Any) -> BaseModel:
    if isinstance(value, model):
        return value
    if isinstance(value, BaseModel):
        value = value.model_dump()
    if isinstance(value, str | bytes):
        return model.model_validate_json(value)
    return model.model_validate(value)


def _step_metadata(run: WorkflowRun, frame: Frame) -> dict[str, Any]:
    return {
        "step_path": frame.path,
        "step_type": frame.node.kind,
        "workflow": run.name,
        **run.snapshot(),
    }


# --- agents, teams, workflows --------------------------------------------------------------------


async def runnable_step(
    run: WorkflowRun, frame: Frame, previous: Any, out: Out, iteration: int | None
) -> AsyncIterator[ev.BaseEvent]:
    """Run an agent, team or workflow as a child run and pass its events on."""
    if _replayed(run, frame, out):
        return
    node = frame.node
    resume = run.resume
    paused = resume.paused.get(frame.path) if resume is not None else None
    child_id = paused.run_id if paused is not None and paused.run_id else uuid.uuid4().hex
    frame.step_run_id = child_id
    for event in run.open_frame(frame):
        yield event
    await run.boundary()
    await _share_state(run)
    options = run.options
    target = node.target
    if paused is not None and paused.run_id:
        decisions = _decisions(run, frame.path)
        assert resume is not None
        stream = target.resume_stream(
            child_id,
            approvals={k: v for k, v in decisions.items() if k in resume.approvals},
            inputs={k: v for k, v in decisions.items() if k in resume.inputs},
            results={k: v for k, v in decisions.items() if k in resume.results},
            store=options.store,
            user_id=options.user_id,
            tenant_id=options.tenant_id,
            deps=options.deps,
            stream_model=options.stream,
        )
    else:
        run.ordinal += 1
        in_session = options.store is not None and options.session_id is not None
        step = run.step_input(frame, previous, iteration, {})
        stream = target.run_stream(
            _prompt(node, step),
            run_id=child_id,
            parent_run_id=run.ctx.run_id,
            session_id=options.session_id,
            user_id=options.user_id,
            tenant_id=options.tenant_id,
            deps=options.deps,
            state=None if in_session else dict(run.ctx.state),
            store=options.store,
            stream_model=options.stream,
            metadata=_step_metadata(run, frame),
        )
    result = None
    forward = options.forward
    run.handle.children.add(child_id)
    try:
        async for event in stream:
            if isinstance(event, _FINAL) and event.run_id == child_id:
                result = event.result
            if forward:
                yield event
    finally:
        run.handle.children.discard(child_id)
    if result is None:
        raise StepError(f"Step {node.name!r} ended without a final run event")
    run.usage.incr(result.usage)
    await _reload_state(run)
    if result.status is RunStatus.COMPLETED:
        yield _finished(run, frame, result.output, child_id)
        out.value = result.output
        return
    if result.status is RunStatus.PAUSED:
        run.requirements.extend(result.requirements)
        run.paused_out[frame.path] = {
            "run_id": child_id,
            "requirements": [r.tool_call_id for r in result.requirements],
        }
        yield run.end(frame, ev.StepPaused, requirements=list(result.requirements))
        raise Paused
    if result.status is RunStatus.CANCELLED and run.handle.cancelled:
        raise Cancelled
    detail = result.error.message if result.error is not None else result.status.value
    raise StepError(f"Step {node.name!r} did not complete ({result.status.value}): {detail}")


def _prompt(node: Node, step: StepInput[Any]) -> Any:
    source = node.source
    template = source.input if isinstance(source, Step) else None
    if template is None:
        value = step.previous
    elif callable(template):
        value = template(step)
    else:
        value = template.format(input=step.input, previous=step.previous, outputs=step.outputs)
    if isinstance(node.target, Workflow) or value is None or isinstance(value, str):
        return value
    if isinstance(value, BaseModel):
        return value.model_dump_json()
    if isinstance(value, list) and value and all(isinstance(v, BaseModel) for v in value):  # pyright: ignore[reportUnknownVariableType]
        return cast("list[Any]", value)  # user content parts (text, images, ...)
    return json.dumps(jsonable(value, strict=False), ensure_ascii=False)


async def _share_state(run: WorkflowRun) -> None:
    """Save the workflow's state changes to the session before a child run reads it."""
    persist = run.persist
    session_id = run.ctx.session_id
    if persist.store is None or session_id is None:
        return
    await run.guard(
        persist.close_session(
            session_id, agent_id=run.name, user_id=run.ctx.user_id, state=run.ctx.state
        )
    )


async def _reload_state(run: WorkflowRun) -> None:
    """Take in what a child run changed in the session's state."""
    persist = run.persist
    session_id = run.ctx.session_id
    if persist.store is None or session_id is None:
        return
    session = await run.guard(persist.store.get_session(persist.scope, session_id))
    if session is None:
        return
    seen = persist.initial_state
    for key, value in session.state.items():
        if seen.get(key, _ABSENT) != value:
            run.ctx.state[key] = copy.deepcopy(value)
            seen[key] = value
