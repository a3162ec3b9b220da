"""One batch of tool calls: requirements that pause the run, the calls that run now, and the
decisions a resumed run applies."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from covey.core.limits import Budget
from covey.core.run.state import MISSING, Pause
from covey.core.tool_calls import ToolEntry, ToolOutcome, run_tool_calls
from covey.spec import (
    ModelRequest,
    ModelResponse,
    Requirement,
    RetryPart,
    ToolCallPart,
    ToolCallRecord,
    ToolReturnPart,
)
from covey.spec import events as ev
from covey.spec.errors import UnexpectedModelBehavior

if TYPE_CHECKING:
    from covey.core.run.engine import RunEngine
    from covey.core.run.relay import ResumedCall

__all__ = ["call_tools", "resume_pending", "run_calls"]

Runnable = list[tuple[ToolCallPart, dict[str, Any]]]


async def call_tools(e: RunEngine, calls: list[ToolCallPart]) -> AsyncIterator[ev.BaseEvent]:
    """Run the calls that need nothing from a person; pause for the ones that do."""
    e.plan.usage_limits.check_before_tool_calls(e.ctx.usage, len(calls))
    for budget in e.options.budgets:
        budget.limits.check_before_tool_calls(budget.usage, len(calls))
    runnable: Runnable = []
    for call in calls:
        entry = e.tools.get(call.tool_name)
        try:
            args = call.args_as_dict()
        except ValueError as exc:
            _count_retry(e, call.tool_name, exc)
            e.state.pending_parts.append(
                RetryPart(
                    content=f"The arguments are not a valid JSON object: {exc}",
                    tool_name=call.tool_name,
                    tool_call_id=call.tool_call_id,
                )
            )
            continue
        requirement = _requirement(call, args, entry)
        if requirement is not None:
            e.state.requirements.append(requirement)
            continue
        runnable.append((call, args))
    async for event in run_calls(e, runnable):
        yield event
    if e.state.requirements:
        for requirement in e.state.requirements:
            yield e.emit(ev.RequirementCreated, requirement=requirement)
        raise Pause
    if e.state.final is not MISSING:
        # A tool ended the run (`EndRun`): its return closes the record's last turn.
        e.state.messages.append(ModelRequest(parts=[*e.state.take_parts()], run_id=e.ctx.run_id))


def _count_retry(e: RunEngine, tool_name: str, exc: BaseException) -> None:
    used = e.ctx.retries.get(tool_name, 0) + 1
    e.ctx.retries[tool_name] = used
    if used > e.plan.tool_retries:
        raise UnexpectedModelBehavior(
            f"Tool {tool_name!r} exceeded its {e.plan.tool_retries} allowed retries: {exc}"
        )


async def run_calls(
    e: RunEngine,
    runnable: Runnable,
    resumed: dict[str, ResumedCall] | None = None,
    approved: frozenset[str] = frozenset(),
) -> AsyncIterator[ev.BaseEvent]:
    """Run `runnable` concurrently, recording each outcome; `resumed` holds the decisions for
    paused calls run again, `approved` the ids of calls a person approved."""
    if not runnable:
        return
    state = e.state
    started: list[ev.BaseEvent] = []
    for call, args in runnable:
        state.open_tool_calls[call.tool_call_id] = (call.tool_name, args)
        started.append(
            e.emit(
                ev.ToolCallStarted,
                tool_call_id=call.tool_call_id,
                tool_name=call.tool_name,
                args=args,
            )
        )
    e.ctx.usage.tool_calls += len(runnable)
    for budget in e.options.budgets:
        budget.usage.tool_calls += len(runnable)
    # Stored before anyone sees them: a live follower never sees more than the log keeps, so a
    # crash right after leaves the same story for those who re-attach.
    await e.persist.flush()
    for event in started:
        yield event
    plan = e.plan
    work = run_tool_calls(
        runnable,
        e.tools,
        e.ctx,
        default_timeout=plan.tool_timeout,
        hooks=plan.tool_hooks,
        error_policy=plan.tool_errors,
        max_retries=plan.tool_retries,
        approved=approved,
    )
    if plan.relay_events or resumed:
        from covey.core.run.relay import RunRelay, relayed

        relay = RunRelay(
            store=e.options.store,
            stream=e.options.stream,
            budgets=(*e.options.budgets, Budget(plan.usage_limits, e.ctx.usage)),
            metadata=state.metadata,
            resumed=resumed or {},
        )
        out: list[list[ToolOutcome]] = []
        async for event in relayed(e, relay, work, out):
            yield event
        outcomes = out[0]
    else:
        outcomes = await e.step(work)
    fatal: BaseException | None = None
    for outcome in outcomes:
        call = outcome.call
        state.open_tool_calls.pop(call.tool_call_id, None)
        if outcome.paused is not None:
            requirements = outcome.paused.requirements
            state.requirements.extend(requirements)
            state.paused_calls[call.tool_call_id] = {
                "tool_name": call.tool_name,
                "args": outcome.args,
                "token": outcome.paused.token,
                "requirements": [r.tool_call_id for r in requirements],
            }
            yield e.emit(
                ev.ToolCallPaused, tool_call_id=call.tool_call_id, tool_name=call.tool_name
            )
            continue
        if outcome.approval is not None:
            # The toolset asked for a person (`ApprovalRequired`): an ordinary approval
            # requirement, so resuming with a yes runs the call again, approved.
            state.requirements.append(outcome.approval)
            yield e.emit(
                ev.ToolCallPaused, tool_call_id=call.tool_call_id, tool_name=call.tool_name
            )
            continue
        if outcome.final is not None and state.final is MISSING:
            state.final = outcome.final.output
        state.tool_calls.append(outcome.record)
        state.pending_parts.append(outcome.part)
        if outcome.record.error is None:
            yield e.emit(
                ev.ToolCallCompleted,
                tool_call_id=call.tool_call_id,
                tool_name=call.tool_name,
                result=outcome.record.result,
                duration=outcome.record.duration,
            )
        else:
            yield e.emit(
                ev.ToolCallFailed,
                tool_call_id=call.tool_call_id,
                tool_name=call.tool_name,
                error=outcome.record.error,
                retry=outcome.retry,
                duration=outcome.record.duration,
            )
        fatal = fatal or outcome.fatal
    if fatal is not None:
        raise fatal


async def resume_pending(e: RunEngine) -> AsyncIterator[ev.BaseEvent]:
    """Apply a resumed run's decisions: run what was approved, answer the rest."""
    assert e.resume is not None
    state = e.state
    run = e.resume.run
    state.pending_parts = _load_parts(run.metadata.get("pending_parts", []))
    last = state.messages[-1] if state.messages else None
    order = (
        {c.tool_call_id: i for i, c in enumerate(last.tool_calls())}
        if isinstance(last, ModelResponse)
        else {}
    )
    runnable: Runnable = []
    approved_ids: set[str] = set()
    paused_calls: dict[str, dict[str, Any]] = run.metadata.get("paused_calls", {})
    owners = {rid: cid for cid, info in paused_calls.items() for rid in info["requirements"]}
    resumed: dict[str, ResumedCall] = {}
    for requirement in run.requirements:
        owner = owners.get(requirement.tool_call_id)
        if owner is not None:
            _hand_over(e, requirement, resumed, owner, paused_calls[owner]["token"])
            continue
        call = ToolCallPart(
            tool_name=requirement.tool_name,
            args=requirement.args,
            tool_call_id=requirement.tool_call_id,
        )
        if requirement.kind == "external":
            value = e.resume.results[requirement.tool_call_id]
            state.pending_parts.append(
                ToolReturnPart(
                    tool_name=call.tool_name, content=value, tool_call_id=call.tool_call_id
                )
            )
            state.tool_calls.append(
                ToolCallRecord(
                    tool_call_id=call.tool_call_id,
                    tool_name=call.tool_name,
                    args=requirement.args,
                    result=value,
                )
            )
            continue
        if requirement.kind == "input":
            args = {**requirement.args, **e.resume.inputs[requirement.tool_call_id]}
            runnable.append((call.model_copy(update={"args": args}), args))
            continue
        approved, note = _decision(e.resume.approvals[requirement.tool_call_id])
        if approved:
            runnable.append((call, dict(requirement.args)))
            approved_ids.add(call.tool_call_id)
        else:
            text = "The user rejected this tool call." + (f" Note: {note}" if note else "")
            state.pending_parts.append(
                ToolReturnPart(
                    tool_name=call.tool_name,
                    content=text,
                    tool_call_id=call.tool_call_id,
                    is_error=True,
                )
            )
            state.tool_calls.append(
                ToolCallRecord(
                    tool_call_id=call.tool_call_id,
                    tool_name=call.tool_name,
                    args=requirement.args,
                    error=text,
                )
            )
    for call_id in resumed:  # their decisions reach them through the relay
        info = paused_calls[call_id]
        part = ToolCallPart(tool_name=info["tool_name"], args=info["args"], tool_call_id=call_id)
        runnable.append((part, dict(info["args"])))
    # Approved calls run without asking again.
    async for event in run_calls(e, runnable, resumed or None, frozenset(approved_ids)):
        yield event
    if state.requirements:
        # A call run again paused again (a team member asking for more).
        for requirement in state.requirements:
            yield e.emit(ev.RequirementCreated, requirement=requirement)
        raise Pause
    state.pending_parts.sort(key=lambda p: order.get(p.tool_call_id or "", len(order)))
    state.messages.append(ModelRequest(parts=[*state.take_parts()], run_id=e.ctx.run_id))


