"""`POST /v1/agui/{kind}/{id}`: run an agent, team or workflow for an AG-UI front end.

The body is AG-UI's `RunAgentInput` (camelCase JSON); the answer is the AG-UI event stream over
SSE (`data:` lines of AG-UI events). The run is an ordinary Covey run in the run manager: it is
stored, visible at `/v1/runs/{id}` (its id arrives as the `covey.run` custom event) and goes on
if the client disconnects, like any streamed run.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, cast

from litestar import Controller, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from litestar.response import Stream
from pydantic import ValidationError

from covey.runtime import composites
from covey.runtime.agui import AguiTranslator, agui_input, encode, split_interrupt_id
from covey.runtime.auth import Principal
from covey.runtime.dto import ApprovalDecision, ResumeRequest, RunRequest, public_events
from covey.runtime.guards import require_scope
from covey.runtime.live import LiveRun
from covey.runtime.problems import ApiError, problem_responses
from covey.runtime.sse import KEEPALIVE_FRAME, SSE_HEADERS, SSE_MEDIA_TYPE
from covey.runtime.state import RuntimeState
from covey.spec import RunStatus
from covey.spec.store import Scope

__all__ = ["AguiController"]

_KINDS = {"agents": "agent", "teams": "team", "workflows": "workflow"}


def _invalid(field: str, message: str) -> ApiError:
    return ApiError(
        400,
        "validation-error",
        "Invalid AG-UI RunAgentInput",
        errors=[{"field": field, "message": message}],
    )


def _parse(data: dict[str, Any]) -> tuple[Any, RunRequest | None]:
    """The AG-UI input, and the run to start (`None`: its `resume` entries continue a run)."""
    from ag_ui.core import RunAgentInput

    try:
        body = RunAgentInput.model_validate(data)
    except ValidationError as exc:
        errors = [
            {"field": ".".join(map(str, e["loc"])), "message": e["msg"]} for e in exc.errors()
        ]
        raise ApiError(
            400, "validation-error", "Invalid AG-UI RunAgentInput", errors=errors
        ) from None
    state: Any = body.state
    if state is not None and not isinstance(state, dict):
        raise _invalid("state", "the state must be a JSON object")
    if body.resume:
        return body, None
    try:
        text = agui_input(body)
    except ValueError as exc:
        raise _invalid("messages", str(exc)) from None
    try:
        request = RunRequest(
            input=text, session_id=body.thread_id, state=cast("dict[str, Any]", state) or None
        )
    except ValidationError as exc:
        raise _invalid("threadId", "; ".join(e["msg"] for e in exc.errors())) from None
    return body, request


def _approved(payload: Any) -> ApprovalDecision:
    """An approval interrupt's answer: approved only when the payload says so explicitly."""
    if isinstance(payload, bool):
        return ApprovalDecision(approved=payload)
    if isinstance(payload, dict):
        answer = cast("dict[str, Any]", payload)
        note = answer.get("note")
        return ApprovalDecision(
            approved=answer.get("approved") is True,
            note=note if isinstance(note, str) else None,
        )
    return ApprovalDecision(approved=False)


async def _resume(
    runtime: RuntimeState, principal: Principal, body: Any, runnable_id: str
) -> tuple[str, ResumeRequest]:
    """The paused run AG-UI `resume` entries answer, and the decisions they carry.

    Every entry must name an interrupt of one paused run of the thread. An approval is granted
    only by a `resolved` entry whose payload is `true` or `{"approved": true}`; anything else
    (a `cancelled` entry too) rejects the call. An input or external result takes the payload.
    """
    runs: set[str] = set()
    answers: dict[str, Any] = {}
    for index, entry in enumerate(body.resume):
        try:
            run_id, call = split_interrupt_id(entry.interrupt_id)
        except ValueError as exc:
            raise _invalid(f"resume.{index}.interruptId", str(exc)) from None
        runs.add(run_id)
        answers[call] = entry
    if len(runs) != 1:
        raise _invalid("resume", "the entries answer the interrupts of more than one run")
    (run_id,) = runs
    run, _ = await runtime.find_run(principal.read_scope, run_id)
    if run is None or run.session_id != body.thread_id or run.agent_id != runnable_id:
        raise _invalid(
            "resume", f"run {run_id!r} is not a run of {runnable_id!r} in thread {body.thread_id!r}"
        )
    if run.status is not RunStatus.PAUSED:
        # Answered before the decisions are read: the interrupts were already decided (the
        # claim in `RuntimeState.resume` is what makes two deciders never both win).
        raise ApiError(
            409,
            "run-not-paused",
            f"Run {run_id!r} is {run.status.value}; its interrupts were already answered",
        )
    kinds = {r.tool_call_id: r.kind for r in run.requirements}
    decisions = ResumeRequest()
    for call, entry in answers.items():
        kind = kinds.get(call)
        payload: Any = entry.payload
        if kind == "approval":
            decisions.approvals[call] = _approved(payload if entry.status == "resolved" else False)
        elif kind is None:
            raise _invalid("resume", f"run {run_id!r} waits for no interrupt {call!r}")
        elif entry.status != "resolved":
            raise _invalid("resume", f"interrupt {call!r} asks for a value; it cannot be cancelled")
        elif kind == "input":
            if not isinstance(payload, dict):
                raise _invalid("resume", f"interrupt {call!r} needs an object of the inputs")
            decisions.inputs[call] = cast("dict[str, Any]", payload)
        else:
            decisions.results[call] = payload
    return run_id, decisions


