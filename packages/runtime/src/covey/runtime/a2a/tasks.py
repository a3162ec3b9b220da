"""`CoveyTaskStore`: the A2A tasks of one served agent, kept in the runtime's own store.

Why not the SDK's stores: `InMemoryTaskStore` loses every task on a restart and is invisible
to a second worker; `DatabaseTaskStore` needs its own SQLAlchemy tables and URL next to the
Covey store (and does not exist for the in-memory store). This store keeps each task where
everything else a deployment persists already is, whatever the backend (memory, SQLite,
PostgreSQL), without changing the `Store` interface.

Where a task lives: a *snapshot* is a learning in the reserved namespace
`covey.a2a.tasks/<agent>` (reserved namespaces are never listed, read or deleted through
`/v1/learnings`), of kind = the task id, owned by the caller (tenant and user), whose content
is the task's proto as JSON and whose metadata repeats the owner. Learnings cannot be updated
in place, so a save *adds* a snapshot and then deletes that task's older ones: a reader always
finds at least one whole snapshot (never a half-written row), two workers saving the same task
at once both succeed and the newest write wins (snapshots are ordered by time, then by an id
that starts with the time). Reading one task filters the namespace by kind, which SQL stores
answer from their index of learnings by `(tenant, namespace, kind, user)` (schema version 7).

The run behind a task is the truth about how it ended: a task whose snapshot still reads
submitted, working or input-required while its run (named in the task metadata
`covey.run_id`) has ended is shown as the run ended: completed (with the run's output when the
snapshot has none), canceled, or failed with the run's reason — e.g. a run whose worker was
killed and that the runtime's crash recovery marked interrupted. The corrected task is saved
back, so the next read is a plain read.

Scoping: a snapshot is written under the caller's own scope and read back only when its
`owner` metadata is the caller's (`tenant\\x1fuser`): a tenant-wide caller (the anonymous
caller with auth off, a token without a user) never sees another owner's tasks, even though its
store scope could read their rows, and its own rows — stored without a user, which the store
would share with every user of the tenant — are never shown to anyone else. One namespace per
agent keeps a task reachable only through the agent that ran it.

Bounds: a snapshot keeps the last `MAX_HISTORY` messages of the task's history; if it is still
over `MAX_SNAPSHOT_BYTES` of JSON, its history is dropped and then its artifacts are replaced
by one text part saying where the full output is (`GET /v1/runs/{run id}`). `ListTasks` reads
at most `MAX_LISTED` snapshots of the caller (newest first): older tasks are still reachable
by id, not by listing.

Cancelling: the SDK answers a `CancelTask` for a task that does not run in this process by
saving it canceled, without calling the executor; so a save that moves a task to canceled
while its run still runs or waits cancels the run (`RuntimeState.cancel`: at once for a paused
or orphaned run, through the store for a run of another live worker).
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from typing import Any

from a2a.server.context import ServerCallContext
from a2a.server.tasks import TaskStore
from a2a.types.a2a_pb2 import ListTasksRequest, ListTasksResponse, Task, TaskState
from a2a.utils.constants import DEFAULT_LIST_TASKS_PAGE_SIZE
from a2a.utils.errors import InvalidParamsError
from a2a.utils.task import ListTasksCursor, decode_list_tasks_cursor, encode_list_tasks_cursor
from google.protobuf.json_format import MessageToJson, Parse, ParseError

from covey.runtime.a2a.users import CallerUser, owner_of_principal
from covey.runtime.auth import Principal
from covey.runtime.problems import ApiError
from covey.runtime.state import RuntimeState
from covey.spec.errors import CoveyError, InvalidInputError, NotFoundError
from covey.spec.runs import RunStatus
from covey.spec.store import MAX_PAGE_SIZE, Learning, Run, Scope, check_id, utc_now

__all__ = [
    "MAX_HISTORY",
    "MAX_LISTED",
    "MAX_SNAPSHOT_BYTES",
    "NAMESPACE_PREFIX",
    "CoveyTaskStore",
]

log = logging.getLogger("covey.runtime.a2a")

NAMESPACE_PREFIX = "covey.a2a.tasks/"
"""Learnings of `covey.a2a.tasks/<agent>` are the A2A task snapshots of that agent."""

MAX_HISTORY = 50
"""Messages of a task's history a snapshot keeps (the latest)."""

