"""Building the engine that continues a paused run: find it (store, else the definition's
in-memory paused runs), check every requirement has a decision, claim it, and hand the engine
the stored run. Shared by agents, teams and team members resumed by their team."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from covey.core.run.engine import RunEngine
from covey.core.run.options import ResumeInput, RunOptions
from covey.spec import RunStatus
from covey.spec.errors import ConfigurationError, ConflictError, NotFoundError
from covey.spec.store import Scope

if TYPE_CHECKING:
    from covey.core.limits import Budget
    from covey.core.run.plan import RunPlan
    from covey.spec.store import Run, Store

__all__ = ["RESUME_DROPPED_METADATA", "claim", "resume_engine"]

RESUME_DROPPED_METADATA = ("pending_parts", "last_seq", "step", "paused_calls")
"""Record metadata a paused run keeps for its own resume, not carried into the resumed run."""


async def resume_engine(
    plan: RunPlan,
    run_id: str,
    *,
    stream: bool,
    approvals: dict[str, Any] | None,
    inputs: dict[str, dict[str, Any]] | None,
    results: dict[str, Any] | None,
    store: Store | None,
    user_id: str | None,
    tenant_id: str | None,
    deps: Any,
    shared_state: dict[str, Any] | None = None,
    budgets: tuple[Budget, ...] = (),
) -> RunEngine:
    """The engine that continues paused run `run_id` of `plan`.

    Raises:
        NotFoundError: no such paused run in this scope.
        ConflictError: the run is not paused, or another caller claimed it first.
        ConfigurationError: a requirement has no decision.
    """
    scope = Scope(tenant_id=tenant_id or "default", user_id=user_id)
    paused = plan.paused_runs
    run = await store.get_run(scope, run_id) if store is not None else None
    if run is None and paused is not None:
        run = paused.get(run_id)
    if run is None:
        kept = paused.limit if paused is not None else 0
        raise NotFoundError(
            f"No paused run {run_id!r} in this scope (is the store shared? Without a store "
            f"a definition keeps only its {kept} most recent paused runs)"
        )
    if run.status is not RunStatus.PAUSED:
        hint = " (another caller resumed it)" if run.status is RunStatus.RUNNING else ""
        raise ConflictError(
            f"Run {run_id!r} is {run.status.value}{hint}, not paused: only paused runs resume"
        )
    given = {"approval": approvals or {}, "input": inputs or {}, "external": results or {}}
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
    if store is not None:
        await claim(store, scope, run)
    if paused is not None:
        paused.pop(run_id)
    options = RunOptions(
        input=None,
        run_id=run.id,
        session_id=run.session_id,
        user_id=user_id if user_id is not None else run.user_id,
        tenant_id=tenant_id,
        parent_run_id=run.parent_run_id,
        deps=deps,
        state=None,
        message_history=None,
        model=plan.model,
        model_settings=None,
        store=store,
        stream=stream,
        metadata={k: v for k, v in run.metadata.items() if k not in RESUME_DROPPED_METADATA},
        shared_state=shared_state,
        budgets=budgets,
    )
    resume = ResumeInput(
        run=run,
        approvals=dict(approvals or {}),
        inputs=dict(inputs or {}),
        results=dict(results or {}),
    )
    return RunEngine(plan, options, resume)


async def claim(store: Store, scope: Scope, run: Run) -> None:
    """Mark a paused run running before resuming it, so of two resumes racing, one runs it."""
    claimed = run.model_copy(
        update={"status": RunStatus.RUNNING, "heartbeat_at": datetime.now(UTC)}
    )
    try:
        await store.save_run(scope, claimed, expected_status=RunStatus.PAUSED)
    except ConflictError as exc:
        raise ConflictError(
            f"Run {run.id!r} was resumed or cancelled by another caller while this resume "
            "started; nothing was run here. Read the run to see where it stands."
        ) from exc
