"""Workflows: each construct, typed step input and output, outputs by name, shared state,
child runs of agent steps, the events of a run, names, and the Mermaid drawing."""

from __future__ import annotations

from typing import Any

import anyio
import anyio.lowlevel
import pytest
from core_helpers import collect
from pydantic import BaseModel
from workflow_helpers import echo_agent

from covey.core import (
    Agent,
    Condition,
    Loop,
    Parallel,
    Router,
    RunStatus,
    Step,
    StepInput,
    Steps,
    Workflow,
)
from covey.core.testing import AgentInfo, FunctionModel, TestModel
from covey.spec import ModelRequest, ModelResponse
from covey.spec import events as ev
from covey.spec.errors import ConfigurationError
from covey.spec.store import Scope
from covey.testing import InMemoryStore


def steps_of(events: list[ev.BaseEvent], run_id: str) -> list[tuple[str, str]]:
    return [
        (e.type, e.step_path)
        for e in events
        if isinstance(e, ev.StepStarted | ev.StepCompleted | ev.StepSkipped) and e.run_id == run_id
    ]


# --- functions, outputs, typed input and output ---------------------------------------------------


async def test_function_steps_chain_outputs_and_see_every_earlier_output_by_name() -> None:
    seen: dict[str, Any] = {}

    def parse(step: StepInput[str]) -> list[str]:
        return step.previous.split(",")

    async def count(step: StepInput[list[str]]) -> int:
        await anyio.lowlevel.checkpoint()
        return len(step.previous)

    def report(step: StepInput[int]) -> str:
        seen.update(input=step.input, outputs=dict(step.outputs), path=step.step_path)
        return f"{step.outputs['parse']} has {step.previous} items"

    flow = Workflow(name="count", steps=[parse, count, report])
    result = await flow.run("a,b,c")
    assert result.status is RunStatus.COMPLETED
    assert result.output == "['a', 'b', 'c'] has 3 items"
    assert seen == {
        "input": "a,b,c",
        "outputs": {"parse": ["a", "b", "c"], "count": 3},
        "path": "report",
    }


class Order(BaseModel):
    item: str
    quantity: int


class Invoice(BaseModel):
    item: str
    total: float


async def test_typed_steps_validate_their_input_and_output_models() -> None:
    def price(order: Order) -> Invoice:  # the previous output, validated as an Order
        return Invoice(item=order.item, total=order.quantity * 2.5)

    def discount(invoice: Invoice) -> Invoice:
        return {"item": invoice.item, "total": invoice.total * 0.9}  # type: ignore[return-value]

    flow = Workflow(name="billing", steps=[price, discount])
    result = await flow.run({"item": "tea", "quantity": 4})
    assert result.output == Invoice(item="tea", total=9.0)  # the dict became an Invoice

    failed = await flow.run({"item": "tea", "quantity": "many"})
    assert failed.status is RunStatus.FAILED
    assert failed.error is not None and failed.error.type == "ValidationError"


async def test_an_agent_with_an_output_type_hands_a_model_to_the_next_step() -> None:
    agent = Agent(model=TestModel(), output_type=Invoice, name="invoicer")
    got: list[Any] = []

    def check(invoice: Invoice) -> str:
        got.append(invoice)
        return invoice.item

    result = await Workflow(name="typed", steps=[agent, check]).run("bill it")
    assert result.status is RunStatus.COMPLETED
    assert isinstance(got[0], Invoice)
    assert result.output == got[0].item


# --- agent steps: child runs ---------------------------------------------------------------------


async def test_agent_steps_are_child_runs_whose_events_stream_in_order() -> None:
    store = InMemoryStore()
    flow = Workflow(
        name="pipeline",
        steps=[
            echo_agent("draft", "draft of "),
            Step(echo_agent("review", "review of "), input="Check this: {previous}"),
            lambda_step := Step(lambda s: s.outputs["draft"].upper(), name="shout"),
        ],
    )
    assert lambda_step.name == "shout"
    events = await collect(flow.run_stream("the plan", store=store, user_id="u"))
    final = events[-1]
    assert isinstance(final, ev.RunCompleted)
    run_id = final.run_id
    assert final.result.output == "DRAFT OF THE PLAN"
    children = (await store.list_runs(Scope(user_id="u"), parent_run_id=run_id)).items
    assert [(c.agent_id, c.metadata["step_path"], c.status) for c in children] == [
        ("draft", "draft", RunStatus.COMPLETED),
        ("review", "review", RunStatus.COMPLETED),
        ("shout", "shout", RunStatus.COMPLETED),
    ]
    assert [c.output for c in children] == [
        "draft of the plan",
        "review of Check this: draft of the plan",
        "DRAFT OF THE PLAN",
    ]
    # Each agent step's events sit between its step.started and step.completed, carry the
    # child's run id and the workflow run as parent; the started event names the child run.
    draft_started = next(
        e for e in events if isinstance(e, ev.StepStarted) and e.step_name == "draft"
    )
    assert draft_started.step_run_id == children[0].id
    child_events = [e for e in events if e.run_id == children[0].id]
    assert {e.parent_run_id for e in child_events} == {run_id}
    first, last = events.index(child_events[0]), events.index(child_events[-1])
    assert events.index(draft_started) < first < last
    assert isinstance(events[last + 1], ev.StepCompleted)
    assert isinstance(child_events[-1], ev.RunCompleted)
    stored = await store.get_run(Scope(user_id="u"), run_id)
    assert stored is not None
    assert (stored.agent_id, stored.status, stored.output) == (
        "pipeline",
        RunStatus.COMPLETED,
        "DRAFT OF THE PLAN",
    )
    # The stored log of the workflow run is what was streamed for it.
    logged = await store.list_events(Scope(user_id="u"), run_id)
    assert [e.type for e in logged] == [e.type for e in events if e.run_id == run_id]


