"""`CoveyTaskStore` on its own, over a real store (in memory, an SQLite file, PostgreSQL): what it
keeps, for whom, how big, under concurrent saves, and how a task follows the run behind it."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from a2a.helpers.proto_helpers import new_text_part
from a2a.server.context import ServerCallContext
from a2a.types.a2a_pb2 import ListTasksRequest, Message, Role, Task, TaskState
from a2a.utils.errors import InvalidParamsError
from runtime_agents import build

from covey.runtime import RuntimeSettings
from covey.runtime.a2a.tasks import MAX_HISTORY, MAX_SNAPSHOT_BYTES, CoveyTaskStore
from covey.runtime.a2a.users import CallerUser
from covey.runtime.app import create_app
from covey.runtime.auth import SCOPES, Principal
from covey.runtime.state import RuntimeState
from covey.spec.runs import ErrorInfo, Requirement, RunStatus
from covey.spec.store import Learning, Run, Scope, Store, new_id


def caller(user: str | None = "alice", tenant: str = "acme") -> ServerCallContext:
    return ServerCallContext(
        user=CallerUser(Principal(user_id=user, tenant_id=tenant, scopes=frozenset(SCOPES)))
    )


ALICE = caller()


@pytest.fixture(scope="module")
def postgres() -> Iterator[Any]:
    """One PostgreSQL server for this module's tests (a database each)."""
    pytest.importorskip("covey.db.sql")
    from covey.db.sql.testing import PostgresCluster, find_postgres_bin

    if find_postgres_bin() is None and not os.environ.get("CI"):
        pytest.skip("PostgreSQL server binaries are not installed (make system-deps)")
    with PostgresCluster(settings={"fsync": "off"}) as cluster:
        yield cluster


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
async def runtime(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[RuntimeState]:
    store: Store
    if request.param == "memory":
        from covey.testing import InMemoryStore

        store = InMemoryStore()
    elif request.param == "sqlite":
        pytest.importorskip("covey.db.sql")
        from covey.db.sql import SqlStore

        store = SqlStore(f"sqlite:///{tmp_path / 'tasks.db'}")
    else:
        request.applymarker(pytest.mark.postgres)
        from covey.db.sql import SqlStore

        cluster = request.getfixturevalue("postgres")
        store = SqlStore(cluster.create_database(f"a2a_{new_id()[:12]}"))
    async with store:
        app = create_app(RuntimeSettings(store="memory://"), registry=build(), store=store)
        yield app.state["covey"]


def task(
    task_id: str | None = None,
    *,
    state: Any = TaskState.TASK_STATE_COMPLETED,
    context_id: str = "ctx",
    run_id: str | None = None,
    at: int = 1_000,
) -> Task:
    made = Task(id=task_id or new_id(), context_id=context_id)
    made.status.state = state
    made.status.timestamp.FromSeconds(at)
    if run_id is not None:
        made.metadata.update({"covey.run_id": run_id})
    return made


async def snapshots(runtime: RuntimeState, scope: Scope, store: CoveyTaskStore) -> list[Learning]:
    page = await runtime.store.list_learnings(scope, store.namespace, limit=200)
    return list(page.items)


async def test_a_task_is_kept_and_read_back_whole(runtime: RuntimeState) -> None:
    store = CoveyTaskStore(runtime, "echo")
    saved = task(context_id="c1")
    artifact = saved.artifacts.add(artifact_id="a", name="output")
    artifact.parts.append(new_text_part("hello"))
    await store.save(saved, ALICE)
    assert await store.get(saved.id, ALICE) == saved
    # A second process is a second store over the same database: it reads the same task.
    assert await CoveyTaskStore(runtime, "echo").get(saved.id, ALICE) == saved
    await store.delete(saved.id, ALICE)
    assert await store.get(saved.id, ALICE) is None
    assert await snapshots(runtime, Scope("acme", "alice"), store) == []


async def test_a_task_is_its_owner_s_and_its_agent_s_only(runtime: RuntimeState) -> None:
    store = CoveyTaskStore(runtime, "echo")
    mine = task()
    await store.save(mine, ALICE)
    for intruder in (caller("mallory"), caller("alice", tenant="globex"), caller(None)):
        assert await store.get(mine.id, intruder) is None
        assert list((await store.list(ListTasksRequest(), intruder)).tasks) == []
        await store.delete(mine.id, intruder)  # a no-op for anyone else
    assert await CoveyTaskStore(runtime, "history").get(mine.id, ALICE) is None
    assert await store.get(mine.id, ALICE) == mine


async def test_a_tenant_wide_caller_s_tasks_are_not_shared_with_its_users(
    runtime: RuntimeState,
) -> None:
    """A tenant-wide caller (auth off, or an admin without a user) writes rows without a user:
    the store would show them to every user of the tenant as shared; the task store does not."""
    store = CoveyTaskStore(runtime, "echo")
    anonymous = caller(None)
    theirs = task()
    await store.save(theirs, anonymous)
    assert await store.get(theirs.id, anonymous) == theirs
    assert await store.get(theirs.id, ALICE) is None
    assert list((await store.list(ListTasksRequest(), ALICE)).tasks) == []


async def test_malformed_ids_and_unreadable_snapshots_are_not_found(
    runtime: RuntimeState,
) -> None:
    store = CoveyTaskStore(runtime, "echo")
    for bad in ("", "x" * 300, "a\x00b", "a\nb"):
        assert await store.get(bad, ALICE) is None
    broken = new_id()
    await runtime.store.add_learning(
        Scope("acme", "alice"),
        Learning(
            namespace=store.namespace,
            kind=broken,
            content="{not a task",
            metadata={"owner": "acme\x1falice"},
        ),
    )
    assert await store.get(broken, ALICE) is None
    assert list((await store.list(ListTasksRequest(), ALICE)).tasks) == []


async def test_concurrent_saves_of_one_task_leave_one_whole_snapshot(
    runtime: RuntimeState,
) -> None:
    store = CoveyTaskStore(runtime, "echo")
    task_id = new_id()
    versions = [task(task_id, context_id=f"v{i}", at=1_000 + i) for i in range(12)]
    await asyncio.gather(*(CoveyTaskStore(runtime, "echo").save(v, ALICE) for v in versions))
    kept = await snapshots(runtime, Scope("acme", "alice"), store)
    assert len(kept) == 1
    got = await store.get(task_id, ALICE)
    assert got in versions  # one whole version: the last written
    assert got is not None
    assert got.context_id == kept[0].metadata["context_id"]


async def test_history_and_huge_outputs_are_bounded(runtime: RuntimeState) -> None:
    store = CoveyTaskStore(runtime, "echo")
    chatty = task()
    for i in range(MAX_HISTORY + 30):
        chatty.history.append(
            Message(message_id=f"m{i}", role=Role.ROLE_USER, parts=[new_text_part(f"turn {i}")])
        )
    await store.save(chatty, ALICE)
    kept = await store.get(chatty.id, ALICE)
    assert kept is not None
    assert [m.message_id for m in kept.history] == [f"m{i}" for i in range(30, MAX_HISTORY + 30)]

    big = task()
    big.artifacts.add(artifact_id="out").parts.append(new_text_part("y" * 200_000))
    await store.save(big, ALICE)
    assert await store.get(big.id, ALICE) == big  # under the bound: kept whole

    huge = task(run_id="run-1")
    huge.artifacts.add(artifact_id="out").parts.append(
        new_text_part("x" * (2 * MAX_SNAPSHOT_BYTES))
    )
    await store.save(huge, ALICE)
    [row] = [
        s for s in await snapshots(runtime, Scope("acme", "alice"), store) if s.kind == huge.id
    ]
    assert len(row.content.encode()) <= MAX_SNAPSHOT_BYTES
    got = await store.get(huge.id, ALICE)
    assert got is not None
    assert got.status.state == TaskState.TASK_STATE_COMPLETED
    assert got.artifacts[0].parts[0].text == (
        "[too large to keep in the task: read GET /v1/runs/run-1]"
    )


async def test_list_filters_and_pages_like_the_sdk(runtime: RuntimeState) -> None:
    store = CoveyTaskStore(runtime, "echo")
    made = [
        task(
            context_id="even" if i % 2 == 0 else "odd",
            state=TaskState.TASK_STATE_COMPLETED if i < 5 else TaskState.TASK_STATE_REJECTED,
            at=2_000 + i,
        )
        for i in range(7)
    ]
    for one in made:
        await store.save(one, ALICE)
    newest_first = [t.id for t in reversed(made)]
    seen: list[str] = []
    token = ""
    while True:
        page = await store.list(ListTasksRequest(page_size=3, page_token=token), ALICE)
        assert page.total_size == 7
        seen += [t.id for t in page.tasks]
        token = page.next_page_token
        if not token:
            break
    assert seen == newest_first
    odd = await store.list(ListTasksRequest(context_id="odd"), ALICE)
    assert [t.id for t in odd.tasks] == [made[5].id, made[3].id, made[1].id]
    rejected = await store.list(ListTasksRequest(status=TaskState.TASK_STATE_REJECTED), ALICE)
    assert [t.id for t in rejected.tasks] == [made[6].id, made[5].id]
    later = ListTasksRequest()
    later.status_timestamp_after.FromSeconds(2_005)
    assert [t.id for t in (await store.list(later, ALICE)).tasks] == [made[6].id, made[5].id]
    with pytest.raises(InvalidParamsError):
        await store.list(ListTasksRequest(page_token="not-a-token!"), ALICE)


async def _run(runtime: RuntimeState, status: RunStatus, **fields: Any) -> str:
    run = Run(agent_id="echo", user_id="alice", status=status, **fields)
    await runtime.store.save_run(Scope("acme", "alice"), run)
    return run.id


async def test_an_open_task_reads_as_its_run_ended(runtime: RuntimeState) -> None:
    store = CoveyTaskStore(runtime, "echo")
    working = TaskState.TASK_STATE_WORKING
    failed = await _run(
        runtime, RunStatus.INTERRUPTED, error=ErrorInfo(type="Interrupted", message="lost it")
    )
    done = await _run(runtime, RunStatus.COMPLETED, output="the answer")
    cancelled = await _run(runtime, RunStatus.CANCELLED)
    paused = await _run(
        runtime,
        RunStatus.PAUSED,
        requirements=[Requirement(tool_call_id="c1", tool_name="delete_file", kind="approval")],
    )
    cases = {
        failed: TaskState.TASK_STATE_FAILED,
        done: TaskState.TASK_STATE_COMPLETED,
        cancelled: TaskState.TASK_STATE_CANCELED,
        paused: TaskState.TASK_STATE_INPUT_REQUIRED,
    }
    tasks = {run_id: task(state=working, run_id=run_id) for run_id in cases}
    for one in tasks.values():
        await store.save(one, ALICE)
    for run_id, state in cases.items():
        got = await store.get(tasks[run_id].id, ALICE)
        assert got is not None
        assert got.status.state == state, run_id
    failed_task = await store.get(tasks[failed].id, ALICE)
    assert failed_task is not None
    assert failed_task.status.message.parts[0].text == "The run failed: lost it"
    done_task = await store.get(tasks[done].id, ALICE)
    assert done_task is not None
    assert done_task.artifacts[0].parts[0].text == "the answer"
    paused_task = await store.get(tasks[paused].id, ALICE)
    assert paused_task is not None
    assert "delete_file" in paused_task.status.message.parts[0].text
    # Settled once, stored settled: the snapshot itself now says so.
    rows = await snapshots(runtime, Scope("acme", "alice"), store)
    stored = {row.kind: row.content for row in rows}
    assert "TASK_STATE_FAILED" in stored[tasks[failed].id]
    # Listed as ended too.
    page = await store.list(ListTasksRequest(status=working), ALICE)
    assert list(page.tasks) == []


async def test_a_task_whose_run_still_runs_stays_working(runtime: RuntimeState) -> None:
    store = CoveyTaskStore(runtime, "echo")
    running = await _run(runtime, RunStatus.RUNNING)
    open_task = task(state=TaskState.TASK_STATE_WORKING, run_id=running)
    await store.save(open_task, ALICE)
    assert await store.get(open_task.id, ALICE) == open_task
    # The same run id seen by another user: not theirs, not found, nothing settled.
    assert await store.get(open_task.id, caller("mallory")) is None


async def test_an_agent_name_too_long_for_a_namespace_still_has_its_own_tasks(
    runtime: RuntimeState,
) -> None:
    long_a, long_b = "a" * 300, "a" * 299 + "b"
    store = CoveyTaskStore(runtime, long_a)
    mine = task()
    await store.save(mine, ALICE)
    assert await CoveyTaskStore(runtime, long_a).get(mine.id, ALICE) == mine
    assert await CoveyTaskStore(runtime, long_b).get(mine.id, ALICE) is None
