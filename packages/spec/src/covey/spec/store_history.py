"""`Store`'s abstract methods on sessions, runs and the run-event log.

`covey.spec.store.Store` inherits them; the scope rules and error conventions in the
documentation of `covey.spec.store` hold for each.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from datetime import timedelta
from typing import Literal

from covey.spec.errors import NotFoundError
from covey.spec.events import BaseEvent
from covey.spec.runs import ErrorInfo, RunStatus
from covey.spec.store_rows import Page, Run, Scope, Session

__all__ = ["HistoryMethods"]


class HistoryMethods(ABC):
    """A conversation's history: sessions, their runs, each run's append-only event log."""

    # --- sessions --------------------------------------------------------------------------------

    @abstractmethod
    async def get_session(self, scope: Scope, session_id: str) -> Session | None:
        """The session `session_id` of the scope's user namespace, or `None`.

        A user scope reads that user's session; a tenant-wide scope reads the session of the
        no-user namespace (`user_id=None`), never a user's one.
        """

    @abstractmethod
    async def list_sessions(
        self,
        scope: Scope,
        *,
        agent_id: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
        search: str | None = None,
    ) -> Page[Session]:
        """Sessions in the scope, most recently updated first (ties: id, then user, descending).

        A user scope lists that user's sessions; a tenant-wide scope lists every session of the
        tenant, whatever its user (the same id may then appear once per user).

        Args:
            scope: Whose sessions.
            agent_id: Only this agent's sessions.
            limit: Page size, 1 to `MAX_PAGE_SIZE`.
            cursor: `next_cursor` of the previous page (of a listing with the same filters).
            search: Only sessions whose id, agent id or summary contains this text as a
                substring, ignoring case (ASCII letters always; other letters as the store's
                database lowercases them). Every character is literal: `%`, `_` and `\\` are
                no wildcards or escapes. `None`, empty or all-whitespace: no filter (see
                `check_search`). Filters combine (AND); the store does the filtering, so a
                page is full unless it is the last.

        Raises:
            InvalidInputError: `search` is longer than `MAX_SEARCH_LENGTH` characters or holds
                a control character, `agent_id` is malformed, or the cursor is not one of this
                listing.
        """

    @abstractmethod
    async def save_session(
        self, scope: Scope, session: Session, *, expected_version: int | None
    ) -> Session:
        """Create or replace a session, with an optimistic-concurrency check.

        The session is written in the scope's user namespace: a user scope stamps its user on
        it, and a tenant-wide scope writes a session with `user_id=None` (to write a user's
        session, narrow the scope with `scope.for_user(user_id)`).

        Args:
            scope: The caller's scope.
            session: The session to write; its `version` and `updated_at` are ignored.
            expected_version: The version the caller last read: the save fails unless the stored
                version still equals it (`0` means "must not exist yet"). `None` skips the
                check.

        Returns:
            The stored session, with `version` one more than before (1 when new), `updated_at`
            now and `created_at` kept from the first save.

        Raises:
            ConflictError: the stored version is not `expected_version`.
            InvalidInputError: an id is malformed, `session.user_id` is another user's, or a
                tenant-wide scope saves a session with a `user_id`.
        """

    @abstractmethod
    async def delete_session(self, scope: Scope, session_id: str) -> None:
        """Delete a session of the scope's user namespace with its runs (the runs of that
        user with that `session_id`), their events and their approvals.

        Raises:
            NotFoundError: no such session in the scope.
        """

    # --- runs ------------------------------------------------------------------------------------

    @abstractmethod
    async def save_run(
        self, scope: Scope, run: Run, *, expected_status: RunStatus | None = None
    ) -> Run:
        """Create or replace a run.

        `cancel_requested` is sticky (once requested it stays set, whatever a later save says),
        and `heartbeat_at` never moves backwards. `created_at` is kept from the first save.

        With `expected_status` the save is a compare-and-set: it happens only if the stored run
        exists and still has that status, checked atomically with the write (e.g.
        `UPDATE ... WHERE status = :expected`). This is how one process claims a paused run
        (`PAUSED` → `RUNNING`) when several try to resume it at once: exactly one wins.

        Args:
            scope: The caller's scope.
            run: The run to store.
            expected_status: The status the caller last read; `None` skips the check.

        Returns:
            The stored run.

        Raises:
            ConflictError: the id is taken by a run outside the scope, or `expected_status` is
                given and the stored run is missing or has another status (nothing is written).
            InvalidInputError: an id is malformed, `run.user_id` is another user's, or
                `expected_status` is not a `RunStatus`.
        """

    @abstractmethod
    async def get_run(self, scope: Scope, run_id: str) -> Run | None:
        """The run, or `None` when there is none in the scope."""

    @abstractmethod
    async def list_runs(
        self,
        scope: Scope,
        *,
        session_id: str | None = None,
        status: RunStatus | None = None,
        limit: int = 50,
        cursor: str | None = None,
        order: Literal["asc", "desc"] = "asc",
        parent_run_id: str | None = None,
        agent_id: str | None = None,
        top_level: bool = False,
    ) -> Page[Run]:
        """Runs in the scope in creation order (`created_at`, then id), oldest first by default.

        Args:
            scope: Whose runs.
            session_id: Only the runs of this session, in the scope's user namespace: with a
                tenant-wide scope, only runs without a user (`user_id=None`).
            status: Only runs with this status.
            parent_run_id: Only the runs started by this run (`Run.parent_run_id`): a team's
                member runs, a workflow's step runs.
            agent_id: Only the runs of this agent, team or workflow (`Run.agent_id`).
            top_level: Only runs nobody started (`parent_run_id` is `None`): what a caller
                ran itself, without the member and step runs of teams and workflows.
                Filters combine (AND); the store does the filtering, so a page is full unless
                it is the last.
            limit: Page size, 1 to `MAX_PAGE_SIZE`.
            cursor: `next_cursor` of the previous page (of a listing in the same `order`).
            order: `"asc"`, oldest first, or `"desc"`, newest first (to read a session's
                latest runs without paging through all of them).

        Raises:
            InvalidInputError: `order` is neither `"asc"` nor `"desc"`, the cursor is not one
                of this listing in this order, `session_id`/`parent_run_id`/`agent_id` is
                malformed, or `top_level` is not a bool.
        """

    @abstractmethod
    async def request_cancel(self, scope: Scope, run_id: str) -> bool:
        """Ask the process running a run to cancel it.

        Returns:
            True when the flag was set (the run is running or paused); False when the run has
            already ended, in which case nothing changes.

        Raises:
            NotFoundError: no such run in the scope.
        """

    @abstractmethod
    async def heartbeat(self, scope: Scope, run_id: str) -> bool:
        """Record that the process running a run is alive (`heartbeat_at` = now).

        Returns:
            Whether cancellation has been requested, so one call both beats and polls.

        Raises:
            NotFoundError: no such run in the scope.
        """

    @abstractmethod
    async def mark_stale_runs_interrupted(
        self,
        scope: Scope,
        *,
        older_than: timedelta,
        run_id: str | None = None,
        error: ErrorInfo | None = None,
    ) -> list[str]:
        """Mark `interrupted` every running run of the scope whose process looks dead.

        A run is stale when its last heartbeat (or, without one, its last save) is more than
        `older_than` ago: its worker stopped renewing its lease. Paused and finished runs are
        never touched. The check and the change are one atomic compare-and-set per run, so
        when several workers mark the same run at once exactly one gets its id back: that one
        owns closing it (`covey.core.cancellation.close_orphaned` writes its error, usage and
        closing events).

        Args:
            scope: Whose runs.
            older_than: The lease: how old the last sign of life must be.
            run_id: Only this run (when it is stale); `None` for every stale run of the scope.
            error: Why, saved on each marked run with its status, so no reader ever sees it
                `interrupted` without a reason.

        Returns:
            The ids of the runs this call marked, in creation order.
        """

    # --- run events ------------------------------------------------------------------------------

    @abstractmethod
    async def append_events(self, scope: Scope, run_id: str, events: Sequence[BaseEvent]) -> None:
        """Append events to a run's log, keyed by `(run_id, event.seq)`.

        All or nothing: when any event of the batch is refused, none is written.

        Raises:
            NotFoundError: no such run in the scope (save the run first).
            ConflictError: a `seq` is already in the log, or repeated in the batch.
            InvalidInputError: a `seq` is below 1, or an event is not a `RunEvent` that
                `covey.spec.events.load_event` can read back.
        """

    async def save_run_and_events(
        self, scope: Scope, run: Run, events: Sequence[BaseEvent]
    ) -> None:
        """Save `run` and append `events` to its log: one transaction in a store that has them.

        A run calls it where it would call both: when it starts (its record and `run.started`)
        and when it ends (the rest of its log and its final record), so a run costs the store
        two round trips fewer. Same rules and errors as `save_run` (without `expected_status`)
        and `append_events`; in a transactional store nothing is written when either is refused.
        Unlike `save_run` it returns nothing, so a store need not read the saved row back.

        The default calls the two methods in an order that keeps followers right without a
        transaction: the events first when the run exists (its log is whole before its record
        says it ended), else the record first. Stores with transactions override it.
        """
        if not events:
            await self.save_run(scope, run)
            return
        try:
            await self.append_events(scope, run.id, events)
        except NotFoundError:
            await self.save_run(scope, run)
            await self.append_events(scope, run.id, events)
            return
        await self.save_run(scope, run)

    @abstractmethod
    async def list_events(
        self, scope: Scope, run_id: str, *, after_seq: int = 0, limit: int | None = None
    ) -> list[BaseEvent]:
        """A run's events with `seq > after_seq`, by `seq`, as their concrete event classes.

        Returns an empty list when the run is not in the scope.

        Args:
            scope: The caller's scope.
            run_id: The run.
            after_seq: The last `seq` the caller already has (`Last-Event-ID`).
            limit: At most this many events (1 to `MAX_PAGE_SIZE`); `None` for all.
        """