MAX_SNAPSHOT_BYTES = 256 * 1024
"""The largest snapshot (the task as JSON) kept whole; see the module docstring."""

MAX_LISTED = 2000
"""Snapshots `ListTasks` reads for one caller and agent (the newest)."""

_OPEN = frozenset(
    {
        TaskState.TASK_STATE_SUBMITTED,
        TaskState.TASK_STATE_WORKING,
        TaskState.TASK_STATE_INPUT_REQUIRED,
        TaskState.TASK_STATE_AUTH_REQUIRED,
    }
)
"""States a task leaves when its run ends: checked against the run on every read."""

_RUN_ID_KEY = "covey.run_id"


class CoveyTaskStore(TaskStore):
    """The A2A tasks of the served runnable `agent`, per caller, in `runtime.store`."""

    def __init__(self, runtime: RuntimeState, agent: str) -> None:
        self._runtime = runtime
        self.namespace = _namespace(agent)

    # --- TaskStore -----------------------------------------------------------------------------

    async def save(self, task: Task, context: ServerCallContext) -> None:
        """Add a snapshot of `task`, then delete the task's older snapshots.

        A task moved to canceled while its run still runs or waits (a `CancelTask` answered by
        a worker that does not hold the task) cancels that run, wherever it runs.
        """
        principal = _principal(context)
        scope = principal.write_scope
        owner = owner_of_principal(principal)
        check_id(task.id, "task id")
        now = utc_now()
        snapshot = Learning(
            id=f"a2a-{time.time_ns():020d}-{_suffix()}",
            namespace=self.namespace,
            kind=task.id,
            content=_serialize(task),
            metadata={"owner": owner, "context_id": task.context_id},
            user_id=scope.user_id,
            created_at=now,
        )
        await self._runtime.store.add_learning(scope, snapshot)
        await self._prune(scope, owner, task.id, keep=True)
        if task.status.state == TaskState.TASK_STATE_CANCELED:
            await self._cancel_run(principal, task)

    async def get(self, task_id: str, context: ServerCallContext) -> Task | None:
        """The caller's task `task_id` of this agent, as its run ended if it has."""
        principal = _principal(context)
        try:
            check_id(task_id, "task id")
        except InvalidInputError:
            return None
        page = await self._runtime.store.list_learnings(
            principal.write_scope, self.namespace, kind=task_id, limit=5
        )
        owner = owner_of_principal(principal)
        for snapshot in page.items:  # the newest first; another owner's never
            task = _parse(snapshot, owner)
            if task is not None:
                return await self._settled(principal, task, context)
        return None

    async def list(self, params: ListTasksRequest, context: ServerCallContext) -> ListTasksResponse:
        """The caller's tasks of this agent, newest status first, filtered and paged as the
        SDK's stores do (context id, state, status time; a cursor page token)."""
        principal = _principal(context)
        tasks = await self._all(principal)
        settled = [await self._settled(principal, t, context) for t in tasks]
        if params.context_id:
            settled = [t for t in settled if t.context_id == params.context_id]
        if params.status:
            settled = [t for t in settled if t.status.state == params.status]
        if params.HasField("status_timestamp_after"):
            after_ns = params.status_timestamp_after.ToNanoseconds()
            settled = [t for t in settled if _sort_key(t)[0] and _sort_key(t)[1] >= after_ns]
        settled.sort(key=_sort_key, reverse=True)
        start = 0
        if params.page_token:
            cursor = decode_list_tasks_cursor(params.page_token)
            if cursor is None:
                raise InvalidParamsError(f"Invalid page token: {params.page_token}")
            after = cursor.sort_key()
            start = next((i for i, t in enumerate(settled) if _sort_key(t) < after), len(settled))
        page_size = params.page_size or DEFAULT_LIST_TASKS_PAGE_SIZE
        end = start + page_size
        page = settled[start:end]
        token = encode_list_tasks_cursor(_cursor(page[-1])) if end < len(settled) else None
        return ListTasksResponse(
            tasks=page, next_page_token=token, total_size=len(settled), page_size=page_size
        )

    async def delete(self, task_id: str, context: ServerCallContext) -> None:
        """Delete every snapshot of the caller's task `task_id` (nothing if there is none)."""
        principal = _principal(context)
        try:
            check_id(task_id, "task id")
        except InvalidInputError:
            return
        await self._prune(principal.write_scope, owner_of_principal(principal), task_id, keep=False)

    # --- helpers -------------------------------------------------------------------------------

    async def _all(self, principal: Principal) -> list[Task]:
        """The newest snapshot of each of the caller's tasks (at most `MAX_LISTED` read)."""
        store = self._runtime.store
        owner = owner_of_principal(principal)
        seen: set[str] = set()
        tasks: list[Task] = []
        cursor: str | None = None
        read = 0
        while read < MAX_LISTED:
            page = await store.list_learnings(
                principal.write_scope,
                self.namespace,
                limit=min(MAX_PAGE_SIZE, MAX_LISTED - read),
                cursor=cursor,
            )
            read += len(page.items)
            for snapshot in page.items:
                if snapshot.kind in seen:
                    continue  # an older snapshot not yet pruned
                task = _parse(snapshot, owner)
                if task is not None:
                    seen.add(snapshot.kind)
                    tasks.append(task)
            cursor = page.next_cursor
            if cursor is None or not page.items:
                break
        return tasks

    async def _prune(self, scope: Scope, owner: str, task_id: str, *, keep: bool) -> None:
        """Delete `owner`'s older snapshots of the task (all of them unless `keep`).

        The newest snapshot is kept, whether it is the one just saved or one another worker
        saved a moment later: of two concurrent saves the later one survives. Only `owner`'s
        rows are touched: a tenant-wide scope could delete any user's.
        """
        store = self._runtime.store
        while True:
            page = await store.list_learnings(scope, self.namespace, kind=task_id, limit=20)
            mine = [s for s in page.items if s.metadata.get("owner") == owner]
            doomed = mine[1:] if keep else mine
            for snapshot in doomed:
                with contextlib.suppress(NotFoundError):  # another worker pruned it first
                    await store.delete_learning(scope, snapshot.id)
            if not doomed or page.next_cursor is None:
                return

    async def _settled(self, principal: Principal, task: Task, context: ServerCallContext) -> Task:
        """`task`, or — when its run has ended but the task still reads open — the task as the
        run ended (saved back)."""
        if task.status.state not in _OPEN:
            return task
        field = task.metadata.fields.get(_RUN_ID_KEY)
        run_id = field.string_value if field is not None else ""
        if not run_id:
            return task
        try:
            run, _ = await self._runtime.find_run(principal.write_scope, run_id)
        except ApiError:
            return task  # not stored (yet): it runs in this process, or is about to
        except CoveyError:
            log.warning("A2A task %s: could not read its run %s", task.id, run_id, exc_info=True)
            return task
        if run is None:
            return task
        settled = _as_run_ended(task, run)
        if settled is None:
            return task
        try:
            await self.save(settled, context)
        except CoveyError:
            log.warning("A2A task %s: could not save it as its run ended", task.id, exc_info=True)
        return settled

    async def _cancel_run(self, principal: Principal, task: Task) -> None:
        field = task.metadata.fields.get(_RUN_ID_KEY)
        run_id = field.string_value if field is not None else ""
        if not run_id:
            return
        run = await self._runtime.store.get_run(principal.write_scope, run_id)
        if run is None or run.status.is_final:
            return
        try:
            await self._runtime.cancel(principal, run_id)
        except ApiError as exc:
            log.info("A2A cancel of task %s: %s", task.id, exc.detail)


