"""`DecisionLog`: what the agent decided and why, from each run's tool calls and answer.

Append-only: each decision is one `Learning` of the run's user (namespace `decisions`, kind
`decision`, metadata `run_id`, `session_id`, `decision`, `reason`), so it is listed at
`GET /v1/learnings?namespace=decisions` and by `DecisionLog.entries`, and only ever deleted by
the user (or `LearningMachine.forget_user`), never rewritten.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, ConfigDict, StringConstraints, ValidationError

from covey.learn._machine.base import Applied, LearningStore, Mode, Recorder, StoreContext
from covey.learn._machine.common import (
    NO_USER,
    READ_ONLY,
    SECRET,
    error,
    invalid,
    tool_scope,
    within_chars,
)
from covey.learn._secrets import looks_like_secret
from covey.spec.context import RunContext
from covey.spec.errors import ConfigurationError
from covey.spec.function_toolset import Tool
from covey.spec.learning import LearningChange
from covey.spec.store import MAX_PAGE_SIZE, Learning, Scope, Store
from covey.spec.tools import ToolResult

__all__ = ["NAMESPACE", "Decision", "DecisionLog"]

NAMESPACE = "decisions"

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]

_INSTRUCTIONS = (
    "The decisions the assistant took in this conversation (a choice between options, a plan, "
    "an action it ran a tool for) and why, each as {decision, reason}, from its tool calls and "
    "its answer. Only decisions of this conversation that are not already in the recent "
    "decisions; an empty list (or null) when it took none."
)


class Decision(BaseModel):
    """One decision and the reason for it."""

    model_config = ConfigDict(extra="forbid")

    decision: Text
    reason: Text


class DecisionLog(LearningStore):
    """What the agent decided and why, listable per user and per session.

    Args:
        mode: `always` (extracted after each run), `agentic` (the `log_decision` tool) or
            `propose` (the tool, each entry confirmed by a person).
        max_decisions_per_run: Entries one run may add; the rest are skipped.

    Raises:
        ConfigurationError: the limit is not positive.
    """

    kind: ClassVar[str] = "decision"

    def __init__(self, mode: Mode = "always", *, max_decisions_per_run: int = 5) -> None:
        super().__init__(mode)
        if max_decisions_per_run < 1:
            raise ConfigurationError("max_decisions_per_run must be at least 1")
        self.max_decisions_per_run = max_decisions_per_run

    def __repr__(self) -> str:
        return f"DecisionLog(mode={self.mode!r})"

    # --- reading and writing -------------------------------------------------------------------

    async def entries(
        self,
        store: Store,
        scope: Scope,
        *,
        session_id: str | None = None,
        limit: int = 50,
        max_pages: int | None = None,
    ) -> list[Learning]:
        """The user's decisions, newest first (only `session_id`'s when given).

        `max_pages` bounds how many store pages are read looking for them (the prompt's
        context reads the newest ones only, so a user with years of decisions costs the same).
        """
        limit = max(1, min(limit, MAX_PAGE_SIZE))
        found: list[Learning] = []
        cursor: str | None = None
        pages = 0
        while len(found) < limit and (max_pages is None or pages < max_pages):
            pages += 1
            page = await store.list_learnings(
                scope, NAMESPACE, kind="decision", limit=MAX_PAGE_SIZE, cursor=cursor
            )
            found += [
                row
                for row in page.items
                if row.user_id == scope.user_id
                and (session_id is None or row.metadata.get("session_id") == session_id)
            ]
            cursor = page.next_cursor
            if cursor is None:
                break
        return found[:limit]

    async def add(
        self,
        store: Store,
        scope: Scope,
        decision: Decision,
        *,
        run_id: str,
        session_id: str | None,
    ) -> LearningChange:
        """Append one decision."""
        content = f"Decided: {decision.decision} Why: {decision.reason}"
        row = await store.add_learning(
            scope,
            Learning(
                namespace=NAMESPACE,
                kind="decision",
                content=content,
                metadata={
                    "run_id": run_id,
                    "session_id": session_id,
                    "decision": decision.decision,
                    "reason": decision.reason,
                },
                user_id=scope.user_id,
            ),
        )
        return LearningChange(
            kind=self.kind, action="created", id=row.id, content=content, user_id=scope.user_id
        )

    # --- always mode ---------------------------------------------------------------------------

    def extraction_field(self) -> tuple[Any, str]:
        """A list of `Decision`s."""
        return list[Decision], _INSTRUCTIONS

    async def current(self, ctx: StoreContext) -> str:
        """The session's recent decisions (so the model does not log them twice)."""
        recent = await self.entries(
            ctx.store, ctx.scope, session_id=ctx.session_id, limit=10, max_pages=1
        )
        shown = [
            {"decision": r.metadata.get("decision"), "reason": r.metadata.get("reason")}
            for r in recent
        ]
        return "Recent decisions: " + json.dumps(shown, ensure_ascii=False)

    async def apply(self, ctx: StoreContext, value: Any) -> Applied:
        """Append the decisions (at most `max_decisions_per_run`; none that look secret)."""
        applied = Applied()
        for i, item in enumerate(value or []):
            decision = item if isinstance(item, Decision) else Decision.model_validate(item)
            if i >= self.max_decisions_per_run:
                applied.skipped.append(
                    f"decision log: more than {self.max_decisions_per_run} decisions in one run"
                )
                break
            if looks_like_secret(decision.decision) or looks_like_secret(decision.reason):
                applied.skipped.append("decision log: looks like a secret")
                continue
            applied.changes.append(
                await self.add(
                    ctx.store, ctx.scope, decision, run_id=ctx.run_id, session_id=ctx.session_id
                )
            )
        return applied

    # --- every mode ----------------------------------------------------------------------------

    async def context(self, ctx: StoreContext, query: str, budget_tokens: int) -> str:
        """The session's recent decisions, newest first."""
        recent = await self.entries(
            ctx.store, ctx.scope, session_id=ctx.session_id, limit=10, max_pages=1
        )
        if not recent:
            return ""
        lines = [f"- {r.content}" for r in recent]
        return within_chars("Decisions taken so far:\n" + "\n".join(lines), budget_tokens)

    # --- agentic and propose modes -------------------------------------------------------------

    def tools(self, store: Store, record: Recorder) -> Sequence[Tool[..., Any]]:
        """`log_decision` and `recent_decisions`."""

        async def log_decision(ctx: RunContext[Any], decision: str, reason: str) -> ToolResult:
            """Write down a decision you took and why, so it can be reviewed and followed later.

            Args:
                decision: What you decided, e.g. "Recommend the annual plan".
                reason: Why, e.g. "The user travels monthly, so it is cheaper".
            """
            scope = tool_scope(ctx)
            if scope is None:
                return error(NO_USER)
            try:
                entry = Decision(decision=decision, reason=reason)
            except ValidationError as exc:
                return invalid(exc)
            if looks_like_secret(entry.decision) or looks_like_secret(entry.reason):
                return error(SECRET)
            logged = sum(
                1
                for r in await self.entries(store, scope, limit=50, max_pages=1)
                if r.metadata.get("run_id") == ctx.run_id
            )
            if logged >= self.max_decisions_per_run:
                return error(f"This run already logged {logged} decisions, the limit.")
            change = await self.add(
                store, scope, entry, run_id=ctx.run_id, session_id=ctx.session_id
            )
            record(ctx.run_id, change)
            return ToolResult(content={"logged": change.id})

        async def recent_decisions(ctx: RunContext[Any]) -> ToolResult:
            """The decisions logged in this session, newest first."""
            scope = tool_scope(ctx)
            if scope is None:
                return error(NO_USER)
            rows = await self.entries(
                store, scope, session_id=ctx.session_id, limit=20, max_pages=1
            )
            return ToolResult(content={"decisions": [r.content for r in rows]})

        return [Tool(log_decision), Tool(recent_decisions, metadata=READ_ONLY)]

    def describe_call(self, tool_name: str, args: dict[str, Any]) -> str:
        """What a person approving a log entry is shown."""
        return (
            f"Log the decision {str(args.get('decision', ''))[:300]!r} "
            f"because {str(args.get('reason', ''))[:300]!r}"
        )
