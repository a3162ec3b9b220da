"""What makes a workflow durable: the record each finished step leaves in the store, and
reading them back to resume a paused or interrupted run from its first unfinished step.

A finished step is a child `Run` of the workflow run (`parent_run_id`), `completed`, its output
on the record and its place in `metadata`: `step_path`, `step_type`, and a snapshot of the
workflow as the step saw it — `ordinal` (a counter the run increases at each step), `state` and
`decisions` (what each `Condition`, `Router` and `Loop` test decided, by path). An agent, team or
workflow step is the child run itself (its metadata carries the snapshot from its start); a
function step is written once it returned, before the next step starts. The latest snapshot
(highest `ordinal`) of the finished steps and of the workflow's own record gives the state and
decisions a resume starts from, so it takes the branches it took before."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from covey.core.cancellation import close_orphaned, lease_lapsed
from covey.spec import RunStatus
from covey.spec.errors import ConfigurationError, ConflictError, NotFoundError

if TYPE_CHECKING:
    from covey.core.run.plan import PausedRuns
    from covey.spec.store import Run, Scope, Store

__all__ = [
    "FinishedStep",
    "PausedStep",
    "ResumeState",
    "claim",
    "load_resume_state",
    "step_runs",
]

_PAGE = 200


@dataclass(frozen=True, slots=True)
class FinishedStep:
    """A step that finished: its output as stored, and its record's id."""

    output: Any
    run_id: str | None


@dataclass(frozen=True, slots=True)
class PausedStep:
    """A step that paused: its child run (`None` for a function step) and what it waits for."""

    run_id: str | None
    requirement_ids: tuple[str, ...]


@dataclass(slots=True, kw_only=True)
class ResumeState:
    """Where a resumed workflow run starts from."""

    run: Run
    finished: dict[str, FinishedStep] = field(default_factory=dict[str, FinishedStep])
    paused: dict[str, PausedStep] = field(default_factory=dict[str, PausedStep])
    state: dict[str, Any] = field(default_factory=dict[str, Any])
    decisions: dict[str, Any] = field(default_factory=dict[str, Any])
    ordinal: int = 0
    approvals: dict[str, Any] = field(default_factory=dict[str, Any])
    inputs: dict[str, dict[str, Any]] = field(default_factory=dict[str, dict[str, Any]])
    results: dict[str, Any] = field(default_factory=dict[str, Any])


async def step_runs(store: Store, scope: Scope, run_id: str) -> list[Run]:
    """Every child run of a workflow run, oldest first."""
    found: list[Run] = []
    cursor: str | None = None
    while True:
        page = await store.list_runs(scope, parent_run_id=run_id, limit=_PAGE, cursor=cursor)
        found.extend(page.items)
        cursor = page.next_cursor
        if cursor is None:
            return found


async def claim(
    *,
    name: str,
    run_id: str,
    store: Store | None,
    scope: Scope,
    paused_runs: PausedRuns,
    lease: timedelta,
    approvals: Mapping[str, Any],
    inputs: Mapping[str, Any],
    results: Mapping[str, Any],
) -> Run:
    """Take a workflow run over for a resume: a paused one (every requirement answered), an
    interrupted one, or a running one whose lease lapsed (closed as interrupted first, as the
    runtime's sweeper would). The status change is a compare-and-set, so of two resumes one
    runs and the other gets `ConflictError`.

    Raises:
        NotFoundError: no such run of this workflow in the scope.
        ConflictError: the run is running with a live lease, has ended, or another caller
            claimed it first.
        ConfigurationError: a requirement of a paused run has no decision.
    """
    run = await store.get_run(scope, run_id) if store is not None else None
    if run is None:
        run = paused_runs.get(run_id)
    if run is None or run.agent_id != name:
        raise NotFoundError(
            f"No run {run_id!r} of workflow {name!r} in this scope (is the store shared?)"
        )
    if store is not None and run.status is RunStatus.RUNNING:
        if not lease_lapsed(run, lease):
            raise ConflictError(
                f"Run {run_id!r} is running and its worker renewed its lease less than "
                f"{lease.total_seconds():g}s ago: only a paused run, or one whose worker died, "
                "resumes"
            )
        closed = await close_orphaned(store, scope, run, lease=lease)
        run = closed or await store.get_run(scope, run_id) or run
    if run.status is RunStatus.PAUSED:
        given = {"approval": approvals, "input": inputs, "external": results}
        missing = [
            f"{r.tool_call_id} ({r.kind} for {r.tool_name})"
            for r in run.requirements
            if r.tool_call_id not in given[r.kind]
        ]
        if missing:
            raise ConfigurationError(
                f"Run {run_id!r} cannot resume: no decision given for {', '.join(missing)}. "
                "Pass approvals={id: True|False|{'approved': bool, 'note': str}}, "
                "inputs={id: {field: value}} or results={id: value}."
            )
    elif run.status is not RunStatus.INTERRUPTED:
        raise ConflictError(
            f"Run {run_id!r} is {run.status.value}: only a paused or interrupted workflow run "
            "resumes"
        )
    if store is None:
        if paused_runs.pop(run_id) is None:
            raise ConflictError(f"Run {run_id!r} was resumed by another caller")
        return run
    claimed = run.model_copy(
        update={
            "status": RunStatus.RUNNING,
            "heartbeat_at": datetime.now(UTC),
            "error": None,
            "finished_at": None,
        }
    )
    try:
        return await store.save_run(scope, claimed, expected_status=run.status)
    except ConflictError as exc:
        raise ConflictError(
            f"Run {run_id!r} was resumed or cancelled by another caller while this resume "
            "started; nothing was run here. Read the run to see where it stands."
        ) from exc


async def load_resume_state(
    store: Store | None,
    scope: Scope,
    run: Run,
    *,
    lease: timedelta,
    approvals: Mapping[str, Any],
    inputs: Mapping[str, dict[str, Any]],
    results: Mapping[str, Any],
) -> ResumeState:
    """Read what the run did before: its finished and paused steps and its latest snapshot.
    Step runs left `running` by a dead worker are closed as interrupted on the way."""
    meta = run.metadata
    resume = ResumeState(
        run=run, approvals=dict(approvals), inputs=dict(inputs), results=dict(results)
    )
    latest = (int(meta.get("ordinal", 0)), meta)
    for path, paused in dict(meta.get("paused_steps") or {}).items():
        resume.paused[str(path)] = PausedStep(
            run_id=paused.get("run_id"), requirement_ids=tuple(paused.get("requirements", ()))
        )
    ordinal = latest[0]
    if store is None:
        for path, done in dict(meta.get("finished") or {}).items():
            resume.finished[str(path)] = FinishedStep(done.get("output"), done.get("run_id"))
    else:
        for child in await step_runs(store, scope, run.id):
            child_meta = child.metadata
            path = child_meta.get("step_path")
            if not isinstance(path, str):
                continue
            child_ordinal = int(child_meta.get("ordinal", 0))
            ordinal = max(ordinal, child_ordinal)
            if child.status is RunStatus.COMPLETED:
                resume.finished[path] = FinishedStep(child.output, child.id)
                if child_ordinal > latest[0]:
                    latest = (child_ordinal, child_meta)
            elif child.status is RunStatus.RUNNING:
                await close_orphaned(store, scope, child, lease=lease)
    snapshot = latest[1]
    resume.state = dict(snapshot.get("state") or {})
    resume.decisions = dict(snapshot.get("decisions") or {})
    resume.ordinal = ordinal
    for path in resume.finished:
        resume.paused.pop(path, None)
    return resume