def _namespace(agent: str) -> str:
    """`covey.a2a.tasks/<agent>`; a name too long (or odd) for a namespace is hashed."""
    try:
        return check_id(NAMESPACE_PREFIX + agent, "namespace")
    except InvalidInputError:
        import hashlib

        return NAMESPACE_PREFIX + "sha256:" + hashlib.sha256(agent.encode()).hexdigest()


def _as_run_ended(task: Task, run: Run) -> Task | None:
    """A copy of `task` in the state its stored `run` ended in; `None` when nothing changes."""
    from a2a.helpers.proto_helpers import new_text_part

    from covey.runtime.a2a.executor import paused_parts

    status = run.status
    if status is RunStatus.RUNNING:
        return None
    if status is RunStatus.PAUSED and task.status.state in (
        TaskState.TASK_STATE_INPUT_REQUIRED,
        TaskState.TASK_STATE_AUTH_REQUIRED,
    ):
        return None
    settled = Task()
    settled.CopyFrom(task)
    settled.status.Clear()
    settled.status.timestamp.FromDatetime(run.finished_at or run.updated_at)
    if status is RunStatus.PAUSED:
        settled.status.state = TaskState.TASK_STATE_INPUT_REQUIRED
        _agent_message(settled, paused_parts(run.id, run.requirements))
    elif status is RunStatus.COMPLETED:
        settled.status.state = TaskState.TASK_STATE_COMPLETED
        if not settled.artifacts and run.output is not None:
            _output_artifact(settled, run)
    elif status is RunStatus.CANCELLED:
        settled.status.state = TaskState.TASK_STATE_CANCELED
    else:  # failed, interrupted
        reason = run.error.message if run.error is not None else status.value
        settled.status.state = TaskState.TASK_STATE_FAILED
        _agent_message(settled, [new_text_part(f"The run failed: {reason}")])
    return settled