def _rejections(decisions: ResumeRequest) -> dict[str, str]:
    """What the model is told of each rejected call (the run loop's own words)."""
    out: dict[str, str] = {}
    for call, decision in decisions.approvals.items():
        if isinstance(decision, ApprovalDecision) and not decision.approved:
            note = f" Note: {decision.note}" if decision.note else ""
            out[call] = f"The user rejected this tool call.{note}"
    return out


async def _session_state(runtime: RuntimeState, scope: Scope, session_id: str) -> Any:
    session = await runtime.store.get_session(scope, session_id)
    return dict(session.state) if session is not None else {}


async def _frames(
    runtime: RuntimeState, live: LiveRun, translator: AguiTranslator, scope: Scope
) -> AsyncIterator[bytes]:
    yield encode(translator.started())
    async for event in public_events(live.follow(live.base_seq)):
        if event is None:
            yield KEEPALIVE_FRAME
            continue
        state = None
        if translator.wants_state(event):
            state = await _session_state(runtime, scope, live.session_id or "")
        for frame in translator.frames(event, state):
            yield frame


class AguiController(Controller):
    """AG-UI endpoints: one per served agent, team and workflow."""

    path = "/v1/agui"
    tags = ["ag-ui"]  # noqa: RUF012 - Litestar reads these class attributes
    guards = [require_scope]  # noqa: RUF012

    @post(
        "/{kind:str}/{runnable_id:str}",
        opt={"scope": "agents:run"},
        status_code=200,
        summary="Run for an AG-UI front end",
        description="The body is AG-UI's `RunAgentInput` (`threadId` is the Covey session, the "
        "last user message the input; `resume` entries answer a paused run's interrupts and "
        "continue it); the answer is the AG-UI event stream (SSE). `kind` is `agents`, `teams` "
        "or `workflows`.",
        responses=problem_responses(400, 401, 403, 404, 413, 415, 503),
    )
    async def run(
        self,
        runtime: NamedDependency[RuntimeState],
        principal: NamedDependency[Principal],
        kind: FromPath[str],
        runnable_id: FromPath[str],
        data: JSONBody[dict[str, Any]],
    ) -> Stream:
        """Start a run and stream it as AG-UI events."""
        what = _KINDS.get(kind)
        if what is None:
            raise ApiError(
                404, "not-found", f"No AG-UI endpoint for {kind!r}; use agents, teams or workflows"
            )
        body, request = _parse(data)
        rejected: dict[str, str] = {}
        if request is None:
            run_id, decisions = await _resume(runtime, principal, body, runnable_id)
            live = await runtime.resume(principal, run_id, decisions, deltas=True)
            rejected = _rejections(decisions)
        elif what == "agent":
            live = runtime.start_run(runtime.agent(runnable_id), request, principal, deltas=True)
        else:
            found = composites.find(runtime, what, runnable_id)  # type: ignore[arg-type]
            live = composites.start_run(runtime, found, request, principal, deltas=True)
        translator = AguiTranslator(thread_id=body.thread_id, run_id=body.run_id, rejected=rejected)
        return Stream(
            _frames(runtime, live, translator, principal.write_scope),
            media_type=SSE_MEDIA_TYPE,
            headers=SSE_HEADERS,
        )
