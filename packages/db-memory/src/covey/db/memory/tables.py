"""What a `MemoryStore` holds: its rows, their indexes, and the rules that keep them bounded.

Every stored row is a record validated once when written and never mutated afterwards: a change
replaces the row with a new object. So a reader may copy a row after letting go of the lock, a
lookup of one key needs no lock at all, and a caller never holds an object the store keeps.
"""

from __future__ import annotations

import threading
from bisect import bisect_right
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import PydanticSerializationError

from covey.db.memory.retention import Retention
from covey.db.memory.scoping import check_type
from covey.spec.errors import InvalidInputError
from covey.spec.events import BaseEvent
from covey.spec.store import (
    Approval,
    KnowledgeContent,
    Learning,
    Memory,
    Run,
    Schedule,
    Session,
    TraceSpan,
    UserProfile,
)

__all__ = ["EventLog", "SessionKey", "Tables", "owned"]

M = TypeVar("M", bound=BaseModel)
K = TypeVar("K")

SessionKey = tuple[str, str | None, str]
"""(tenant, user or `None`, session id): sessions are namespaced per user."""
_Key = tuple[str, str]


def owned(record: M, cls: type[M], what: str) -> M:
    """A private, validated copy of `record`, made once as a database would: through JSON.

    Raises:
        InvalidInputError: `record` is not a `cls`, cannot be serialised, or does not validate.
    """
    check_type(record, cls, what)
    try:
        # Mismatched values are caught by validating this text back; no warnings needed.
        doc = record.model_dump_json(warnings=False)
    except PydanticSerializationError as e:
        raise InvalidInputError(f"{what} cannot be stored as JSON: {e}") from e
    try:
        return cls.model_validate_json(doc)
    except ValidationError as e:
        raise InvalidInputError(
            f"{what} is not a valid {cls.__name__}: {e.errors(include_url=False)[:1]}"
        ) from e


@dataclass(slots=True)
class EventLog:
    """One run's events, by `seq`; `floor` is the highest `seq` trimmed away (still taken)."""

    seqs: list[int] = field(default_factory=list[int])
    events: list[BaseEvent] = field(default_factory=list[BaseEvent])
    floor: int = 0

    def taken(self, seqs: list[int]) -> list[int]:
        """Which of `seqs` the log already has (or had, before trimming)."""
        have = self.seqs
        out: list[int] = []
        for seq in seqs:
            if seq <= self.floor:
                out.append(seq)
                continue
            i = bisect_right(have, seq)
            if i and have[i - 1] == seq:
                out.append(seq)
        return out

    def add(self, batch: list[BaseEvent], keep: int) -> None:
        """Add events whose seqs are free, then keep only the newest `keep`."""
        batch.sort(key=_seq)
        if not self.seqs or batch[0].seq > self.seqs[-1]:
            self.seqs.extend(e.seq for e in batch)
            self.events.extend(batch)
        else:
            for event in batch:
                i = bisect_right(self.seqs, event.seq)
                self.seqs.insert(i, event.seq)
                self.events.insert(i, event)
        excess = len(self.seqs) - keep
        if excess > 0:
            self.floor = self.seqs[excess - 1]
            del self.seqs[:excess]
            del self.events[:excess]

    def after(self, after_seq: int, limit: int | None) -> list[BaseEvent]:
        """The events with `seq > after_seq`, at most `limit` of them."""
        start = bisect_right(self.seqs, after_seq)
        end = len(self.seqs) if limit is None else start + limit
        return self.events[start:end]


def _seq(event: BaseEvent) -> int:
    return event.seq


