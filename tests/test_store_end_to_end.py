"""A real agent on `SqlStore`, then a new Python process on the same database.

The first process runs an agent in a session (with state) and leaves a run paused on a tool
that needs approval. A second process, with a new agent over the same database, sees the
session's history and state, and resumes the paused run to completion. On SQLite (a file) and
on PostgreSQL (a throwaway cluster on loopback).
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import anyio
import pytest

from covey.core import RunStatus
from covey.db.sql import SqlStore
from covey.db.sql.testing import PostgresCluster, find_postgres_bin
from covey.spec import events as ev
from covey.spec.store import Scope

AGENT_MODULE = textwrap.dedent(
    '''
    """The agent both processes build: the same definition, two separate objects."""

    from pathlib import Path

    from covey.core import Agent
    from covey.core.testing import AgentInfo, FunctionModel
    from covey.db.sql import SqlStore
    from covey.spec import ModelRequest, ModelResponse, TextPart, ToolCallPart, ToolReturnPart
    from covey.spec import UserPart, tool

    MARKER = Path(__file__).with_name("deleted.txt")


    @tool(requires_approval=True)
    def delete_file(path: str) -> str:
        """Delete a file."""
        MARKER.write_text(f"{path} deleted by pid {__import__('os').getpid()}")
        return f"deleted {path}"


    def model(messages: list[ModelRequest | ModelResponse], info: AgentInfo) -> ModelResponse:
        last = messages[-1]
        returns = [p for p in last.parts if isinstance(p, ToolReturnPart)]
        if returns:
            return ModelResponse(parts=[TextPart(content=str(returns[0].content))])
        users = [
            str(p.content)
            for m in messages
            if isinstance(m, ModelRequest)
            for p in m.parts
            if isinstance(p, UserPart)
        ]
        if users[-1].startswith("delete"):
            return ModelResponse(
                parts=[
                    ToolCallPart(
                        tool_name="delete_file", args={"path": "/tmp/x"}, tool_call_id="call-1"
                    )
                ]
            )
        return ModelResponse(parts=[TextPart(content=" | ".join(users))])


    def make_agent(url: str) -> Agent:
        return Agent(
            model=FunctionModel(model), tools=[delete_file], store=SqlStore(url), name="files"
        )
    '''
)

SECOND_PROCESS = textwrap.dedent(
    """
    import asyncio, json, os, sys

    sys.path.insert(0, sys.argv[1])
    from agent_def import make_agent
    from covey.spec.store import Scope

    url, paused_run_id = sys.argv[2], sys.argv[3]

    async def main():
        agent = make_agent(url)
        try:
            second = await agent.run("second", session_id="s1", user_id="u1")
            session = await agent.store.get_session(Scope(user_id="u1"), "s1")
            resumed = await agent.resume(paused_run_id, approvals={"call-1": True}, user_id="u1")
        finally:
            await agent.store.close()
        print(json.dumps({
            "pid": os.getpid(),
            "second": [second.status.value, second.output],
            "state": session.state,
            "resumed": [resumed.status.value, resumed.output, resumed.run_id],
        }))

    asyncio.run(main())
    """
)


@pytest.fixture(scope="module")
def postgres_cluster() -> Iterator[PostgresCluster]:
    if find_postgres_bin() is None and not os.environ.get("CI"):
        pytest.skip("PostgreSQL server binaries are not installed: run `make system-deps`")
    with PostgresCluster(settings={"fsync": "off"}) as cluster:
        yield cluster


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/x.db"
    cluster: PostgresCluster = request.getfixturevalue("postgres_cluster")
    return cluster.create_database(f"e2e_{uuid.uuid4().hex[:12]}")


def _load_agent_module(folder: Path) -> ModuleType:
    path = folder / "agent_def.py"
    path.write_text(AGENT_MODULE)
    spec = importlib.util.spec_from_file_location(f"agent_def_{uuid.uuid4().hex}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def test_history_state_and_a_paused_run_survive_into_a_new_process(
    database_url: str, tmp_path: Path
) -> None:
    definitions = _load_agent_module(tmp_path)
    agent = definitions.make_agent(database_url)
    try:
        first = await agent.run("first", session_id="s1", user_id="u1", state={"theme": "dark"})
        assert (first.status, first.output) == (RunStatus.COMPLETED, "first")
        paused = await agent.run("delete it", session_id="s1", user_id="u1")
        assert paused.status is RunStatus.PAUSED
        assert [r.tool_call_id for r in paused.requirements] == ["call-1"]
    finally:
        await agent.store.close()
    marker = tmp_path / "deleted.txt"
    assert not marker.exists()

    script = tmp_path / "second_process.py"
    script.write_text(SECOND_PROCESS)
    with anyio.fail_after(180):
        done = await anyio.run_process(
            [sys.executable, str(script), str(tmp_path), database_url, paused.run_id],
            check=False,
        )
    assert done.returncode == 0, done.stderr.decode()
    child = json.loads(done.stdout.decode().strip().splitlines()[-1])

    assert child["pid"] != os.getpid()
    assert child["second"] == ["completed", "first | second"]  # history came from the database
    assert child["state"] == {"theme": "dark"}
    assert child["resumed"] == ["completed", "deleted /tmp/x", paused.run_id]
    assert marker.read_text() == f"/tmp/x deleted by pid {child['pid']}"

    async with SqlStore(database_url) as store:
        scope = Scope(user_id="u1")
        runs = (await store.list_runs(scope, session_id="s1")).items
        assert [(r.id, r.status) for r in runs] == [
            (first.run_id, RunStatus.COMPLETED),
            (paused.run_id, RunStatus.COMPLETED),
            (runs[2].id, RunStatus.COMPLETED),
        ]
        log = await store.list_events(scope, paused.run_id)
        seqs = [e.seq for e in log]
        assert seqs == list(range(1, len(seqs) + 1))
        assert isinstance(log[-1], ev.RunCompleted)
        assert any(isinstance(e, ev.RunPaused) for e in log)
        assert sum(isinstance(e, ev.RunStarted) for e in log) == 2  # started, then resumed
