"""A2A tasks across restarts and workers: real `covey serve` processes on one SQLite file,
called with the official `a2a-sdk` client over real HTTP, with JWT auth on.

Worker A runs the tasks; worker B (and a worker started after A stopped, or was killed) reads,
lists, resumes and cancels them through the shared store alone.
"""

from __future__ import annotations

import signal
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from a2a.types.a2a_pb2 import (
    CancelTaskRequest,
    GetTaskRequest,
    ListTasksRequest,
    SubscribeToTaskRequest,
    Task,
    TaskState,
)
from a2a.utils.errors import TaskNotFoundError, UnsupportedOperationError
from runtime_agents import GATES_ENV
from runtime_helpers import TESTS, ProcessServer, wait_for, wait_until_event, write_config
from test_a2a import (
    client_for,
    collect,
    decisions,
    final_task,
    message,
    paused_for,
    streamed,
    text_of,
)
from test_auth import SECRET, bearer, token

pytest.importorskip("covey.db.sql", reason="covey-db-sql provides the shared SQL store")

pytestmark = pytest.mark.slow

LEASE = 2.0
"""Seconds: how long a killed worker's runs stay `running` before another closes them."""

ALICE = bearer(token("alice"))


class Cluster:
    """`covey serve` workers of the test registry on one SQLite file."""

    def __init__(self, folder: Path) -> None:
        self.gates = folder / "gates"
        self.gates.mkdir()
        self.config = write_config(
            folder / "covey.toml",
            agents="runtime_agents:registry",
            python_path=[str(TESTS)],
            store=f"sqlite:///{folder / 'shared.db'}",
            auth="jwt",
            lease_seconds=LEASE,
            shutdown_grace=1,
            poll_interval=0.05,
            log_level="warning",
        )
        self.env = {GATES_ENV: str(self.gates), "COVEY_JWT_SECRET": SECRET}
        self.started: list[ProcessServer] = []

    def start(self) -> ProcessServer:
        server = ProcessServer(self.config, self.env).start()
        self.started.append(server)
        return server

    def stop_all(self) -> None:
        for server in self.started:
            server.stop()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    made = Cluster(tmp_path_factory.mktemp("a2a-durable"))
    try:
        yield made
    finally:
        made.stop_all()


@pytest.fixture(scope="module")
def workers(cluster: Cluster) -> tuple[ProcessServer, ProcessServer]:
    return cluster.start(), cluster.start()


async def _get(server: ProcessServer, agent: str, task_id: str, headers: dict[str, str]) -> Task:
    client = await client_for(server.url, agent, streaming=False, headers=headers)
    try:
        return await client.get_task(GetTaskRequest(id=task_id))
    finally:
        await client.close()


async def _until(server: ProcessServer, task_id: str, state: Any) -> Task:
    """Poll `GetTask` on `server` until the task reaches `state` (the change happens in
    another process, or when a lease lapses: there is no event of this process to await)."""
    with anyio.fail_after(30):
        while True:
            task = await _get(server, "gated", task_id, ALICE)
            if task.status.state == state:
                return task
            await anyio.sleep(0.1)


async def _api_get(server: ProcessServer, path: str, **params: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=server.url, headers=ALICE, timeout=30) as api:
        return await api.get(path, params=params)


async def _start_gated(server: ProcessServer, gate: str) -> tuple[str, str]:
    """Start a `gated` task on `server` and return (task id, run id) once its tool waits."""
    client = await client_for(server.url, "gated", streaming=True, headers=ALICE)
    stream = client.send_message(message(gate))
    task_id = run_id = ""
    async for response in stream:
        update = response.status_update
        if response.HasField("status_update") and "covey.run_id" in update.metadata:
            task_id, run_id = update.task_id, update.metadata["covey.run_id"]
            break
    await stream.aclose()
    await client.close()
    assert task_id
    with httpx.Client(base_url=server.url, headers=ALICE, timeout=30) as api:
        wait_until_event(api, run_id, "tool_call.started")
    return task_id, run_id


