"""Two OS processes sharing one SQLite file: what a `LearningMachine` learns in one is in the
next's system prompt, and a proposal made in one process is approved and kept in another."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import anyio

from covey.db.sql import SqlStore
from covey.spec.store import Scope

WORKER = textwrap.dedent(
    """
    import asyncio, json, sys
    from covey.core import Agent, wait_for_learning
    from covey.core.testing import FunctionModel
    from covey.db.sql import SqlStore
    from covey.learn import LearningMachine
    from covey.spec import ModelResponse, SystemPart, TextPart, ToolCallPart, UserPart
    from covey.spec import events as ev

    url, phase, extra = sys.argv[1], sys.argv[2], sys.argv[3:]
    systems = []

    def extraction(messages, info):
        text = messages[-1].parts[-1].content
        answer = {}
        if "I live in Lyon" in text:
            answer = {"profile": {"city": "Lyon"},
                      "memory": [{"op": "create", "memory": "The user lives in Lyon."}],
                      "session_context": {"goal": "Plan a weekend"}}
        return ModelResponse(parts=[ToolCallPart(tool_name=info.output_tools[0].name,
                                                 args=answer, tool_call_id="x")])

    def chat(messages, info):
        systems.append("\\n".join(p.content for m in messages for p in m.parts
                                  if isinstance(p, SystemPart)))
        last = messages[-1]
        asked = any(isinstance(p, UserPart) and "moved" in str(p.content) for p in last.parts)
        if asked and info.function_tools:
            return ModelResponse(parts=[ToolCallPart(
                tool_name="update_profile", args={"field": "city", "value": "Nantes"},
                tool_call_id="p1")])
        return ModelResponse(parts=[TextPart(content="ok")])

    async def main():
        async with SqlStore(url) as store:
            proposing = phase in ("propose", "approve")
            machine = LearningMachine(
                FunctionModel(extraction), store=store, session_context="always",
                user_profile="propose" if proposing else "always",
                user_memory=None if proposing else "always")
            agent = Agent(name="assistant", model=FunctionModel(chat), learning=machine,
                          store=store)
            who = dict(user_id="ann", tenant_id="acme")
            out = {}
            if phase == "teach":
                result = await agent.run("I live in Lyon", session_id="s1", **who)
                out["status"] = str(result.status)
            elif phase == "ask":
                await agent.run("Where do I live?", session_id="s1", **who)
                out["system"] = systems[-1]
            elif phase == "propose":
                result = await agent.run("I moved", session_id="s2", **who)
                out = {"status": str(result.status), "run_id": result.run_id,
                       "call": result.requirements[0].tool_call_id}
            else:
                run_id, call, answer = extra
                events = [e async for e in agent.resume_stream(
                    run_id, approvals={call: answer == "yes"}, **who)]
                out["status"] = events[-1].type
            await wait_for_learning()
        print(json.dumps(out))

    asyncio.run(main())
    """
)


async def run_worker(url: str, phase: str, *extra: str) -> dict[str, Any]:
    def go() -> dict[str, Any]:
        done = subprocess.run(
            [sys.executable, "-c", WORKER, url, phase, *extra],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout.strip().splitlines()[-1])

    return await anyio.to_thread.run_sync(go)


async def test_what_one_process_learned_is_known_in_the_next(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/covey.db"
    assert (await run_worker(url, "teach"))["status"] == "completed"
    system = (await run_worker(url, "ask"))["system"]
    for known in ("city: Lyon", "The user lives in Lyon.", "Goal: Plan a weekend"):
        assert known in system


async def test_a_proposal_made_in_one_process_is_approved_in_another(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/covey.db"
    ann = Scope("acme", "ann")
    proposed = await run_worker(url, "propose")
    assert proposed["status"] == "paused"
    async with SqlStore(url) as store:
        assert await store.get_user_profile(ann, "ann") is None
    approved = await run_worker(url, "approve", proposed["run_id"], proposed["call"], "yes")
    assert approved["status"] == "run.completed"
    async with SqlStore(url) as store:
        profile = await store.get_user_profile(ann, "ann")
        assert profile is not None and profile.data == {"city": "Nantes"}
        log = await store.list_events(ann, proposed["run_id"])
    changes = [e.model_dump() for e in log if e.type == "learning.changed"]
    assert [(c["change"]["kind"], c["change"]["content"]) for c in changes] == [
        ("profile", "city: Nantes")
    ]
