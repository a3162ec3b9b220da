"""Two OS processes sharing one SQLite file: memories and the daily cap carry across them."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import anyio

from covey.db.sql import SqlStore
from covey.learn import calls_today
from covey.spec.store import Scope

WORKER = textwrap.dedent(
    """
    import asyncio, json, sys
    from covey.core.testing import FunctionModel
    from covey.db.sql import SqlStore
    from covey.learn import MemoryManager
    from covey.spec import ModelRequest, ModelResponse, TextPart, ToolCallPart, UserPart
    from covey.spec.store import Scope

    url, phase, runs, cap = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])

    def model(messages, info):
        shown = messages[0].parts[1].content
        listing = json.loads(shown.split(":\\n", 1)[1].split("\\n")[0])
        if phase == "teach":
            ops = [{"op": "create", "memory": "The user is allergic to peanuts", "topics": ["food"]},
                   {"op": "create", "memory": "The user works nights", "topics": ["work"]}]
        elif phase == "correct":
            ids = {m["memory"]: m["id"] for m in listing}
            ops = [{"op": "update", "id": ids["The user works nights"],
                    "memory": "The user works days"},
                   {"op": "delete", "id": ids["The user is allergic to peanuts"]}]
        else:
            ops = [{"op": "create", "memory": f"Fact from {phase}", "topics": []}]
        call = ToolCallPart(tool_name=info.output_tools[0].name, args={"operations": ops},
                            tool_call_id="c")
        return ModelResponse(parts=[call])

    async def main():
        async with SqlStore(url) as store:
            manager = MemoryManager(FunctionModel(model), store=store,
                                    max_model_calls_per_user_per_day=cap)
            calls = []
            for i in range(runs):
                exchange = [ModelRequest(parts=[UserPart(content=f"{phase} {i}")]),
                            ModelResponse(parts=[TextPart(content="ok")])]
                update = await manager.update(Scope("acme", "alice"), exchange,
                                              run_id=f"{phase}-{i}")
                calls.append(update.model_calls)
        print(json.dumps(calls))

    asyncio.run(main())
    """
)


def spawn(url: str, phase: str, runs: int = 1, cap: int = 50) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", WORKER, url, phase, str(runs), str(cap)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process: subprocess.Popen[str]) -> list[int]:
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    return json.loads(out.strip().splitlines()[-1])


async def test_memories_made_in_one_process_are_changed_in_another(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/covey.db"
    assert await anyio.to_thread.run_sync(finish, spawn(url, "teach")) == [1]
    assert await anyio.to_thread.run_sync(finish, spawn(url, "correct")) == [1]
    async with SqlStore(url) as store:
        memories = (await store.list_memories(Scope("acme", "alice"))).items
    assert [(m.memory, m.metadata["history"]) for m in memories] == [
        ("The user works days", ["teach-0", "correct-0"])
    ]


async def test_two_processes_racing_share_one_daily_cap(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/covey.db"
    async with SqlStore(url):
        pass  # create the schema once, before the race
    workers = [spawn(url, name, runs=6, cap=5) for name in ("left", "right")]
    results = [await anyio.to_thread.run_sync(finish, w) for w in workers]
    assert sum(map(sum, results)) == 5, results
    async with SqlStore(url) as store:
        assert await calls_today(store, Scope("acme", "alice")) == 5
        memories = (await store.list_memories(Scope("acme", "alice"))).items
    assert len(memories) == 5


# --- through agent runs ---------------------------------------------------------------------------

AGENT_WORKER = textwrap.dedent(
    """
    import asyncio, json, sys
    from covey.core import Agent, wait_for_learning
    from covey.core.testing import FunctionModel
    from covey.db.sql import SqlStore
    from covey.learn import MemoryManager
    from covey.spec import ModelResponse, SystemPart, TextPart, ToolCallPart

    url, cap, inputs = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    memory_calls = []

    def memory_model(messages, info):
        shown = messages[0].parts[1].content
        listing = json.loads(shown.split(":\\n", 1)[1].split("\\n")[0])
        ids = {m["memory"]: m["id"] for m in listing}
        memory_calls.append(len(listing))
        if "I work nights" in shown:
            ops = [{"op": "create", "memory": "The user is allergic to peanuts",
                    "topics": ["food"]},
                   {"op": "create", "memory": "The user works nights", "topics": ["work"]}]
        elif "I work days now" in shown:
            ops = [{"op": "update", "id": ids["The user works nights"],
                    "memory": "The user works days"},
                   {"op": "delete", "id": ids["The user is allergic to peanuts"]}]
        elif "Remember" in shown:
            ops = [{"op": "create", "memory": shown.split("Remember ", 1)[1].split("\\n")[0],
                    "topics": []}]
        else:
            ops = [{"op": "none"}]
        call = ToolCallPart(tool_name=info.output_tools[0].name, args={"operations": ops},
                            tool_call_id="c")
        return ModelResponse(parts=[call])

    def chat(messages, info):
        known = [p.content for m in messages for p in m.parts if isinstance(p, SystemPart)]
        return ModelResponse(parts=[TextPart(content="\\n".join(known) or "nothing known")])

    async def main():
        async with SqlStore(url) as store:
            # The manager has no store of its own: it uses the agent's.
            manager = MemoryManager(FunctionModel(memory_model),
                                    max_model_calls_per_user_per_day=cap)
            agent = Agent(model=FunctionModel(chat), learning=manager, store=store)
            runs = []
            for text in inputs:
                result = await agent.run(text, user_id="alice", tenant_id="acme")
                runs.append({"run_id": result.run_id, "output": result.output})
            await wait_for_learning()
        print(json.dumps({"runs": runs, "memory_calls": len(memory_calls)}))

    asyncio.run(main())
    """
)


def agent_process(url: str, *inputs: str, cap: int = 50) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", AGENT_WORKER, url, str(cap), *inputs],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def agent_finish(process: subprocess.Popen[str]) -> dict[str, Any]:
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    return json.loads(out.strip().splitlines()[-1])


async def test_agent_runs_in_two_processes_create_recall_update_and_delete(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path}/covey.db"
    first = await anyio.to_thread.run_sync(
        agent_finish, agent_process(url, "I am allergic to peanuts and I work nights")
    )
    [taught] = first["runs"]
    async with SqlStore(url) as store:
        made = (await store.list_memories(Scope("acme", "alice"))).items
    assert sorted(m.memory for m in made) == [
        "The user is allergic to peanuts",
        "The user works nights",
    ]
    assert {m.metadata["run_id"] for m in made} == {taught["run_id"]}

    second = await anyio.to_thread.run_sync(
        agent_finish,
        agent_process(url, "What should I cook?", "I work days now; forget the peanuts thing"),
    )
    asked, corrected = second["runs"]
    assert "The user is allergic to peanuts" in asked["output"]  # recalled in another process
    async with SqlStore(url) as store:
        memories = (await store.list_memories(Scope("acme", "alice"))).items
        other = (await store.list_memories(Scope("acme", "bob"))).items
        log = await store.list_events(Scope("acme", "alice"), corrected["run_id"])
    assert [(m.memory, m.metadata["history"]) for m in memories] == [
        ("The user works days", [taught["run_id"], corrected["run_id"]])
    ]
    assert other == []
    changes = [(e.change.action, e.change.content) for e in log if e.type == "learning.changed"]  # type: ignore[attr-defined]
    assert changes == [("updated", "The user works days"), ("deleted", None)]


async def test_agent_runs_racing_in_two_processes_share_one_daily_cap(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/covey.db"
    async with SqlStore(url):
        pass  # create the schema once, before the race
    workers = [
        agent_process(url, *[f"Remember {side} fact {n}" for n in range(6)], cap=5)
        for side in ("left", "right")
    ]
    results = [await anyio.to_thread.run_sync(agent_finish, w) for w in workers]
    assert sum(r["memory_calls"] for r in results) == 5, results
    assert all(len(r["runs"]) == 6 for r in results)  # every run answered, capped or not
    async with SqlStore(url) as store:
        assert await calls_today(store, Scope("acme", "alice")) == 5
        memories = (await store.list_memories(Scope("acme", "alice"))).items
    assert len(memories) == 5