def _agent_message(task: Task, parts: list[Any]) -> None:
    from a2a.types.a2a_pb2 import Role

    message = task.status.message
    message.message_id = f"{task.id}-{int(task.status.timestamp.ToNanoseconds())}"
    message.role = Role.ROLE_AGENT
    message.task_id = task.id
    message.context_id = task.context_id
    message.parts.extend(parts)


def _output_artifact(task: Task, run: Run) -> None:
    from a2a.helpers.proto_helpers import new_data_part, new_text_part

    artifact = task.artifacts.add()
    artifact.artifact_id = f"{run.id}-output"
    artifact.name = "output"
    if isinstance(run.output, str):
        artifact.parts.append(new_text_part(run.output))
    else:
        artifact.artifact_id += "-data"
        artifact.parts.append(new_data_part(json.loads(json.dumps(run.output, default=str))))


def _serialize(task: Task) -> str:
    """The task as compact JSON, bounded (see the module docstring)."""
    kept = Task()
    kept.CopyFrom(task)
    if len(kept.history) > MAX_HISTORY:
        del kept.history[: len(kept.history) - MAX_HISTORY]
    text = _json(kept)
    if len(text.encode()) <= MAX_SNAPSHOT_BYTES:
        return text
    del kept.history[:]
    text = _json(kept)
    if len(text.encode()) <= MAX_SNAPSHOT_BYTES:
        return text
    from a2a.helpers.proto_helpers import new_text_part

    field = kept.metadata.fields.get(_RUN_ID_KEY)
    run_id = field.string_value if field is not None else ""
    where = f"GET /v1/runs/{run_id}" if run_id else "the run behind it"
    for artifact in kept.artifacts:
        del artifact.parts[:]
        artifact.parts.append(new_text_part(f"[too large to keep in the task: read {where}]"))
    kept.status.message.Clear()
    return _json(kept)


def _json(task: Task) -> str:
    return json.dumps(json.loads(MessageToJson(task)), separators=(",", ":"))


def _parse(snapshot: Learning, owner: str) -> Task | None:
    """The task of `snapshot` when `owner` owns it; `None` otherwise (or if unreadable)."""
    if snapshot.metadata.get("owner") != owner:
        return None
    task = Task()
    try:
        Parse(snapshot.content, task)
    except ParseError:
        log.warning("A2A task snapshot %s is not a task; skipped", snapshot.id)
        return None
    return task if task.id == snapshot.kind else None


def _principal(context: ServerCallContext) -> Principal:
    user = context.user
    if not isinstance(user, CallerUser):  # the mount always sets it; never trust otherwise
        raise PermissionError("no authenticated caller")
    return user.principal


def _sort_key(task: Task) -> tuple[bool, int, str]:
    has = task.HasField("status") and task.status.HasField("timestamp")
    return (has, task.status.timestamp.ToNanoseconds() if has else 0, task.id)


def _cursor(task: Task) -> ListTasksCursor:
    has, ns, task_id = _sort_key(task)
    return ListTasksCursor(timestamp_ns=ns if has else None, task_id=task_id)


def _suffix() -> str:
    import secrets

    return secrets.token_hex(6)
