"""`RuntimeState`: what the controllers work with — settings, agents, store, runs, auth.

Controllers stay thin: they parse the request, call one method here, and shape the response.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import anyio

from covey.core import Agent
from covey.runtime.auth import Principal, TokenVerifier
from covey.runtime.config import RuntimeSettings
from covey.runtime.dto import (
    AgentOut,
    ApprovalDecision,
    ResumeRequest,
    RunOut,
    RunRequest,
    ToolOut,
)
from covey.runtime.knowledge import KnowledgeService
from covey.runtime.live import LiveRun
from covey.runtime.problems import ApiError
from covey.runtime.registry import Registry
from covey.runtime.run_manager import RunManager, ShuttingDown
from covey.runtime.runnables import KINDS, Runnable, check_ready
from covey.runtime.tree import live_run_for
from covey.spec import RunContext, RunStatus
from covey.spec.store import Run, Scope, Store, new_id

__all__ = ["RuntimeState"]

log = logging.getLogger("covey.runtime")

_CANCEL_WAIT = 5.0
"""Seconds a cancel of a run of this process waits for it to end before answering."""


@dataclass(slots=True, eq=False)
class RuntimeState:
    """Everything a request handler needs, built once per app.

    Attributes:
        settings: The runtime settings.
        registry: The agents served.
        store: Where runs, events and sessions live.
        manager: The runs of this process.
        verifier: Checks bearer tokens; `None` when auth is off.
        knowledge: The knowledge bases served and their ingestions.
        evals: The evals running in the background (`covey.runtime.eval_jobs.EvalJobs`);
            `None` without covey-evals (typed loosely: that module needs covey-evals, and
            Litestar resolves these annotations at startup).
    """

    settings: RuntimeSettings
    registry: Registry
    store: Store
    manager: RunManager
    verifier: TokenVerifier | None
    knowledge: KnowledgeService
    evals: Any = None
    _described: dict[str, AgentOut] = field(default_factory=dict[str, AgentOut])

    # --- agents ----------------------------------------------------------------------------------

    def agent(self, agent_id: str) -> Agent[Any, Any]:
        """The agent `agent_id`, or a 404 problem."""
        agent = self.registry.get(agent_id)
        if agent is None:
            raise ApiError(404, "not-found", f"No agent {agent_id!r}; GET /v1/agents lists them")
        return agent

    async def describe(self, agent: Agent[Any, Any]) -> AgentOut:
        """The agent's public description, built once (definitions never change)."""
        name = agent.name or ""
        cached = self._described.get(name)
        if cached is not None:
            return cached
        described = AgentOut(
            agent_id=name,
            name=name,
            description=agent.description,
            model=_model_name(agent),
            tools=await _tools(agent),
            output_schema=_output_schema(agent),
        )
        self._described[name] = described
        return described

    # --- runs --------------------------------------------------------------------------------------

    def start_run(
        self, agent: Agent[Any, Any], body: RunRequest, principal: Principal, *, deltas: bool
    ) -> LiveRun:
        """Start a run of `agent` for `principal` in the run manager.

        `deltas`: whether someone may read the run's deltas (an SSE or WebSocket client, a
        background run's followers); only then is the model asked for a streamed response.
        """
        agent.resolved_model()  # a missing provider fails here, as a 503, not inside the run
        run_id = new_id()
        session_id = body.session_id or new_id()
        live = LiveRun(
            run_id=run_id,
            agent_id=agent.name or "",
            session_id=session_id,
            scope=principal.write_scope,
        )
        store = self.store

        def events() -> Any:
            return agent.run_stream(
                body.input,
                session_id=session_id,
                user_id=principal.user_id,
                tenant_id=principal.tenant_id,
                state=body.state,
                store=store,
                run_id=run_id,
                stream_model=deltas,
            )

        return self._start(live, events)

    def _start(self, live: LiveRun, events: Any) -> LiveRun:
        try:
            return self.manager.start(live, events)
        except ShuttingDown as exc:
            raise ApiError(503, "shutting-down", str(exc), headers={"Retry-After": "1"}) from None

    async def find_run(
        self, scope: Scope, run_id: str, *, close_orphan: bool = True
    ) -> tuple[Run | None, LiveRun | None]:
        """The stored run and, when it runs here, its live run; a 404 problem when neither.

        A run of another worker whose lease lapsed is closed first (`close_orphan`).
        """
        live = self.manager.get(run_id)
        if live is not None and not live.visible_to(scope):
            live = None
        run = await self.store.get_run(scope, run_id)
        if run is None and live is None:
            raise ApiError(404, "not-found", f"No run {run_id!r}")
        if (
            close_orphan
            and run is not None
            and live is None
            and await self.manager.close_if_orphaned(scope, run) is not None
        ):
            run = await self.store.get_run(scope, run_id) or run
        return run, live

    async def run_out(self, principal: Principal, run_id: str) -> RunOut:
        """The run as the API shows it."""
        run, live = await self.find_run(principal.read_scope, run_id)
        if run is not None:
            return RunOut.from_run(run)
        assert live is not None
        if live.result is not None:
            return RunOut.from_result(live.result)
        return RunOut(
            run_id=live.run_id,
            session_id=live.session_id,
            agent_id=live.agent_id,
            user_id=live.scope.user_id,
            status=RunStatus.RUNNING,
            cancel_requested=live.cancel_requested,
        )

    async def resume(
        self, principal: Principal, run_id: str, body: ResumeRequest, *, deltas: bool
    ) -> LiveRun:
        """Resume a paused run (stored by any process) in this one (`deltas`: as in `start_run`).

        Answers once the run has started here: the core claims the paused run first, so when
        another process resumes it at the same moment, one of the two gets a 409.
        """
        scope = principal.read_scope
        run, live = await self.find_run(scope, run_id)
        if live is not None:
            raise ApiError(409, "run-not-paused", f"Run {run_id!r} is running, not paused")
        assert run is not None
        if run.status is not RunStatus.PAUSED:
            raise ApiError(
                409,
                "run-not-paused",
                f"Run {run_id!r} is {run.status.value}; only paused runs can be resumed",
            )
        if run.parent_run_id is not None:
            raise ApiError(
                409,
                "run-is-child",
                f"Run {run_id!r} is part of run {run.parent_run_id!r} (a team member's or a "
                "workflow step's run): resume that run, with the same decisions",
            )
        agent: Runnable | None = self.registry.find(run.agent_id or "")
        stored_kind = run.metadata.get("kind")  # a workflow's run says so
        if stored_kind in KINDS and self.registry.kind(run.agent_id or "") != stored_kind:
            agent = None  # the name now serves something else: its resume cannot read this run
        if agent is None:
            raise ApiError(
                409,
                "agent-not-served",
                f"Run {run_id!r} belongs to {run.agent_id!r}, which this server does not serve "
                "(as an agent, team or workflow)",
            )
        _check_decisions(run, body)
        check_ready(agent)
        owner = Scope(principal.tenant_id, run.user_id)
        approvals: dict[str, Any] = {
            k: (v.model_dump() if isinstance(v, ApprovalDecision) else v)
            for k, v in body.approvals.items()
        }
        from covey.runtime.approvals import record_decisions  # it builds on this module

        await record_decisions(self, principal, run, approvals)
        store = self.store
        live = live_run_for(agent)(
            run_id=run.id,
            agent_id=agent.name or "",
            session_id=run.session_id,
            scope=owner,
            base_seq=int(run.metadata.get("last_seq", 0)),
        )

        def events() -> Any:
            return agent.resume_stream(
                run.id,
                approvals=approvals,
                inputs=body.inputs,
                results=body.results,
                store=store,
                user_id=run.user_id,
                tenant_id=principal.tenant_id,
                stream_model=deltas,
            )

        live = self._start(live, events)
        await live.wait_started()
        if live.refused is not None:
            raise ApiError(409, "run-not-paused", str(live.refused))
        return live

    async def cancel(self, principal: Principal, run_id: str) -> tuple[int, RunOut]:
        """Cancel a run wherever it runs; the HTTP status and the run as it stands.

        Idempotent: a run that has already ended (completed, failed, cancelled, interrupted)
        answers 200 with the run as it ended, whatever ended it. A run of this process (a team
        member's or workflow step's too), a paused run and an orphaned run (its worker died: its lease lapsed) are ended at once
        and answered with 200; a run of another live process answers 202 while it stops there.
        """
        scope = principal.read_scope
        run, live = await self.find_run(scope, run_id, close_orphan=False)
        if live is None and run is not None and run.status.is_final:
            return 200, RunOut.from_run(run)
        # A team's or workflow's cancel ends its children too. Cancelling needs no definition
        # otherwise (the store is given): any agent will do for a run of one not served here.
        agent = self.registry.find(run.agent_id or "") if run is not None else None
        status = await self.manager.cancel(scope, run, run_id, agent or Agent(name="cancel"))
        if live is not None:
            with anyio.move_on_after(_CANCEL_WAIT):
                await live.wait()
            return 200, await self.run_out(principal, run_id)
        if status is RunStatus.RUNNING and self.manager.runs_here(run_id):
            # A member's or step's run of this process: its handle stopped it, the store
            # catches up as its loop closes it.
            with anyio.move_on_after(_CANCEL_WAIT):
                # The child's run loop, not this process's manager, ends it: poll its record.
                while (out := await self.run_out(principal, run_id)).status is RunStatus.RUNNING:  # noqa: ASYNC110
                    await anyio.sleep(0.01)
                return 200, out
        out = await self.run_out(principal, run_id)
        return (202 if status is RunStatus.RUNNING else 200), out


