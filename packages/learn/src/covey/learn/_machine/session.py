"""`SessionContext`: what this session is about — its goal, the decisions so far, the open
questions — one per session, so a long session keeps its thread across runs.

Kept as one `Learning` of the session's user (namespace `session_context`, metadata
`session_id`), so `GET /v1/learnings?namespace=session_context` lists it and a user can delete
it. Its id is derived from the user and the session (it alternates between two such ids, so an
update can write the new version before it deletes the old one; see `SessionContext.update`).
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Sequence
from datetime import timedelta
from typing import Annotated, Any, ClassVar

import anyio
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

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
from covey.spec.errors import ConflictError, NotFoundError
from covey.spec.function_toolset import Tool
from covey.spec.learning import LearningChange
from covey.spec.store import Learning, Scope, Store, utc_now
from covey.spec.tools import ToolResult

__all__ = ["NAMESPACE", "SessionContext", "SessionContextUpdate"]

NAMESPACE = "session_context"
LOCKS_NAMESPACE = "covey.learn.locks"
"""Reserved (never served): the claims that serialise updates of one session's context."""
CLAIM_TTL = timedelta(seconds=60)
MAX_ATTEMPTS = 40
"""Tries of one update against other writers of the same session (a few seconds at most)."""
MAX_DECISIONS = 20
MAX_QUESTIONS = 10
NO_SESSION = "This run is not part of a session: there is no session context to read or note."

Line = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]

_INSTRUCTIONS = (
    "What this session is about, updated from this conversation: goal (what the user is trying "
    "to get done in this session; null keeps the current one), new_decisions (what was decided "
    "in this conversation that is not yet in the session context), open_questions (the full "
    "list of questions still open now; null keeps the current list). null when nothing changed."
)


class SessionContextUpdate(BaseModel):
    """A change to the session's context."""

    model_config = ConfigDict(extra="forbid")

    goal: Line | None = None
    """The session's goal; `None` keeps the current one."""
    new_decisions: list[Line] = Field(default_factory=list[str], max_length=5)
    """Decisions to add."""
    open_questions: list[Line] | None = Field(default=None, max_length=MAX_QUESTIONS)
    """The open questions now (replaces the list); `None` keeps it."""