class Tables:
    """The rows of a `MemoryStore` and their bookkeeping; callers hold `lock` around any use."""

    def __init__(self, retention: Retention) -> None:
        self.retention = retention
        # A thread lock, not an asyncio one: no store call awaits while holding it, so it is
        # never held across a task switch, and it also keeps stores shared between threads safe.
        self._lock = threading.Lock()
        self._sessions: OrderedDict[SessionKey, Session] = OrderedDict()
        self._runs: dict[_Key, Run] = {}
        self._session_runs: dict[SessionKey, dict[str, None]] = {}
        self._child_runs: dict[_Key, dict[str, None]] = {}
        """(tenant, parent run id) -> the ids of the runs it started, in insertion order."""
        self._finished: OrderedDict[_Key, None] = OrderedDict()
        self._events: dict[_Key, EventLog] = {}
        self._memories: OrderedDict[_Key, Memory] = OrderedDict()
        self._profiles: OrderedDict[_Key, UserProfile] = OrderedDict()
        self._learnings: OrderedDict[_Key, Learning] = OrderedDict()
        self._knowledge: OrderedDict[_Key, KnowledgeContent] = OrderedDict()
        self._approvals: OrderedDict[_Key, Approval] = OrderedDict()
        self._run_approvals: dict[_Key, set[str]] = {}
        self._schedules: dict[_Key, Schedule] = {}
        self._traces: OrderedDict[_Key, dict[str, TraceSpan]] = OrderedDict()
        self._span_count = 0

    def _counts(self) -> dict[str, int]:
        """How many rows of each kind are kept (what `Retention` bounds)."""
        with self._lock:
            return {
                "sessions": len(self._sessions),
                "runs": len(self._runs),
                "finished_runs": len(self._finished),
                "events": sum(len(log.seqs) for log in self._events.values()),
                "memories": len(self._memories),
                "profiles": len(self._profiles),
                "learnings": len(self._learnings),
                "knowledge": len(self._knowledge),
                "approvals": len(self._approvals),
                "schedules": len(self._schedules),
                "spans": self._span_count,
            }

    # --- runs and their dependants ---------------------------------------------------------------

    def _put_run(self, key: _Key, run: Run, previous: Run | None) -> None:
        """Store `run` under `key`, keep the session index and finished order, then evict."""
        tenant, run_id = key
        if previous is not None and (
            previous.user_id,
            previous.session_id,
            previous.parent_run_id,
        ) != (run.user_id, run.session_id, run.parent_run_id):
            self._unindex(tenant, previous)
        self._runs[key] = run
        if run.session_id is not None:
            self._session_runs.setdefault((tenant, run.user_id, run.session_id), {})[run_id] = None
        if run.parent_run_id is not None:
            self._child_runs.setdefault((tenant, run.parent_run_id), {})[run_id] = None
        if run.status.is_final:
            self._finished[key] = None
            self._finished.move_to_end(key)
        else:
            self._finished.pop(key, None)
        while len(self._finished) > self.retention.max_runs:
            oldest, _ = self._finished.popitem(last=False)
            self._drop_run(oldest)

    def _drop_run(self, key: _Key) -> None:
        """Forget a run with its event log and approvals."""
        run = self._runs.pop(key, None)
        if run is None:
            return
        self._unindex(key[0], run)
        self._finished.pop(key, None)
        self._events.pop(key, None)
        for approval_id in self._run_approvals.pop(key, ()):
            self._approvals.pop((key[0], approval_id), None)

    def _unindex(self, tenant: str, run: Run) -> None:
        if run.session_id is not None:
            skey = (tenant, run.user_id, run.session_id)
            ids = self._session_runs.get(skey)
            if ids is not None:
                ids.pop(run.id, None)
                if not ids:
                    del self._session_runs[skey]
        if run.parent_run_id is not None:
            pkey = (tenant, run.parent_run_id)
            children = self._child_runs.get(pkey)
            if children is not None:
                children.pop(run.id, None)
                if not children:
                    del self._child_runs[pkey]

    # --- sessions --------------------------------------------------------------------------------

    def _put_session(self, key: SessionKey, session: Session) -> None:
        """Store `session` as the most recently saved, then evict the least recent ones."""
        self._sessions[key] = session
        self._sessions.move_to_end(key)
        excess = len(self._sessions) - self.retention.max_sessions
        passed = 0
        while excess > 0 and passed < len(self._sessions):
            oldest = next(iter(self._sessions))
            if self._has_live_runs(oldest):
                self._sessions.move_to_end(oldest)
                passed += 1
            else:
                del self._sessions[oldest]
                excess -= 1

    def _has_live_runs(self, key: SessionKey) -> bool:
        tenant = key[0]
        return any(
            not self._runs[(tenant, run_id)].status.is_final
            for run_id in self._session_runs.get(key, ())
        )

    # --- other rows ------------------------------------------------------------------------------

    def _put_row(self, table: OrderedDict[K, Any], key: K, row: object) -> None:
        """Store `row` as the newest of `table`, then drop the oldest past `max_rows`."""
        table[key] = row
        table.move_to_end(key)
        while len(table) > self.retention.max_rows:
            table.popitem(last=False)

    def _put_approval(self, key: _Key, approval: Approval, previous: Approval | None) -> None:
        """Store an approval, indexed by its run so it goes when the run goes."""
        if previous is not None and previous.run_id != approval.run_id:
            self._forget_approval(key, previous)
        self._run_approvals.setdefault((key[0], approval.run_id), set()).add(approval.id)
        self._approvals[key] = approval
        self._approvals.move_to_end(key)
        while len(self._approvals) > self.retention.max_rows:
            oldest, dropped = self._approvals.popitem(last=False)
            self._forget_approval(oldest, dropped)

    def _forget_approval(self, key: _Key, approval: Approval) -> None:
        """Remove an approval from its run's index (the row itself is already gone or going)."""
        ids = self._run_approvals.get((key[0], approval.run_id))
        if ids is not None:
            ids.discard(approval.id)
            if not ids:
                del self._run_approvals[(key[0], approval.run_id)]

    def _put_spans(self, tenant: str, spans: list[TraceSpan]) -> None:
        """Store spans by trace, then drop whole traces, oldest first, past `max_rows` spans."""
        for span in spans:
            key = (tenant, span.trace_id)
            trace = self._traces.get(key)
            if trace is None:
                trace = self._traces[key] = {}
            self._traces.move_to_end(key)
            if span.span_id not in trace:
                self._span_count += 1
            trace[span.span_id] = span
        while self._span_count > self.retention.max_rows and len(self._traces) > 1:
            _, trace = self._traces.popitem(last=False)
            self._span_count -= len(trace)