async def test_a_completed_task_is_read_and_listed_by_another_worker(
    workers: tuple[ProcessServer, ProcessServer],
) -> None:
    a, b = workers
    context = str(uuid.uuid4())
    on_a = await client_for(a.url, "echo", streaming=False, headers=ALICE)
    first = final_task(await collect(on_a, message("hello a", context_id=context)))
    second = final_task(await collect(on_a, message("hello again", context_id=context)))
    other = final_task(await collect(on_a, message("elsewhere")))
    await on_a.close()
    assert first.status.state == TaskState.TASK_STATE_COMPLETED

    on_b = await client_for(b.url, "echo", streaming=False, headers=ALICE)
    got = await on_b.get_task(GetTaskRequest(id=first.id))
    assert got.status.state == TaskState.TASK_STATE_COMPLETED
    assert text_of(got) == "echo: hello a"
    assert got.context_id == context
    assert got.metadata["covey.run_id"] == first.metadata["covey.run_id"]
    # ListTasks on B: the context's two tasks, newest first, paged one at a time.
    page = await on_b.list_tasks(ListTasksRequest(context_id=context, page_size=1))
    assert [t.id for t in page.tasks] == [second.id]
    assert page.total_size == 2
    assert page.next_page_token
    rest = await on_b.list_tasks(
        ListTasksRequest(context_id=context, page_size=1, page_token=page.next_page_token)
    )
    assert [t.id for t in rest.tasks] == [first.id]
    assert not rest.next_page_token
    everything = await on_b.list_tasks(
        ListTasksRequest(status=TaskState.TASK_STATE_COMPLETED, include_artifacts=True)
    )
    assert {t.id for t in everything.tasks} >= {first.id, second.id, other.id}
    assert text_of(next(t for t in everything.tasks if t.id == other.id)) == "echo: elsewhere"
    # The history as kept: the user's message; trimmed to what the caller asks for.
    full = await on_b.get_task(GetTaskRequest(id=first.id))
    assert [p.text for m in full.history for p in m.parts][:1] == ["hello a"]
    short = await on_b.list_tasks(ListTasksRequest(context_id=context, history_length=0))
    assert all(len(t.history) == 0 for t in short.tasks)
    assert all(len(t.artifacts) == 0 for t in short.tasks)  # artifacts only when asked
    await on_b.close()


async def test_an_input_required_task_started_on_one_worker_is_resumed_on_another(
    workers: tuple[ProcessServer, ProcessServer],
) -> None:
    a, b = workers
    on_a = await client_for(a.url, "approver", streaming=False, headers=ALICE)
    task = final_task(await collect(on_a, message("/tmp/durable")))
    await on_a.close()
    assert task.status.state == TaskState.TASK_STATE_INPUT_REQUIRED
    [needed] = paused_for(task)

    on_b = await client_for(b.url, "approver", streaming=False, headers=ALICE)
    waiting = await on_b.get_task(GetTaskRequest(id=task.id))
    assert waiting.status.state == TaskState.TASK_STATE_INPUT_REQUIRED
    assert paused_for(waiting) == [needed]
    done = final_task(
        await collect(on_b, decisions(task, {"approvals": {needed["tool_call_id"]: True}}))
    )
    await on_b.close()
    assert done.id == task.id
    assert done.status.state == TaskState.TASK_STATE_COMPLETED
    assert text_of(done) == "result: deleted /tmp/durable"
    # A, which paused it, reads the task as B finished it.
    seen = await _get(a, "approver", task.id, ALICE)
    assert seen.status.state == TaskState.TASK_STATE_COMPLETED
    assert text_of(seen) == "result: deleted /tmp/durable"
    run = (await _api_get(a, f"/v1/runs/{task.metadata['covey.run_id']}")).json()
    assert run["status"] == "completed"


async def test_a_task_cancelled_on_another_worker_stops_its_run(
    workers: tuple[ProcessServer, ProcessServer],
) -> None:
    a, b = workers
    task_id, run_id = await _start_gated(a, "never-opened-cancel")
    on_b = await client_for(b.url, "gated", streaming=False, headers=ALICE)
    canceled = await on_b.cancel_task(CancelTaskRequest(id=task_id))
    await on_b.close()
    assert canceled.status.state == TaskState.TASK_STATE_CANCELED
    # The run on A stops (B asked it to through the store: A polls for that), and A, which
    # holds the task, reads it canceled.
    with httpx.Client(base_url=b.url, headers=ALICE) as api:
        wait_for(lambda: api.get(f"/v1/runs/{run_id}").json()["status"] == "cancelled")
    await _until(a, task_id, TaskState.TASK_STATE_CANCELED)


async def test_a_waiting_task_cancelled_on_another_worker_cancels_its_paused_run(
    workers: tuple[ProcessServer, ProcessServer],
) -> None:
    a, b = workers
    on_a = await client_for(a.url, "approver", streaming=False, headers=ALICE)
    task = final_task(await collect(on_a, message("/tmp/never-decided")))
    await on_a.close()
    assert task.status.state == TaskState.TASK_STATE_INPUT_REQUIRED
    on_b = await client_for(b.url, "approver", streaming=False, headers=ALICE)
    canceled = await on_b.cancel_task(CancelTaskRequest(id=task.id))
    await on_b.close()
    assert canceled.status.state == TaskState.TASK_STATE_CANCELED
    run = (await _api_get(a, f"/v1/runs/{task.metadata['covey.run_id']}")).json()
    assert run["status"] == "cancelled"
    assert (await _get(a, "approver", task.id, ALICE)).status.state == (
        TaskState.TASK_STATE_CANCELED
    )