class SessionContext(LearningStore):
    """What the session is about: goal, decisions so far, open questions."""

    kind: ClassVar[str] = "session_context"
    needs_session: ClassVar[bool] = True

    def __init__(self, mode: Mode = "always") -> None:
        super().__init__(mode)

    def __repr__(self) -> str:
        return f"SessionContext(mode={self.mode!r})"

    # --- reading and writing -------------------------------------------------------------------

    @staticmethod
    def row_ids(scope: Scope, session_id: str) -> tuple[str, str]:
        """The two ids the session's row alternates between (one per user and session)."""
        key = f"{scope.user_id}\x00{session_id}".encode()
        base = "session-context-" + hashlib.sha256(key).hexdigest()[:32]
        return f"{base}-a", f"{base}-b"

    async def _rows(self, store: Store, scope: Scope, session_id: str) -> list[Learning]:
        """The session's rows, newest version first (one, or two while a write is under way)."""
        found: list[Learning] = []
        for row_id in self.row_ids(scope, session_id):
            row = await store.get_learning(scope, row_id)
            if row is not None and row.user_id == scope.user_id and row.namespace == NAMESPACE:
                found.append(row)
        return sorted(found, key=_version, reverse=True)

    async def get(self, store: Store, scope: Scope, session_id: str) -> dict[str, Any]:
        """The session's context: `goal`, `decisions`, `open_questions` (empty when none)."""
        rows = await self._rows(store, scope, session_id)
        return _fields(rows[0] if rows else None)

    async def update(
        self,
        store: Store,
        scope: Scope,
        session_id: str,
        change: SessionContextUpdate,
        run_id: str,
        skipped: list[str],
    ) -> LearningChange | None:
        """Apply `change` to the session's context; `None` when nothing changed.

        Two runs of one session may update it at once (one run's background learning and the
        next run's). The store has no compare-and-swap, so a writer first claims the version it
        replaces (a row in the reserved namespace `covey.learn.locks` whose id names that
        version; ids are unique per tenant, so one writer at a time), checks the row still has
        that version, then writes the next version under the other of the session's two ids
        before deleting the old one, so readers always find a row. A writer that loses re-reads
        and applies its change on top (no lost update). A claim whose writer died is taken over
        after `CLAIM_TTL`.
        """
        texts = [change.goal or "", *change.new_decisions, *(change.open_questions or [])]
        if any(looks_like_secret(t) for t in texts):
            skipped.append("session context: looks like a secret (a key, password or card number)")
            return None
        first, second = self.row_ids(scope, session_id)
        for attempt in range(MAX_ATTEMPTS):
            rows = await self._rows(store, scope, session_id)
            current = rows[0] if rows else None
            now = _fields(current)
            version = _version(current) if current is not None else 0
            new = {
                "goal": change.goal if change.goal is not None else now["goal"],
                "decisions": [
                    *now["decisions"],
                    *(d for d in change.new_decisions if d not in now["decisions"]),
                ][-MAX_DECISIONS:],
                "open_questions": (
                    list(change.open_questions)
                    if change.open_questions is not None
                    else now["open_questions"]
                ),
            }
            if new == now:
                return None
            claim_id = f"{first[:-2]}-v{version}"
            if not await _claim(store, scope, claim_id, run_id):
                await anyio.sleep(min(0.005 * (attempt + 1), 0.05))  # another writer is busy
                continue
            try:
                latest = await self._rows(store, scope, session_id)
                if (_version(latest[0]) if latest else 0) != version:
                    continue  # it moved on between the read and the claim: read again
                target = second if latest and latest[0].id == first else first
                with contextlib.suppress(NotFoundError):  # a leftover of a writer that died
                    await store.delete_learning(scope, target)
                stored = await store.add_learning(
                    scope,
                    Learning(
                        id=target,
                        namespace=NAMESPACE,
                        kind=NAMESPACE,
                        content=render(new),
                        metadata={
                            **new,
                            "session_id": session_id,
                            "run_id": run_id,
                            "version": version + 1,
                        },
                        user_id=scope.user_id,
                    ),
                )
                for old in latest:
                    if old.id == target:
                        continue  # that leftover was replaced above
                    with contextlib.suppress(NotFoundError):
                        await store.delete_learning(scope, old.id)
            finally:
                with contextlib.suppress(NotFoundError):
                    await store.delete_learning(scope, claim_id)
            return LearningChange(
                kind=self.kind,
                action="updated" if current is not None else "created",
                id=stored.id,
                content=render(new),
                user_id=scope.user_id,
            )
        skipped.append("session context: changed by other runs meanwhile, try again later")
        return None

    # --- always mode ---------------------------------------------------------------------------

    def extraction_field(self) -> tuple[Any, str]:
        """A `SessionContextUpdate`."""
        return SessionContextUpdate, _INSTRUCTIONS

    async def current(self, ctx: StoreContext) -> str:
        """The session's context now."""
        if ctx.session_id is None:
            return ""
        now = await self.get(ctx.store, ctx.scope, ctx.session_id)
        return "Current session context:\n" + (render(now) or "(empty)")

    async def apply(self, ctx: StoreContext, value: Any) -> Applied:
        """Update the session's row."""
        applied = Applied()
        if value is None or ctx.session_id is None:
            return applied
        change = (
            value
            if isinstance(value, SessionContextUpdate)
            else SessionContextUpdate.model_validate(value)
        )
        done = await self.update(
            ctx.store, ctx.scope, ctx.session_id, change, ctx.run_id, applied.skipped
        )
        if done is not None:
            applied.changes.append(done)
        return applied

    # --- every mode ----------------------------------------------------------------------------

    async def context(self, ctx: StoreContext, query: str, budget_tokens: int) -> str:
        """The session's goal, decisions and open questions."""
        if ctx.session_id is None:
            return ""
        text = render(await self.get(ctx.store, ctx.scope, ctx.session_id))
        return within_chars("This session so far:\n" + text, budget_tokens) if text else ""

    # --- agentic and propose modes -------------------------------------------------------------

    def tools(self, store: Store, record: Recorder) -> Sequence[Tool[..., Any]]:
        """`get_session_context` and `update_session_context`."""

        async def get_session_context(ctx: RunContext[Any]) -> ToolResult:
            """This session's goal, decisions so far and open questions."""
            scope = tool_scope(ctx)
            if scope is None:
                return error(NO_USER)
            if ctx.session_id is None:
                return error(NO_SESSION)
            return ToolResult(content=await self.get(store, scope, ctx.session_id))

        async def update_session_context(
            ctx: RunContext[Any],
            goal: str | None = None,
            new_decisions: list[str] | None = None,
            open_questions: list[str] | None = None,
        ) -> ToolResult:
            """Note what this session is about, so later turns keep the thread.

            Args:
                goal: What the user wants to get done in this session; omit to keep it.
                new_decisions: Decisions taken just now, to add to the session's list.
                open_questions: The questions still open now (replaces the list); omit to keep.
            """
            scope = tool_scope(ctx)
            if scope is None:
                return error(NO_USER)
            if ctx.session_id is None:
                return error(NO_SESSION)
            try:
                change = SessionContextUpdate(
                    goal=goal, new_decisions=new_decisions or [], open_questions=open_questions
                )
            except ValidationError as exc:
                return invalid(exc)
            skipped: list[str] = []
            done = await self.update(store, scope, ctx.session_id, change, ctx.run_id, skipped)
            if skipped:
                return error(SECRET if "secret" in skipped[0] else skipped[0])
            if done is not None:
                record(ctx.run_id, done)
            return ToolResult(content=await self.get(store, scope, ctx.session_id))

        return [Tool(get_session_context, metadata=READ_ONLY), Tool(update_session_context)]

    def describe_call(self, tool_name: str, args: dict[str, Any]) -> str:
        """What a person approving a change of the session's context is shown."""
        parts: list[str] = []
        if args.get("goal"):
            parts.append(f"goal {str(args['goal'])[:200]!r}")
        if args.get("new_decisions"):
            parts.append(f"decisions {[str(d)[:100] for d in args['new_decisions']][:5]}")
        if args.get("open_questions") is not None:
            parts.append(f"open questions {[str(q)[:100] for q in args['open_questions']][:10]}")
        return "Note in this session's context: " + ("; ".join(parts) or "(nothing)")


