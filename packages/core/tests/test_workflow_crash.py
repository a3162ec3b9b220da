"""A worker process is killed (`kill -9`) mid-workflow; the workflow resumes from the test
process, with a new workflow object and store, on SQLite and on PostgreSQL.

Every step appends its name to a counter file when it finishes its work. The worker is killed
while the `slow` step runs, after a function step, two parallel branches, two loop
iterations and an agent step finished. After the resume, each step that finished before the
kill appears exactly once, the rest once, and the output is what an uninterrupted run gives.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
from core_helpers import check_invariants

from covey.db.sql import SqlStore
from covey.db.sql.testing import PostgresCluster, find_postgres_bin
from covey.spec import RunStatus
from covey.spec import events as ev
from covey.spec.store import Scope

FLOW = textwrap.dedent(
    '''
    """The workflow both processes build: `make(folder)`."""

    import time
    from pathlib import Path

    from covey.core import Agent, Loop, Parallel, Step, Workflow
    from covey.core.testing import FunctionModel
    from covey.spec import ModelResponse, TextPart


    def make(folder: Path) -> Workflow:
        counter = folder / "counter.txt"

        def count(name: str) -> None:
            with counter.open("a") as out:
                out.write(name + "\\n")

        def step(name: str, add: int) -> Step:
            def work(previous: int) -> int:
                count(name)
                return previous + add

            return Step(work, name=name)

        def tick(step) -> int:
            count(f"tick{step.iteration}")
            return step.previous * 2

        def answer(messages, info):
            count("agent")
            return ModelResponse(parts=[TextPart(content="41")])

        def slow(previous: str) -> int:
            (folder / "slow-entered").touch()
            while not (folder / "go").exists():  # the first worker is killed here
                time.sleep(0.01)
            count("slow")
            return int(previous) + 1

        return Workflow(
            name="crashy",
            steps=[
                step("fetch", 1),
                Parallel(step("left", 10), step("right", 100), name="fan"),
                Step(lambda s: s.previous["left"] + s.previous["right"], name="join"),
                Loop(Step(tick, name="tick"), max_iterations=2, name="ticks"),
                Agent(model=FunctionModel(answer), name="agent"),
                Step(slow, name="slow"),
                step("publish", 1000),
            ],
            resume_lease=0.3,
        )
    '''
)

WORKER = textwrap.dedent(
    """
    import asyncio, sys
    from pathlib import Path

    sys.path.insert(0, sys.argv[1])
    from flow import make
    from covey.db.sql import SqlStore


    async def main() -> None:
        async with SqlStore(sys.argv[2]) as store:
            await make(Path(sys.argv[1])).run(1, store=store, run_id=sys.argv[3])


    asyncio.run(main())
    """
)

FINISHED_BEFORE_KILL = ["fetch", "left", "right", "tick0", "tick1", "agent"]


@pytest.fixture(scope="module")
def postgres_cluster() -> Iterator[PostgresCluster]:
    if find_postgres_bin() is None and not os.environ.get("CI"):
        pytest.skip("PostgreSQL server binaries are not installed (make system-deps)")
    with PostgresCluster(settings={"fsync": "off"}) as cluster:
        yield cluster


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'covey.db'}"
    cluster: PostgresCluster = request.getfixturevalue("postgres_cluster")
    return cluster.create_database(f"crash_{uuid.uuid4().hex[:12]}")


def _kill_mid_workflow(folder: Path, url: str, run_id: str) -> None:
    (folder / "flow.py").write_text(FLOW)
    (folder / "worker.py").write_text(WORKER)
    worker = subprocess.Popen(
        [sys.executable, str(folder / "worker.py"), str(folder), url, run_id],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while not (folder / "slow-entered").exists():
            if worker.poll() is not None:
                raise AssertionError(f"the worker ended early: {worker.communicate()}")
            assert time.monotonic() < deadline, "the worker never reached the slow step"
            time.sleep(0.01)
        os.kill(worker.pid, signal.SIGKILL)
    finally:
        worker.wait(timeout=30)
    assert worker.returncode == -signal.SIGKILL


def _counts(folder: Path) -> list[str]:
    return (folder / "counter.txt").read_text().split()


async def test_a_killed_workflow_resumes_where_it_stopped(tmp_path: Path, db_url: str) -> None:
    run_id = uuid.uuid4().hex
    _kill_mid_workflow(tmp_path, db_url, run_id)
    assert sorted(_counts(tmp_path)) == sorted(FINISHED_BEFORE_KILL)  # slow had not finished

    sys.path.insert(0, str(tmp_path))
    try:
        from flow import make  # type: ignore[import-not-found]  # pyright: ignore[reportMissingImports]
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("flow", None)

    async with SqlStore(db_url) as store:
        scope = Scope()
        run = await store.get_run(scope, run_id)
        assert run is not None and run.status is RunStatus.RUNNING  # nobody closed it
        done = (await store.list_runs(scope, parent_run_id=run_id)).items
        assert sorted(r.metadata["step_path"] for r in done if r.status is RunStatus.COMPLETED) == [
            "agent",
            "fan.left",
            "fan.right",
            "fetch",
            "join",
            "ticks[0].tick",
            "ticks[1].tick",
        ]
        await anyio.sleep(0.4)  # the dead worker's lease lapses
        (tmp_path / "go").touch()
        flow = make(tmp_path)  # pyright: ignore[reportUnknownVariableType]
        events = [e async for e in flow.resume_stream(run_id, store=store)]  # pyright: ignore[reportUnknownMemberType,reportUnknownVariableType]
        final = events[-1]  # pyright: ignore[reportUnknownVariableType]
        assert isinstance(final, ev.RunCompleted)
        # 1 → fetch 2 → fan {12, 102} → join 114 → ticks 456 → agent "41" → slow 42 → 1042
        assert final.result.output == 1042
        counts = _counts(tmp_path)
        for name in [*FINISHED_BEFORE_KILL, "slow", "publish"]:
            assert counts.count(name) == 1, (name, counts)
        stored = await store.get_run(scope, run_id)
        assert stored is not None
        assert (stored.status, stored.output) == (RunStatus.COMPLETED, 1042)
        log = await store.list_events(scope, run_id)
        check_invariants(log)
        assert [e.seq for e in log] == list(range(1, len(log) + 1))
        # The dead run was closed as interrupted, its open `slow` step failed, then resumed.
        assert [e.step_path for e in log if isinstance(e, ev.StepFailed)] == ["slow"]
        assert [e.resumed for e in log if isinstance(e, ev.RunStarted)] == [False, True]
        # A second resume finds nothing to do.
        from covey.spec.errors import ConflictError

        with pytest.raises(ConflictError):
            await flow.resume(run_id, store=store)  # pyright: ignore[reportUnknownMemberType]