async def test_a_task_running_on_one_worker_is_followed_from_another(
    cluster: Cluster, workers: tuple[ProcessServer, ProcessServer]
) -> None:
    a, b = workers
    task_id, _ = await _start_gated(a, "gate-followed")
    follower = await client_for(b.url, "gated", streaming=True, headers=ALICE)
    updates = follower.subscribe(SubscribeToTaskRequest(id=task_id))
    first = await anext(updates)  # subscribed: the task as it stands
    assert first.task.status.state == TaskState.TASK_STATE_WORKING
    (cluster.gates / "gate-followed").write_text("open")
    with anyio.fail_after(30):  # B does not run the task: without following it, B hangs
        seen = [u async for u in updates]
    states, text = streamed(seen)
    assert states[-1] == TaskState.TASK_STATE_COMPLETED
    assert text == "done: gate gate-followed opened"
    await follower.close()
    # A finished task has nothing more to stream, on any worker.
    again = await client_for(b.url, "gated", streaming=True, headers=ALICE)
    with pytest.raises(UnsupportedOperationError):
        await anext(again.subscribe(SubscribeToTaskRequest(id=task_id)))
    await again.close()


async def test_after_a_kill_9_a_new_worker_has_every_task_and_the_open_one_failed(
    cluster: Cluster,
) -> None:
    victim = cluster.start()
    context = str(uuid.uuid4())
    client = await client_for(victim.url, "echo", streaming=False, headers=ALICE)
    done = final_task(await collect(client, message("before the crash", context_id=context)))
    await client.close()
    task_id, run_id = await _start_gated(victim, "never-opened-kill")
    assert (await _get(victim, "gated", task_id, ALICE)).status.state == (
        TaskState.TASK_STATE_WORKING
    )
    assert victim.process is not None
    victim.process.send_signal(signal.SIGKILL)  # no shutdown: the run and the task stay open
    victim.process.wait(10)

    fresh = cluster.start()
    # The finished task is all there.
    again = await _get(fresh, "echo", done.id, ALICE)
    assert again.status.state == TaskState.TASK_STATE_COMPLETED
    assert text_of(again) == "echo: before the crash"
    assert again.context_id == context
    # Once the dead worker's lease lapses its run is closed as interrupted; the task follows.
    failed = await _until(fresh, task_id, TaskState.TASK_STATE_FAILED)
    reason = failed.status.message.parts[0].text
    assert "stopped renewing its lease" in reason, reason
    assert (await _api_get(fresh, f"/v1/runs/{run_id}")).json()["status"] == "interrupted"
    # Listed as failed too, and never again as working.
    client = await client_for(fresh.url, "gated", streaming=False, headers=ALICE)
    working = await client.list_tasks(ListTasksRequest(status=TaskState.TASK_STATE_WORKING))
    assert task_id not in [t.id for t in working.tasks]
    failed_page = await client.list_tasks(ListTasksRequest(status=TaskState.TASK_STATE_FAILED))
    assert task_id in [t.id for t in failed_page.tasks]
    await client.close()


# --- attacks -------------------------------------------------------------------------------------


async def test_no_other_owner_or_agent_reaches_a_task_from_any_worker(
    workers: tuple[ProcessServer, ProcessServer],
) -> None:
    a, b = workers
    on_a = await client_for(a.url, "approver", streaming=False, headers=ALICE)
    task = final_task(await collect(on_a, message("/tmp/private")))
    await on_a.close()
    assert task.status.state == TaskState.TASK_STATE_INPUT_REQUIRED
    [needed] = paused_for(task)
    intruders = {
        "another user": bearer(token("mallory")),
        "alice of another tenant": bearer(token("alice", tenant="globex")),
    }
    for who, headers in intruders.items():
        for server in (a, b):
            thief = await client_for(server.url, "approver", streaming=False, headers=headers)
            with pytest.raises(TaskNotFoundError):
                await thief.get_task(GetTaskRequest(id=task.id))
            with pytest.raises(TaskNotFoundError):
                await thief.cancel_task(CancelTaskRequest(id=task.id))
            with pytest.raises(TaskNotFoundError):  # deciding someone else's approval
                await collect(thief, decisions(task, {"approvals": {needed["tool_call_id"]: True}}))
            listed = await thief.list_tasks(ListTasksRequest())
            assert task.id not in [t.id for t in listed.tasks], who
            await thief.close()
    # Alice herself, through another agent: not found either.
    for server in (a, b):
        other = await client_for(server.url, "echo", streaming=False, headers=ALICE)
        with pytest.raises(TaskNotFoundError):
            await other.get_task(GetTaskRequest(id=task.id))
        await other.close()
    # The snapshots are Covey's bookkeeping: not served as learnings.
    listed = await _api_get(b, "/v1/learnings", namespace="covey.a2a.tasks/approver")
    assert listed.status_code == 400
    # Still waiting, untouched by all of the above: alice's run is paused.
    mine = await _get(b, "approver", task.id, ALICE)
    assert mine.status.state == TaskState.TASK_STATE_INPUT_REQUIRED