async def test_usage_of_agent_steps_adds_up_on_the_workflow_result() -> None:
    flow = Workflow(name="two", steps=[echo_agent("a", "1"), echo_agent("b", "2")])
    result = await flow.run("x")
    assert result.usage.requests == 2


async def test_a_nested_workflow_runs_as_a_child_run() -> None:
    inner = Workflow(name="inner", steps=[Step(lambda s: s.previous + 1, name="plus")])
    outer = Workflow(name="outer", steps=[Step(lambda s: s.previous * 10, name="times"), inner])
    events = await collect(outer.run_stream(1))
    final = events[-1]
    assert isinstance(final, ev.RunCompleted)
    assert final.result.output == 11
    inner_final = next(
        e for e in events if isinstance(e, ev.RunCompleted) and e.agent_name == "inner"
    )
    assert inner_final.parent_run_id == final.run_id


# --- constructs ----------------------------------------------------------------------------------


async def test_parallel_runs_branches_at_once_and_outputs_each_by_name() -> None:
    b_started = anyio.Event()

    async def a(step: StepInput[int]) -> int:
        with anyio.fail_after(5):
            await b_started.wait()  # only returns if b runs while a waits
        return step.previous + 1

    async def b(step: StepInput[int]) -> int:
        b_started.set()
        return step.previous * 2

    flow = Workflow(
        name="fan",
        steps=[
            Parallel(a, b, echo_agent("c", "c:"), name="both"),
            lambda_sum := Step(lambda s: s.previous["a"] + s.previous["b"], name="sum"),
        ],
    )
    assert lambda_sum.name == "sum"
    events = await collect(flow.run_stream(5))
    result = events[-1]
    assert isinstance(result, ev.RunCompleted)
    assert result.result.output == 16
    completed = next(e for e in events if isinstance(e, ev.StepCompleted) and e.step_path == "both")
    assert completed.output == {"a": 6, "b": 10, "c": "c:5"}
    paths = {p for _, p in steps_of(events, result.run_id)}
    assert {"both.a", "both.b", "both.c"} <= paths


async def test_a_failing_branch_fails_the_group_after_the_others_finish() -> None:
    finished: list[str] = []

    async def slow() -> str:
        await anyio.sleep(0.01)
        finished.append("slow")
        return "ok"

    def broken() -> str:
        raise ValueError("no data")

    after: list[str] = []
    flow = Workflow(
        name="fan",
        steps=[Parallel(slow, broken, name="group"), Step(lambda: after.append("x"), name="after")],
    )
    events = await collect(flow.run_stream(None))
    final = events[-1]
    assert isinstance(final, ev.RunFailed)
    assert final.result.error is not None and final.result.error.message == "no data"
    assert finished == ["slow"] and after == []
    failed = [(e.step_path, e.error.message) for e in events if isinstance(e, ev.StepFailed)]
    assert failed == [("group.broken", "no data"), ("group", "no data")]


async def test_condition_runs_or_skips_its_steps() -> None:
    flow = Workflow(
        name="maybe",
        steps=[
            Condition(
                lambda s: s.previous > 10,
                [Step(lambda s: s.previous - 10, name="cut")],
                name="big",
            ),
            Step(lambda s: f"value {s.previous}", name="show"),
        ],
    )
    big = await collect(flow.run_stream(15))
    assert big[-1].result.output == "value 5"  # type: ignore[attr-defined]
    assert ("step.completed", "big.cut") in steps_of(big, big[-1].run_id)
    small = await collect(flow.run_stream(3))
    assert small[-1].result.output == "value 3"  # type: ignore[attr-defined]
    sequence = steps_of(small, small[-1].run_id)
    assert sequence[:2] == [("step.started", "big"), ("step.skipped", "big")]
    assert all(p != "big.cut" for _, p in sequence)


