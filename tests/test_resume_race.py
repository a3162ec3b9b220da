"""Two Python processes resume one paused run at the same moment, on one SQLite file.

Both read the run while it is paused (a file barrier holds each until the other has read it),
then both try to claim it. Exactly one runs it; the other gets `ConflictError` before running
anything, so the approved tool runs once.
"""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import anyio

from covey.core import Agent, RunStatus
from covey.core.testing import AgentInfo, FunctionModel
from covey.db.sql import SqlStore
from covey.spec import ModelRequest, ModelResponse, TextPart, ToolCallPart, ToolReturnPart, tool
from covey.spec.store import Scope

RESUMER = textwrap.dedent(
    '''
    """One of the two resuming processes: `resumer.py FOLDER URL RUN_ID NAME`."""

    import asyncio, json, os, sys
    from pathlib import Path

    from covey.core import Agent
    from covey.core.testing import FunctionModel
    from covey.db.sql import SqlStore
    from covey.spec import ModelResponse, TextPart, ToolReturnPart, tool
    from covey.spec.errors import ConflictError

    folder, url, run_id, name = Path(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]


    class BarrierStore(SqlStore):
        """Reads the run, then waits until the other process has read it too."""

        async def get_run(self, scope, run_id):
            run = await super().get_run(scope, run_id)
            (folder / f"read-{name}").touch()
            for _ in range(6000):
                if len(list(folder.glob("read-*"))) == 2:
                    return run
                await asyncio.sleep(0.01)
            raise TimeoutError("the other process never read the run")


    @tool(requires_approval=True)
    def pay(amount: int) -> str:
        """Pay."""
        with open(folder / "payments.txt", "a") as out:
            out.write(f"{amount} paid by {os.getpid()}\\n")
        return "paid"


    def model(messages, info):
        returns = [p for p in messages[-1].parts if isinstance(p, ToolReturnPart)]
        return ModelResponse(parts=[TextPart(content=f"done: {returns[0].content}")])


    async def main():
        store = BarrierStore(url)
        agent = Agent(model=FunctionModel(model), tools=[pay], store=store, name="payer")
        try:
            result = await agent.resume(run_id, approvals={"p1": True}, user_id="u")
            outcome = {"status": result.status.value, "output": result.output}
        except ConflictError as exc:
            outcome = {"error": type(exc).__name__, "message": str(exc)}
        finally:
            await store.close()
        print(json.dumps({"pid": os.getpid(), **outcome}))


    asyncio.run(main())
    '''
)


@tool(requires_approval=True)
def pay(amount: int) -> str:
    """Pay."""
    raise AssertionError("the first process only pauses")


def first_model(messages: list[ModelRequest | ModelResponse], info: AgentInfo) -> ModelResponse:
    if any(isinstance(p, ToolReturnPart) for p in messages[-1].parts):
        return ModelResponse(parts=[TextPart(content="unexpected")])
    return ModelResponse(
        parts=[ToolCallPart(tool_name="pay", args={"amount": 5}, tool_call_id="p1")]
    )


async def test_two_processes_resuming_one_run_run_it_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/race.db"
    async with SqlStore(url) as store:
        agent = Agent(model=FunctionModel(first_model), tools=[pay], store=store, name="payer")
        paused = await agent.run("pay 5", user_id="u")
    assert paused.status is RunStatus.PAUSED

    script = tmp_path / "resumer.py"
    script.write_text(RESUMER)
    outcomes: dict[str, dict[str, str]] = {}

    async def resume(name: str) -> None:
        done = await anyio.run_process(
            [sys.executable, str(script), str(tmp_path), url, paused.run_id, name], check=False
        )
        assert done.returncode == 0, done.stderr.decode()
        outcomes[name] = json.loads(done.stdout.decode().strip().splitlines()[-1])

    with anyio.fail_after(120):
        async with anyio.create_task_group() as tg:
            tg.start_soon(resume, "a")
            tg.start_soon(resume, "b")

    completed = [o for o in outcomes.values() if o.get("status") == "completed"]
    refused = [o for o in outcomes.values() if o.get("error") == "ConflictError"]
    assert len(completed) == 1 and len(refused) == 1, outcomes
    assert completed[0]["output"] == "done: paid"
    assert "resumed or cancelled by another caller" in refused[0]["message"]
    payments = (tmp_path / "payments.txt").read_text().splitlines()
    assert payments == [f"5 paid by {completed[0]['pid']}"]

    async with SqlStore(url) as store:
        scope = Scope(user_id="u")
        run = await store.get_run(scope, paused.run_id)
        assert run is not None and run.status is RunStatus.COMPLETED
        log = await store.list_events(scope, paused.run_id)
        assert [e.seq for e in log] == list(range(1, len(log) + 1))
        assert [e.type for e in log].count("run.started") == 2
        assert log[-1].type == "run.completed"
