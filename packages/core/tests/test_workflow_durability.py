"""Durable workflows: pause for a human (a step's confirmation or input, an agent's tool
approval) and resume — also from a new workflow object and store on the same SQLite file —,
resume after a crash from the first unfinished step, and cancel."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from core_helpers import call, check_invariants, collect, last_request, text

from covey.core import Agent, Loop, Parallel, RunStatus, Step, StepInput, Workflow
from covey.core.testing import AgentInfo, FunctionModel
from covey.db.sql import SqlStore
from covey.spec import ModelRequest, ModelResponse, ToolReturnPart, tool
from covey.spec import events as ev
from covey.spec.errors import ConfigurationError, ConflictError, NotFoundError
from covey.spec.store import Scope, Store
from covey.testing import InMemoryStore


@pytest.fixture
async def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'covey.db'}"


class Counter:
    """How many times each step ran (its side effect)."""

    def __init__(self) -> None:
        self.runs: dict[str, int] = {}

    def hit(self, name: str) -> None:
        self.runs[name] = self.runs.get(name, 0) + 1


def deploy_flow(counter: Counter, **options: Any) -> Workflow:
    def build(step: StepInput[str]) -> str:
        counter.hit("build")
        return f"build of {step.previous}"

    def approve(step: StepInput[str]) -> str:
        counter.hit("approve")
        if not step.confirm(f"Deploy {step.previous}?"):
            return "rejected"
        return f"approved {step.previous}"

    def deploy(step: StepInput[str]) -> str:
        counter.hit("deploy")
        return f"deployed ({step.previous})"

    return Workflow(name="deploy", steps=[build, approve, deploy], **options)


# --- a step asks for confirmation -----------------------------------------------------------------


async def test_a_step_pauses_for_confirmation_and_resumes_without_a_store() -> None:
    counter = Counter()
    flow = deploy_flow(counter)
    events = await collect(flow.run_stream("v1"))
    paused = events[-1]
    assert isinstance(paused, ev.RunPaused)
    [requirement] = paused.result.requirements
    assert (requirement.tool_call_id, requirement.kind, requirement.tool_name) == (
        "approve:1",
        "approval",
        "approve",
    )
    assert requirement.description == "Deploy build of v1?"
    step_paused = next(e for e in events if isinstance(e, ev.StepPaused))
    assert (step_paused.step_path, step_paused.requirements) == ("approve", [requirement])

    with pytest.raises(ConfigurationError, match="approve:1"):
        await flow.resume(paused.run_id)
    resumed = await collect(flow.resume_stream(paused.run_id, approvals={"approve:1": True}))
    final = resumed[-1]
    assert isinstance(final, ev.RunCompleted)
    assert final.result.output == "deployed (approved build of v1)"
    assert isinstance(resumed[0], ev.RunStarted) and resumed[0].resumed
    assert resumed[0].seq == paused.seq + 1  # the log goes on without a gap
    # build ran once; approve asked, then ran again with the answer; deploy once.
    assert counter.runs == {"build": 1, "approve": 2, "deploy": 1}
    with pytest.raises(NotFoundError):
        await flow.resume(paused.run_id, approvals={"approve:1": True})


async def test_a_rejection_is_the_steps_to_handle() -> None:
    counter = Counter()
    flow = deploy_flow(counter)
    paused = await flow.run("v2")
    result = await flow.resume(paused.run_id, approvals={"approve:1": {"approved": False}})
    assert result.output == "deployed (rejected)"


async def test_resume_from_a_new_workflow_and_store_on_the_same_sqlite_file(
    sqlite_url: str,
) -> None:
    counter = Counter()
    async with SqlStore(sqlite_url) as store:
        paused = await deploy_flow(counter).run("v3", store=store, user_id="ann")
        assert paused.status is RunStatus.PAUSED
        scope = Scope(user_id="ann")
        stored = await store.get_run(scope, paused.run_id)
        assert stored is not None and stored.status is RunStatus.PAUSED
        steps = (await store.list_runs(scope, parent_run_id=paused.run_id)).items
        assert [(s.metadata["step_path"], s.output) for s in steps] == [("build", "build of v3")]
    # Another "process": a new definition and a new store on the same file.
    other = Counter()
    async with SqlStore(sqlite_url) as store:
        flow = deploy_flow(other, store=store)
        result = await flow.resume(paused.run_id, approvals={"approve:1": True}, user_id="ann")
        assert result.status is RunStatus.COMPLETED
        assert result.output == "deployed (approved build of v3)"
        assert other.runs == {"approve": 1, "deploy": 1}  # build was not run again
        with pytest.raises(ConflictError, match="completed"):
            await flow.resume(paused.run_id, approvals={"approve:1": True}, user_id="ann")
        log = await store.list_events(Scope(user_id="ann"), paused.run_id)
        check_invariants(log)
        assert [e.seq for e in log] == list(range(1, len(log) + 1))


async def test_a_step_asks_for_input() -> None:
    def greet(step: StepInput[Any]) -> str:
        answer = step.ask(["name", "title"], "Who is this for?")
        return f"Dear {answer['title']} {answer['name']}"

    flow = Workflow(name="letter", steps=[greet])
    paused = await flow.run(None)
    [requirement] = paused.requirements
    assert (requirement.kind, requirement.input_fields) == ("input", ["name", "title"])
    result = await flow.resume(
        paused.run_id, inputs={requirement.tool_call_id: {"name": "Ada", "title": "Dr"}}
    )
    assert result.output == "Dear Dr Ada"


# --- an agent step pauses for a tool approval ----------------------------------------------------

payments: list[int] = []


@tool(requires_approval=True)
def pay(amount: int) -> str:
    """Pay an amount."""
    payments.append(amount)
    return f"paid {amount}"


def paying(messages: list[ModelRequest | ModelResponse], info: AgentInfo) -> ModelResponse:
    returns = [p for p in last_request(messages).parts if isinstance(p, ToolReturnPart)]
    if not returns:
        return ModelResponse(parts=[call("pay", {"amount": 30}, "pay-1")])
    return text(f"done: {returns[0].content}")


async def test_an_agent_step_waiting_for_approval_pauses_the_workflow() -> None:
    payments.clear()
    store = InMemoryStore()
    counter = Counter()

    def prepare(step: StepInput[Any]) -> str:
        counter.hit("prepare")
        return "pay the invoice"

    def receipt(step: StepInput[str]) -> str:
        counter.hit("receipt")
        return f"receipt: {step.previous}"

    cashier = Agent(model=FunctionModel(paying), tools=[pay], name="cashier")
    flow = Workflow(name="billing", steps=[prepare, cashier, receipt])
    events = await collect(flow.run_stream(None, store=store))
    paused = events[-1]
    assert isinstance(paused, ev.RunPaused)
    assert [(r.tool_call_id, r.tool_name) for r in paused.result.requirements] == [("pay-1", "pay")]
    child = next(e for e in events if isinstance(e, ev.RunPaused) and e.run_id != paused.run_id)
    assert child.parent_run_id == paused.run_id
    assert payments == []

    # A new workflow object, same store: the agent's paused run resumes with the approval.
    again = Workflow(name="billing", steps=[prepare, cashier, receipt], store=store)
    resumed = await collect(again.resume_stream(paused.run_id, approvals={"pay-1": True}))
    final = resumed[-1]
    assert isinstance(final, ev.RunCompleted)
    assert final.result.output == "receipt: done: paid 30"
    assert payments == [30]
    assert counter.runs == {"prepare": 1, "receipt": 1}
    child_resumed = next(
        e for e in resumed if isinstance(e, ev.RunStarted) and e.run_id == child.run_id
    )
    assert child_resumed.resumed
    stored_child = await store.get_run(Scope(), child.run_id)
    assert stored_child is not None and stored_child.status is RunStatus.COMPLETED


async def test_paused_parallel_branches_wait_for_all_their_answers() -> None:
    def ask(name: str) -> Step:
        def asking(step: StepInput[Any]) -> str:
            return name if step.confirm(f"{name}?") else f"no {name}"

        return Step(asking, name=name)

    flow = Workflow(name="two", steps=[Parallel(ask("left"), ask("right"), name="both")])
    paused = await flow.run(None, store=InMemoryStore())
    assert sorted(r.tool_call_id for r in paused.requirements) == ["both.left:1", "both.right:1"]


async def test_parallel_pauses_resume_together() -> None:
    store = InMemoryStore()

    def ask(name: str) -> Step:
        def asking(step: StepInput[Any]) -> str:
            return name if step.confirm(f"{name}?") else f"no {name}"

        return Step(asking, name=name)

    flow = Workflow(
        name="two", steps=[Parallel(ask("left"), ask("right"), name="both")], store=store
    )
    paused = await flow.run(None)
    result = await flow.resume(
        paused.run_id, approvals={"both.left:1": True, "both.right:1": False}
    )
    assert result.output == {"left": "left", "right": "no right"}


# --- crashes -------------------------------------------------------------------------------------


class Crash(BaseException):
    """Stands in for the process dying: nothing after it runs, nothing is closed."""


async def test_an_interrupted_run_resumes_from_its_first_unfinished_step(sqlite_url: str) -> None:
    counter = Counter()
    crash = {"at": 1}

    def make() -> Workflow:
        def work(step: StepInput[int]) -> int:
            counter.hit(f"work{step.iteration}")
            if step.iteration == crash["at"]:
                crash["at"] = -1
                raise Crash
            step.state["seen"] = [*step.state.get("seen", []), step.iteration]
            return step.previous + 1

        return Workflow(
            name="counting",
            steps=[
                Step(lambda s: counter.hit("first") or s.previous, name="first"),
                Loop(Step(work, name="work"), max_iterations=3, name="loop"),
                Step(lambda s: (s.previous, s.state["seen"]), name="last"),
            ],
            resume_lease=0.0,
        )

    async with SqlStore(sqlite_url) as store:
        with pytest.raises(Crash):
            await make().run(10, store=store)
        [run] = (await store.list_runs(Scope(), status=RunStatus.RUNNING)).items
        assert run.agent_id == "counting"
        result = await make().resume(run.id, store=store)
        assert result.status is RunStatus.COMPLETED
        assert result.output == (13, [0, 1, 2])
        # first and iteration 0 finished before the crash: not run again; iteration 1 ran
        # twice (it crashed the first time), 2 once.
        assert counter.runs == {"first": 1, "work0": 1, "work1": 2, "work2": 1}
        log = await store.list_events(Scope(), run.id)
        check_invariants(log)
        types = [e.type for e in log]
        # The dead run's log was closed (its open steps failed, run.failed), then resumed.
        assert types.count("run.started") == 2 and types[-1] == "run.completed"
        failed = [e.step_path for e in log if isinstance(e, ev.StepFailed)]
        assert failed == ["loop[1].work", "loop"]


async def test_a_running_run_with_a_live_lease_is_not_taken_over(sqlite_url: str) -> None:
    def crash(step: StepInput[Any]) -> None:
        raise Crash

    async with SqlStore(sqlite_url) as store:
        flow = Workflow(name="alive", steps=[crash], store=store)  # 15 s lease
        with pytest.raises(Crash):
            await flow.run(None)
        [run] = (await store.list_runs(Scope(), status=RunStatus.RUNNING)).items
        with pytest.raises(ConflictError, match="lease"):
            await flow.resume(run.id)
        with pytest.raises(NotFoundError):
            await Workflow(name="other", steps=[crash], store=store).resume(run.id)


# --- cancel --------------------------------------------------------------------------------------


async def test_cancel_stops_the_step_in_flight_and_closes_every_event() -> None:
    store = InMemoryStore()
    entered = anyio.Event()
    quick_done = anyio.Event()
    after: list[str] = []

    async def wait_forever(step: StepInput[Any]) -> None:
        await quick_done.wait()
        entered.set()
        await anyio.sleep_forever()

    async def quick() -> None:
        after.append("quick")
        quick_done.set()

    flow = Workflow(
        name="slow",
        steps=[
            Parallel(wait_forever, quick, name="p"),
            Step(lambda: after.append("x"), name="next"),
        ],
        store=store,
    )
    events: list[ev.BaseEvent] = []

    async def consume() -> None:
        async for event in flow.run_stream(None, run_id="r1"):
            events.append(event)

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(consume)
        await entered.wait()
        assert await flow.cancel("r1")
    check_invariants(events)
    final = events[-1]
    assert isinstance(final, ev.RunCancelled)
    assert [e.step_path for e in events if isinstance(e, ev.StepCancelled)] == [
        "p.wait_forever",
        "p",
    ]
    assert after == ["quick"]
    stored = await store.get_run(Scope(), "r1")
    assert stored is not None and stored.status is RunStatus.CANCELLED


async def test_cancel_reaches_a_running_agent_step() -> None:
    entered = anyio.Event()

    async def slow_tool() -> str:
        """Take a while."""
        entered.set()
        await anyio.sleep_forever()
        return "never"

    def model(messages: list[ModelRequest | ModelResponse], info: AgentInfo) -> ModelResponse:
        return ModelResponse(parts=[call("slow_tool", {})])

    agent = Agent(model=FunctionModel(model), tools=[slow_tool], name="slow")
    flow = Workflow(name="wrapper", steps=[agent])
    events: list[ev.BaseEvent] = []

    async def consume() -> None:
        async for event in flow.run_stream(None, run_id="w1"):
            events.append(event)

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(consume)
        await entered.wait()
        await flow.cancel("w1")
    check_invariants(events)
    finals = [(e.agent_name, e.type) for e in events if isinstance(e, ev.RunCancelled)]
    assert finals == [("slow", "run.cancelled"), ("wrapper", "run.cancelled")]
    assert any(isinstance(e, ev.ToolCallCancelled) for e in events)


async def test_cancelling_the_callers_task_closes_the_stored_run() -> None:
    store = InMemoryStore()
    entered = anyio.Event()

    async def block(step: StepInput[Any]) -> None:
        entered.set()
        await anyio.sleep_forever()

    flow = Workflow(name="blocked", steps=[block], store=store)
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(_drain, flow.run_stream(None, run_id="t1"))
        await entered.wait()
        tasks.cancel_scope.cancel()
    stored = await store.get_run(Scope(), "t1")
    assert stored is not None and stored.status is RunStatus.CANCELLED
    log = await store.list_events(Scope(), "t1")
    check_invariants(log)
    assert [e.type for e in log][-2:] == ["step.cancelled", "run.cancelled"]


async def _drain(stream: AsyncIterator[ev.BaseEvent]) -> None:
    async for _ in stream:
        pass


async def test_cancelling_a_paused_run_ends_it_and_its_paused_step_run() -> None:
    payments.clear()
    store: Store = InMemoryStore()
    cashier = Agent(model=FunctionModel(paying), tools=[pay], name="cashier")
    flow = Workflow(name="billing", steps=[cashier], store=store)
    paused = await flow.run("pay the invoice")
    [child] = (await store.list_runs(Scope(), parent_run_id=paused.run_id)).items
    assert child.status is RunStatus.PAUSED
    assert await flow.cancel(paused.run_id)
    run = await store.get_run(Scope(), paused.run_id)
    assert run is not None and run.status is RunStatus.CANCELLED
    child_now = await store.get_run(Scope(), child.id)
    assert child_now is not None and child_now.status is RunStatus.CANCELLED
    with pytest.raises(ConflictError):
        await flow.resume(paused.run_id, approvals={"pay-1": True})
    assert payments == []


async def test_a_cancel_asked_for_through_the_store_stops_the_run_at_its_next_step() -> None:
    store = InMemoryStore()

    async def ask_to_cancel(step: StepInput[Any]) -> str:
        await store.request_cancel(Scope(), step.ctx.run_id)  # as another process would
        return "first"

    ran: list[str] = []
    flow = Workflow(
        name="remote", steps=[ask_to_cancel, Step(lambda: ran.append("x"), name="second")]
    )
    result = await flow.run(None, store=store)
    assert result.status is RunStatus.CANCELLED
    assert ran == []


async def test_each_finished_step_is_stored_before_the_next_starts() -> None:
    store = InMemoryStore()
    seen: list[list[tuple[str, RunStatus]]] = []

    async def look(step: StepInput[Any]) -> int:
        children = (await store.list_runs(Scope(), parent_run_id=step.ctx.run_id)).items
        seen.append([(c.metadata["step_path"], c.status) for c in children])
        return len(seen)

    flow = Workflow(
        name="ordered",
        steps=[Step(look, name="one"), Step(look, name="two"), Step(look, name="three")],
    )
    await flow.run(None, store=store)
    assert seen == [
        [],
        [("one", RunStatus.COMPLETED)],
        [("one", RunStatus.COMPLETED), ("two", RunStatus.COMPLETED)],
    ]


async def test_an_agent_step_paused_without_a_store_resumes_in_the_same_process() -> None:
    payments.clear()
    cashier = Agent(model=FunctionModel(paying), tools=[pay], name="cashier")
    flow = Workflow(
        name="billing",
        steps=[Loop(Step(cashier, input="pay {previous}"), max_iterations=1, name="rounds")],
    )
    paused = await flow.run("the bill")
    assert paused.status is RunStatus.PAUSED
    result = await flow.resume(paused.run_id, approvals={"pay-1": True})
    assert result.output == "done: paid 30"
    assert payments == [30]
