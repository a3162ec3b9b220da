"""What a run keeps in its store: buffered events, its record, its session and history."""

from __future__ import annotations

import copy
import random
import weakref
from typing import TYPE_CHECKING, Any

import anyio

from covey.core.history import estimate_tokens, trim_counted
from covey.core.observe import _OBSERVERS, notify  # pyright: ignore[reportPrivateUsage]
from covey.core.summaries import Coverage, HistoryInfo, prepared_messages
from covey.spec import ModelRequest, ModelResponse, RunStatus, ToolReturnPart
from covey.spec.errors import ConflictError
from covey.spec.store import Session

_LOCKS: weakref.WeakValueDictionary[tuple[int, str, str], anyio.Lock] = (
    weakref.WeakValueDictionary()
)


def _session_lock(store: Store, tenant_id: str, session_id: str) -> anyio.Lock:
    """The lock runs of this process share to save one session, kept while someone holds it."""
    key = (id(store), tenant_id, session_id)
    lock = _LOCKS.get(key)
    if lock is None:
        lock = _LOCKS[key] = anyio.Lock()
    return lock


if TYPE_CHECKING:
    from covey.core.run.plan import RunPlan
    from covey.spec import events as ev
    from covey.spec.store import Run, Scope, Store

__all__ = ["SESSION_SAVE_ATTEMPTS", "Persistence"]

SESSION_SAVE_ATTEMPTS = 12
"""Tries to merge a run's state changes into a session other runs keep changing."""
_BACKOFF_BASE = 0.005
_BACKOFF_CAP = 0.5
_HISTORY_PAGE = 20
_FINISHED = (RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELLED)
_ABSENT: Any = object()