def _hand_over(
    e: RunEngine,
    requirement: Requirement,
    resumed: dict[str, ResumedCall],
    call_id: str,
    token: Any,
) -> None:
    """File the decision for a requirement of a paused call under that call."""
    from covey.core.run.relay import ResumedCall

    assert e.resume is not None
    decisions = resumed.get(call_id)
    if decisions is None:
        decisions = resumed[call_id] = ResumedCall(token=token)
    rid = requirement.tool_call_id
    if requirement.kind == "approval":
        decisions.approvals[rid] = e.resume.approvals[rid]
    elif requirement.kind == "input":
        decisions.inputs[rid] = e.resume.inputs[rid]
    else:
        decisions.results[rid] = e.resume.results[rid]


def _requirement(
    call: ToolCallPart, args: dict[str, Any], entry: ToolEntry | None
) -> Requirement | None:
    if entry is None:
        return None
    definition = entry.definition
    if definition.kind == "external":
        kind = "external"
    elif definition.input_fields:
        kind = "input"
    elif definition.requires_approval:
        kind = "approval"
    else:
        return None
    return Requirement(
        tool_call_id=call.tool_call_id,
        tool_name=call.tool_name,
        kind=kind,
        args=args,
        input_fields=list(definition.input_fields),
        description=definition.description or None,
    )


def _decision(value: Any) -> tuple[bool, str | None]:
    if isinstance(value, bool):
        return value, None
    if isinstance(value, dict):
        decision: dict[str, Any] = value  # pyright: ignore[reportUnknownVariableType]
        note = decision.get("note")
        return bool(decision.get("approved", False)), str(note) if note else None
    raise TypeError(
        "an approval is True, False, or {'approved': bool, 'note': str}; got "
        f"{type(value).__name__}"
    )


def _load_parts(data: list[dict[str, Any]]) -> list[ToolReturnPart | RetryPart]:
    parts: list[ToolReturnPart | RetryPart] = []
    for item in data:
        if item.get("kind") == "retry":
            parts.append(RetryPart.model_validate(item))
        else:
            parts.append(ToolReturnPart.model_validate(item))
    return parts