def _check_decisions(run: Run, body: ResumeRequest) -> None:
    given: dict[str, dict[str, Any]] = {
        "approval": dict(body.approvals),
        "input": dict(body.inputs),
        "external": dict(body.results),
    }
    field_of = {"approval": "approvals", "input": "inputs", "external": "results"}
    errors: list[dict[str, Any]] = []
    pending: dict[str, str] = {}
    for requirement in run.requirements:
        pending[requirement.tool_call_id] = requirement.kind
        if requirement.tool_call_id not in given[requirement.kind]:
            errors.append(
                {
                    "field": f"{field_of[requirement.kind]}.{requirement.tool_call_id}",
                    "message": f"missing: the run waits for a {requirement.kind} decision on "
                    f"{requirement.tool_name} ({requirement.tool_call_id})",
                    "source": "body",
                }
            )
    for kind, decisions in given.items():
        for call_id in decisions:
            if pending.get(call_id) != kind:
                errors.append(
                    {
                        "field": f"{field_of[kind]}.{call_id}",
                        "message": "no pending requirement of this kind has this tool call id",
                        "source": "body",
                    }
                )
    if errors:
        raise ApiError(
            422,
            "validation-error",
            "The decisions do not match the run's pending requirements",
            errors=errors,
        )


def _model_name(agent: Agent[Any, Any]) -> str | None:
    model = agent.model
    if model is None:
        return None
    if isinstance(model, str):
        return model
    return f"{model.provider}:{model.model_name}"


def _output_schema(agent: Agent[Any, Any]) -> dict[str, Any] | None:
    if agent.output_type is str or agent.output_type is None:
        return None
    try:
        return agent.output_spec().output_schema().json_schema
    except Exception:
        log.exception("could not build the output schema of agent %s", agent.name)
        return None


async def _tools(agent: Agent[Any, Any]) -> list[ToolOut]:
    ctx: RunContext[Any] = RunContext(run_id="describe", agent_name=agent.name)
    tools: list[ToolOut] = []
    for toolset in agent.toolsets():
        try:
            with anyio.fail_after(5):
                definitions = await toolset.list_tools(ctx)
        except Exception:
            log.warning("agent %s: could not list the tools of %r", agent.name, toolset)
            continue
        tools.extend(
            ToolOut(
                name=d.name,
                description=d.description,
                parameters=d.parameters_json_schema,
                requires_approval=d.requires_approval,
                kind=d.kind,
            )
            for d in definitions
        )
    return tools