def render(value: dict[str, Any]) -> str:
    """The session's context as text ("" when empty)."""
    lines: list[str] = []
    if value.get("goal"):
        lines.append(f"Goal: {value['goal']}")
    if value.get("decisions"):
        lines.append("Decided so far:")
        lines += [f"- {d}" for d in value["decisions"]]
    if value.get("open_questions"):
        lines.append("Open questions:")
        lines += [f"- {q}" for q in value["open_questions"]]
    return "\n".join(lines)


def _version(row: Learning) -> int:
    value = row.metadata.get("version", 0)
    return value if isinstance(value, int) else 0


def _fields(row: Learning | None) -> dict[str, Any]:
    if row is None:
        return {"goal": None, "decisions": [], "open_questions": []}
    meta = row.metadata
    return {
        "goal": meta.get("goal"),
        "decisions": list(meta.get("decisions") or []),
        "open_questions": list(meta.get("open_questions") or []),
    }


async def _claim(store: Store, scope: Scope, claim_id: str, run_id: str) -> bool:
    """Claim the right to replace one version of a row; `False` when another writer has it
    (a claim older than `CLAIM_TTL` is taken over: its writer died between claim and write)."""
    row = Learning(
        id=claim_id,
        namespace=LOCKS_NAMESPACE,
        kind="claim",
        content="session context update",
        metadata={"run_id": run_id},
        user_id=scope.user_id,
    )
    try:
        await store.add_learning(scope, row)
    except ConflictError:
        held = await store.get_learning(scope, claim_id)
        if held is None or utc_now() - held.created_at < CLAIM_TTL:
            return False
        with contextlib.suppress(NotFoundError):
            await store.delete_learning(scope, claim_id)
        return False  # taken over: the next attempt re-reads and claims it afresh
    return True