class Persistence:
    """One run's link to its store: a no-op where the run has none."""

    __slots__ = ("created", "initial_state", "pending", "run_id", "scope", "session", "store")

    def __init__(self, store: Store | None, scope: Scope, run_id: str) -> None:
        self.store = store
        self.scope = scope
        self.run_id = run_id
        self.pending: list[ev.BaseEvent] = []
        self.session: Session | None = None
        self.initial_state: dict[str, Any] = {}
        """The session state as this run last saw it; its own changes are computed against it."""
        self.created = False
        """Whether this run created its session (which then has no earlier runs)."""

    # --- events and the run record ---------------------------------------------------------------

    def add(self, event: ev.BaseEvent) -> None:
        """Buffer an event for the next flush, and show it to the run observers."""
        if self.store is not None:
            self.pending.append(event)
        if _OBSERVERS:
            notify(event, self.scope)

    async def flush(self) -> None:
        """Append the buffered events to the run's log."""
        if self.store is None or not self.pending:
            return
        batch = list(self.pending)
        await self.store.append_events(self.scope, self.run_id, batch)
        # Only once stored: a refused batch stays buffered for the next try.
        del self.pending[: len(batch)]

    async def save_run(self, run: Run) -> None:
        """Save the run's record with the buffered events, in one store call."""
        if self.store is None:
            return
        batch = list(self.pending)
        await self.store.save_run_and_events(self.scope, run, batch)
        del self.pending[: len(batch)]

    # --- sessions ----------------------------------------------------------------------------------

    async def open_session(
        self, session_id: str, *, agent_id: str | None, user_id: str | None, state: dict[str, Any]
    ) -> dict[str, Any]:
        """Load the session (creating it if new) with `state` merged in and saved; return the
        state the run starts with.

        Raises:
            ConflictError: the session belongs to another scope, or a key of `state` was
                changed by another run at the same time.
            InvalidInputError: the store refuses the session id.
        """
        assert self.store is not None
        self.session = await self.store.get_session(self.scope, session_id)
        self.initial_state = dict(self.session.state) if self.session is not None else {}
        self.created = self.session is None
        if self.session is None or state:
            await self._merge(session_id, agent_id, user_id, changed=state, removed=())
        # A deep copy: a tool changing a nested value in place must not change what the run
        # compares against when it saves its changes.
        return copy.deepcopy(self.initial_state)

    async def close_session(
        self, session_id: str, *, agent_id: str | None, user_id: str | None, state: dict[str, Any]
    ) -> None:
        """Save the keys this run changed in `state` (and the ones it removed) to the session,
        merged with what other runs saved meanwhile.

        Raises:
            ConflictError: another run changed one of the same keys since this run read it.
        """
        before = self.initial_state
        changed = {k: v for k, v in state.items() if before.get(k, _ABSENT) != v}
        removed = [k for k in before if k not in state]
        if changed or removed:
            await self._merge(
                session_id, agent_id, user_id, changed=changed, removed=removed, refresh=True
            )

    async def _merge(
        self,
        session_id: str,
        agent_id: str | None,
        user_id: str | None,
        *,
        changed: dict[str, Any],
        removed: list[str] | tuple[str, ...],
        refresh: bool = False,
    ) -> None:
        store = self.store
        assert store is not None
        keys = [*changed, *removed]
        # Runs of this process take turns on one session; other processes are met by the
        # version check and a retry.
        async with _session_lock(store, self.scope.tenant_id, session_id):
            for attempt in range(SESSION_SAVE_ATTEMPTS):
                if attempt or refresh:
                    fresh = await store.get_session(self.scope, session_id)
                    if fresh is None and attempt:
                        raise ConflictError(
                            f"Session id {session_id!r} is taken outside this scope, or was "
                            "deleted while this run saved it"
                        )
                    if fresh is not None:
                        clash = [
                            k
                            for k in keys
                            if fresh.state.get(k, _ABSENT) != self.initial_state.get(k, _ABSENT)
                        ]
                        if clash:
                            raise ConflictError(
                                f"Session {session_id!r} state keys {clash} were changed by "
                                "another run at the same time; reload the session and retry"
                            )
                    self.session = fresh
                session = self.session
                if session is None:
                    session = Session(id=session_id, agent_id=agent_id, user_id=user_id, state={})
                state = dict(session.state)
                state.update(changed)
                for key in removed:
                    state.pop(key, None)
                try:
                    self.session = await store.save_session(
                        self.scope,
                        session.model_copy(update={"state": state}),
                        expected_version=session.version if self.session is not None else 0,
                    )
                except ConflictError:
                    # Another process saved first: re-read and merge again after a jittered,
                    # growing pause.
                    delay = min(_BACKOFF_CAP, _BACKOFF_BASE * 2**attempt)
                    await anyio.sleep(random.uniform(0, delay))
                    continue
                self.initial_state = dict(self.session.state)
                return
        raise ConflictError(
            f"Session {session_id!r} kept changing under this run ({SESSION_SAVE_ATTEMPTS} "
            "tries); retry the run"
        )

    # --- history -----------------------------------------------------------------------------------

    async def session_history(
        self, session_id: str, plan: RunPlan, *, top_level: bool
    ) -> tuple[list[ModelRequest | ModelResponse], HistoryInfo, str | None]:
        """The history a run of `plan` is sent, what was sent, and the session summary sent
        with it (`plan.session_summary`, top-level runs only), from the session read at start.

        A top-level run continues the session's top-level runs after the summary's coverage; a
        child run (a team member) its own earlier child runs of the session."""
        coverage = None
        summary = None
        if plan.session_summary is not None and top_level:
            coverage = Coverage.of(self.session)
            if coverage is not None and self.session is not None:
                summary = self.session.summary
        budget = plan.history_tokens
        # A session this run created has no earlier runs to read.
        if budget == 0 or self.created:
            return [], HistoryInfo(summary=coverage), summary
        history, info = await self.load_history(
            session_id,
            budget,
            child=not top_level,
            agent_id=None if top_level else plan.name,
            tool_result_chars=plan.tool_result_chars,
            coverage=coverage,
        )
        return history, info, summary

    async def load_history(
        self,
        session_id: str,
        budget: int | None,
        *,
        child: bool = False,
        agent_id: str | None = None,
        tool_result_chars: int | None = None,
        coverage: Coverage | None = None,
    ) -> tuple[list[ModelRequest | ModelResponse], HistoryInfo]:
        """The session's earlier finished runs, newest first until `budget` tokens are filled,
        repaired and trimmed to whole turns, in chronological order, with what was sent.

        Top-level runs (no `parent_run_id`) only, or with `child`, only the child runs of
        `agent_id` (a team member's own earlier runs in the session). Tool results longer than
        `tool_result_chars` are cut (the budget counts the cut size); with `coverage` (a
        session summary's), only the runs after the last covered one are read."""
        assert self.store is not None
        runs: list[tuple[str, list[ModelRequest | ModelResponse], list[int]]] = []
        cut_ids: set[tuple[str, str]] = set()  # (run id, tool call id): call ids repeat across runs
        tokens = 0
        cursor: str | None = None
        info = HistoryInfo(summary=coverage)
        reached = False  # the summary's coverage or the session's first run
        while not reached and (budget is None or tokens <= budget):
            page = await self.store.list_runs(
                self.scope, session_id=session_id, cursor=cursor, limit=_HISTORY_PAGE, order="desc"
            )
            for index, run in enumerate(page.items):
                if coverage is not None and (run.created_at, run.id) <= coverage.key:
                    reached = True
                    break
                if run.id == self.run_id or run.status not in _FINISHED:
                    continue
                if (run.parent_run_id is not None) is not child or (
                    child and run.agent_id != agent_id
                ):
                    continue
                messages, cut = prepared_messages(run, tool_result_chars)
                cut_ids.update((run.id, call_id) for call_id in cut)
                costs = [estimate_tokens(m) for m in messages]
                runs.append((run.id, messages, costs))
                tokens += sum(costs)
                if budget is not None and tokens > budget:
                    # Older runs left unread (when there are any) are dropped too.
                    info.more = index + 1 < len(page.items) or page.next_cursor is not None
                    reached = True
                    break
            cursor = page.next_cursor
            if cursor is None:
                reached = True
        # Each run was repaired on its own (it starts with a user turn, its calls answered), so
        # they join without repairing the whole again.
        earlier = [m for _, messages, _ in reversed(runs) for m in messages]
        costs = [c for _, _, run_costs in reversed(runs) for c in run_costs]
        cut = trim_counted(earlier, costs, budget)
        sent = earlier[cut:]
        info.tokens = sum(costs[cut:])
        kept = {m.run_id for m in sent}
        info.runs = [run_id for run_id, _, _ in reversed(runs) if run_id in kept]
        info.dropped = len(runs) - len(info.runs)
        info.compressed = [
            p.tool_call_id
            for m in sent
            if isinstance(m, ModelRequest)
            for p in m.parts
            if isinstance(p, ToolReturnPart) and (m.run_id, p.tool_call_id) in cut_ids
        ]
        return sent, info
