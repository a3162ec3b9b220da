"""`CoveyExecutor`: an A2A `AgentExecutor` that runs a served agent, team or workflow.

Each A2A task is one ordinary Covey run, started through the run manager like a REST run (so it
is stored, visible under `/v1/runs`, cancellable and counted), in the session named by the A2A
`contextId`, for the caller the runtime's auth middleware authenticated. The run's text deltas
stream as chunks of one artifact; its final status maps to the task's: completed, failed,
canceled, or input-required for a paused run: a message in the same task carrying the
decisions as a data part (the body of `/v1/runs/{id}/resume`) resumes that run.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any, cast

from a2a.helpers.proto_helpers import new_data_part, new_task, new_text_part
from a2a.server.agent_execution import AgentExecutor, RequestContext
from a2a.server.events.event_queue import EventQueue
from a2a.server.tasks import TaskUpdater
from pydantic import ValidationError

from covey.runtime.auth import Principal
from covey.runtime.dto import ResumeRequest, RunRequest, WorkflowRunRequest
from covey.runtime.live import LiveRun
from covey.runtime.problems import ApiError
from covey.runtime.runnables import Kind, Runnable
from covey.runtime.state import RuntimeState
from covey.spec import events as ev
from covey.spec.runs import Requirement, RunResult, RunStatus

__all__ = ["PRINCIPAL_KEY", "CoveyExecutor"]

log = logging.getLogger("covey.runtime.a2a")

PRINCIPAL_KEY = "covey.principal"
"""Where the call context's state holds the caller's `Principal`."""

RUN_ID_KEY = "covey.run_id"
"""The task metadata key naming the Covey run behind a task."""


class CoveyExecutor(AgentExecutor):
    """Runs one served runnable for A2A requests."""

    def __init__(self, runtime: RuntimeState, runnable: Runnable, kind: Kind) -> None:
        self._runtime = runtime
        self._runnable = runnable
        self._kind = kind
        self._runs: dict[str, str] = {}
        """task id → the run id of its run, while it runs here: which tasks this process
        streams itself. Not needed otherwise: the run id is in the stored task's metadata."""

    def runs_here(self, task_id: str) -> bool:
        """Whether the run of task `task_id` runs in this process (its events stream here)."""
        return task_id in self._runs

    async def execute(self, context: RequestContext, event_queue: EventQueue) -> None:
        """Start the run, stream its text, and end the task as the run ended."""
        principal = _principal(context)
        task_id = context.task_id or ""
        context_id = context.context_id or ""
        updater = TaskUpdater(event_queue, task_id, context_id)
        if context.current_task is not None:
            await self._continue(context, updater, principal)
            return
        text = context.get_user_input()
        try:
            body = self._request(text, context_id)
        except ValidationError as exc:
            await event_queue.enqueue_event(_task(context, None))
            reason = "; ".join(str(e["msg"]) for e in exc.errors())
            await updater.reject(_say(updater, f"Refused: {reason}"))
            return
        try:
            live = self._start(body, principal)
        except ApiError as exc:
            await event_queue.enqueue_event(_task(context, None))
            await updater.failed(_say(updater, exc.detail))
            return
        # The run id rides on the task, so a later message (decisions) or cancel finds the run.
        await event_queue.enqueue_event(_task(context, live.run_id))
        await self._follow(task_id, live, updater)

    async def _follow(self, task_id: str, live: LiveRun, updater: TaskUpdater) -> None:
        self._runs[task_id] = live.run_id
        try:
            await updater.update_status(
                _state("TASK_STATE_WORKING"),
                metadata={RUN_ID_KEY: live.run_id, "session_id": live.session_id},
            )
            await self._stream(live, updater)
        finally:
            self._runs.pop(task_id, None)

    async def _continue(
        self, context: RequestContext, updater: TaskUpdater, principal: Principal
    ) -> None:
        """A message on a task whose run is paused: its decisions, as a data part
        `{"approvals": {call id: bool}, "inputs": {...}, "results": {...}}` (the body of
        `POST /v1/runs/{id}/resume`); the run resumes and the task goes on."""
        task = context.current_task
        assert task is not None
        run_id = _run_id_of(task)
        decisions = _decisions(context)
        if not run_id or decisions is None:
            await updater.requires_input(
                _say(
                    updater,
                    "Send the decisions as a data part: "
                    '{"approvals": {"<tool call id>": true}, "inputs": {...}, "results": {...}}.',
                )
            )
            return
        try:
            body = ResumeRequest.model_validate(decisions)
        except ValidationError as exc:
            reason = "; ".join(str(e["msg"]) for e in exc.errors())
            await updater.requires_input(_say(updater, f"Those decisions are invalid: {reason}"))
            return
        try:
            live = await self._runtime.resume(principal, run_id, body, deltas=True)
        except ApiError as exc:
            if exc.slug == "validation-error":  # decisions that do not match: ask again
                wrong = "; ".join(f"{e['field']}: {e['message']}" for e in exc.errors or [])
                await updater.requires_input(_say(updater, f"{exc.detail}: {wrong}"))
            else:  # the run is no longer paused (decided elsewhere, cancelled, not served)
                await updater.failed(_say(updater, exc.detail))
            return
        await self._follow(task.id, live, updater)

    async def cancel(self, context: RequestContext, event_queue: EventQueue) -> None:
        """Cancel the task's run (its children with it) and mark the task canceled."""
        task_id = context.task_id or ""
        updater = TaskUpdater(event_queue, task_id, context.context_id or "")
        run_id = self._runs.get(task_id)
        if run_id is None and context.current_task is not None:
            run_id = _run_id_of(context.current_task)  # a paused run: cancel it too
        if run_id:
            try:
                await self._runtime.cancel(_principal(context), run_id)
            except ApiError as exc:  # the run is gone from the store: nothing left to stop
                log.info("A2A cancel of task %s: %s", task_id, exc.detail)
        await updater.cancel()

    # --- helpers -------------------------------------------------------------------------------

    def _request(self, text: str, context_id: str) -> RunRequest:
        """The run request, validated like the REST API's (a blank message is refused)."""
        model = WorkflowRunRequest if self._kind == "workflow" else RunRequest
        return model(input=text, session_id=context_id or None)

    def _start(self, body: RunRequest, principal: Principal) -> LiveRun:
        if self._kind == "agent":
            agent = self._runtime.agent(self._runnable.name or "")
            return self._runtime.start_run(agent, body, principal, deltas=True)
        from covey.runtime import composites

        return composites.start_run(self._runtime, self._runnable, body, principal, deltas=True)

    async def _stream(self, live: LiveRun, updater: TaskUpdater) -> None:
        artifact_id = f"{live.run_id}-output"
        streamed = False
        async for event in live.follow(live.base_seq):
            if isinstance(event, ev.TextDelta) and event.run_id == live.run_id and event.delta:
                await updater.add_artifact(
                    [new_text_part(event.delta)],
                    artifact_id=artifact_id,
                    name="output",
                    append=streamed,
                )
                streamed = True
        result = await live.wait()
        await _finish(updater, result, artifact_id, streamed=streamed)