async def test_async_predicates_decide_too() -> None:
    async def never(step: StepInput[Any]) -> bool:
        return False

    flow = Workflow(name="gate", steps=[Condition(never, Step(lambda: 1, name="one"))])
    assert (await flow.run("in")).output == "in"


async def test_loop_repeats_until_its_test_holds_with_a_path_per_iteration() -> None:
    tested: list[tuple[int | None, int]] = []

    def enough(step: StepInput[int]) -> bool:
        tested.append((step.iteration, step.previous))
        return step.previous >= 4

    flow = Workflow(
        name="grow",
        steps=[
            Loop(
                [
                    Step(lambda s: s.previous + 1, name="inc"),
                    Step(lambda s: s.previous * 2, name="dbl"),
                ],
                until=enough,
                max_iterations=5,
                name="again",
            )
        ],
    )
    events = await collect(flow.run_stream(0))
    assert events[-1].result.output == 6  # type: ignore[attr-defined]  # (0+1)*2=2, (2+1)*2=6
    assert tested == [(0, 2), (1, 6)]
    done = [p for t, p in steps_of(events, events[-1].run_id) if t == "step.completed"]
    assert done == ["again[0].inc", "again[0].dbl", "again[1].inc", "again[1].dbl", "again"]


async def test_loop_stops_at_max_iterations() -> None:
    flow = Workflow(
        name="capped",
        steps=[
            Loop(
                Step(lambda s: s.previous + 1, name="inc"), until=lambda s: False, max_iterations=3
            )
        ],
    )
    assert (await flow.run(0)).output == 3
    with pytest.raises(ConfigurationError, match="max_iterations"):
        Loop(Step(lambda s: 1, name="x"), max_iterations=0)


async def test_router_runs_the_choice_the_selector_picks() -> None:
    billing = echo_agent("billing", "billing: ")
    support = Step(lambda s: f"support: {s.previous}", name="support")

    def pick(step: StepInput[str]) -> Any:
        if "invoice" in step.previous:
            return billing  # the agent itself
        if "both" in step.previous:
            return ["support", billing]  # several, in order
        return "support"  # by name

    flow = Workflow(name="desk", steps=[Router(pick, [billing, support], name="route")])
    assert (await flow.run("my invoice")).output == "billing: my invoice"
    assert (await flow.run("help")).output == "support: help"
    assert (await flow.run("both")).output == "billing: support: both"

    lost = Workflow(name="lost", steps=[Router(lambda s: "nobody", [support], name="r")])
    result = await lost.run("x")
    assert result.status is RunStatus.FAILED
    assert result.error is not None and "'nobody'" in result.error.message
    assert "'support'" in result.error.message


async def test_steps_group_and_its_events() -> None:
    flow = Workflow(
        name="grouped",
        steps=[
            Steps(
                [
                    Step(lambda s: s.previous + "a", name="a"),
                    Step(lambda s: s.previous + "b", name="b"),
                ],
                name="ab",
            )
        ],
    )
    events = await collect(flow.run_stream(">"))
    assert events[-1].result.output == ">ab"  # type: ignore[attr-defined]
    assert steps_of(events, events[-1].run_id) == [
        ("step.started", "ab"),
        ("step.started", "ab.a"),
        ("step.completed", "ab.a"),
        ("step.started", "ab.b"),
        ("step.completed", "ab.b"),
        ("step.completed", "ab"),
    ]


async def test_a_failing_step_stops_the_workflow_with_its_error() -> None:
    ran: list[str] = []

    def explode(step: StepInput[Any]) -> None:
        raise RuntimeError("disk full")

    flow = Workflow(name="boom", steps=[explode, Step(lambda: ran.append("x"), name="next")])
    events = await collect(flow.run_stream("x"))
    final = events[-1]
    assert isinstance(final, ev.RunFailed)
    assert final.result.error is not None
    assert (final.result.error.type, final.result.error.message) == ("RuntimeError", "disk full")
    assert isinstance(final.result.exception, RuntimeError)
    assert [e.type for e in events if e.run_id == final.run_id] == [
        "run.started",
        "step.started",
        "step.failed",
        "run.failed",
    ]
    assert ran == []


async def test_a_failing_agent_step_fails_the_workflow() -> None:
    def broken(messages: list[ModelRequest | ModelResponse], info: AgentInfo) -> ModelResponse:
        raise ValueError("model exploded")

    flow = Workflow(name="w", steps=[Agent(model=FunctionModel(broken), name="bad")])
    result = await flow.run("x")
    assert result.status is RunStatus.FAILED
    assert result.error is not None and result.error.type == "StepError"
    assert "model exploded" in result.error.message