def _task(context: RequestContext, run_id: str | None) -> Any:
    """The new task, with the run behind it in its metadata."""
    task = new_task(
        context.task_id or "",
        context.context_id or "",
        _state("TASK_STATE_SUBMITTED"),
        history=[context.message] if context.message is not None else [],
    )
    if run_id is not None:
        task.metadata.update({RUN_ID_KEY: run_id})
    return task


def _run_id_of(task: Any) -> str | None:
    value = task.metadata.fields.get(RUN_ID_KEY)
    return value.string_value or None if value is not None else None


def _decisions(context: RequestContext) -> dict[str, Any] | None:
    """The first data part of the message that is a JSON object, or `None`."""
    from google.protobuf.json_format import MessageToDict

    message = context.message
    if message is None:
        return None
    for part in message.parts:
        if part.WhichOneof("content") == "data":
            value = MessageToDict(part).get("data")
            if isinstance(value, dict):
                return cast("dict[str, Any]", value)
    return None


def _say(updater: TaskUpdater, text: str) -> Any:
    """An agent message of one text part, in the task."""
    return updater.new_agent_message([new_text_part(text)])


def _principal(context: RequestContext) -> Principal:
    principal = context.call_context.state.get(PRINCIPAL_KEY)
    if not isinstance(principal, Principal):  # the mount always sets it; never trust otherwise
        raise PermissionError("no authenticated caller")
    return principal


def _state(name: str) -> Any:
    from a2a.types.a2a_pb2 import TaskState

    return TaskState.Value(name)


async def _finish(
    updater: TaskUpdater, result: RunResult[Any] | None, artifact_id: str, *, streamed: bool
) -> None:
    """End the task as the run ended; the output as the artifact when it was not streamed."""
    if result is None:
        await updater.failed(_say(updater, "The run ended without a result."))
        return
    status = result.status
    if status is RunStatus.COMPLETED:
        output = result.output
        if isinstance(output, str):
            if not streamed:
                await updater.add_artifact(
                    [new_text_part(output)], artifact_id=artifact_id, name="output"
                )
        elif output is not None:
            data = output.model_dump(mode="json") if hasattr(output, "model_dump") else output
            await updater.add_artifact(
                [new_data_part(json.loads(json.dumps(data, default=str)))],
                artifact_id=f"{artifact_id}-data",
                name="output",
            )
        await updater.complete()
        return
    if status is RunStatus.PAUSED:
        await updater.requires_input(
            updater.new_agent_message(paused_parts(result.run_id, result.requirements))
        )
        return
    if status is RunStatus.CANCELLED:
        await updater.cancel()
        return
    reason = result.error.message if result.error is not None else status.value
    await updater.failed(_say(updater, f"The run failed: {reason}"))


def paused_parts(run_id: str, requirements: Sequence[Requirement]) -> list[Any]:
    """The parts of the input-required message of a paused run: what it waits for, in words
    and as data (also used to rebuild a task from its stored run, in `tasks.py`)."""
    names = ", ".join(f"{r.kind} {r.tool_name}" for r in requirements)
    needs = [
        {
            "tool_call_id": r.tool_call_id,
            "tool_name": r.tool_name,
            "kind": r.kind,
            "args": r.args,
            "input_fields": list(r.input_fields),
        }
        for r in requirements
    ]
    return [
        new_text_part(
            f"The run {run_id} is paused for: {names}. Reply in this task "
            'with a data part {"approvals": {"<tool call id>": true or false}, '
            '"inputs": {...}, "results": {...}}, or POST /v1/runs/'
            f"{run_id}/resume."
        ),
        new_data_part(json.loads(json.dumps({"requirements": needs}, default=str))),
    ]
