"""What the run loop does with guardrail hooks: changed input, changed output, typed trips."""

from __future__ import annotations

import threading
from typing import Any

from core_helpers import collect, text

from covey.core import Agent, RunContext, RunStatus
from covey.core.testing import AgentInfo, FunctionModel
from covey.spec import ModelRequest, ModelResponse, RunResult, UserPart
from covey.spec import events as ev
from covey.spec.errors import GuardrailTripped
from covey.spec.store import Scope
from covey.testing import InMemoryStore

SECRET = "jane.doe@example.com"


def _user_texts(messages: list[ModelRequest | ModelResponse]) -> list[str]:
    return [
        str(p.content)
        for m in messages
        if isinstance(m, ModelRequest)
        for p in m.parts
        if isinstance(p, UserPart)
    ]


def _mask(ctx: RunContext[Any], prompt: Any) -> str:
    return str(prompt).replace(SECRET, "[EMAIL]")


async def test_a_pre_hook_that_returns_the_input_changes_what_is_sent_and_stored() -> None:
    sent: list[str] = []

    def model(messages: list[ModelRequest | ModelResponse], info: AgentInfo) -> ModelResponse:
        sent.extend(_user_texts(messages))
        return text("noted")

    store = InMemoryStore()
    agent = Agent(model=FunctionModel(model), pre_hooks=[_mask], store=store)
    events = await collect(agent.run_stream(f"mail {SECRET} please", user_id="u"))
    assert sent == ["mail [EMAIL] please"]
    started = events[0]
    assert isinstance(started, ev.RunStarted) and started.input == "mail [EMAIL] please"
    run_id = events[-1].run_id
    stored = await store.get_run(Scope(user_id="u"), run_id)
    assert stored is not None and stored.input == "mail [EMAIL] please"
    log = await store.list_events(Scope(user_id="u"), run_id)
    assert SECRET not in "".join(e.model_dump_json() for e in log)
    assert SECRET not in stored.model_dump_json()


async def test_a_tripped_input_guardrail_ends_the_run_failed_with_a_typed_event() -> None:
    calls: list[Any] = []

    def block(ctx: RunContext[Any], prompt: Any) -> None:
        raise GuardrailTripped("email address found", guardrail="pii")

    def model(messages: list[ModelRequest | ModelResponse], info: AgentInfo) -> ModelResponse:
        calls.append(messages)
        return text("never")

    store = InMemoryStore()
    agent = Agent(model=FunctionModel(model), pre_hooks=[block], store=store)
    events = await collect(agent.run_stream("hi", user_id="u"))
    assert [e.type for e in events] == ["run.started", "guardrail.tripped", "run.failed"]
    tripped = events[1]
    assert isinstance(tripped, ev.GuardrailTripped)
    assert (tripped.guardrail, tripped.stage, tripped.reason) == (
        "pii",
        "input",
        "email address found",
    )
    final = events[-1]
    assert isinstance(final, ev.RunFailed)
    assert final.result.error is not None
    assert final.result.error.type == "GuardrailTripped"
    assert final.result.error.details == {
        "reason": "email address found",
        "guardrail": "pii",
        "stage": "input",
    }
    assert calls == []
    stored = await store.get_run(Scope(user_id="u"), final.run_id)
    assert stored is not None and stored.status is RunStatus.FAILED
    log = await store.list_events(Scope(user_id="u"), final.run_id)
    assert [e.type for e in log] == ["run.started", "guardrail.tripped", "run.failed"]


async def test_a_tripped_output_guardrail_is_an_output_stage_event_before_run_failed() -> None:
    def block(ctx: RunContext[Any], result: RunResult[Any]) -> None:
        if "4111" in str(result.output):
            raise GuardrailTripped("card number in the answer", guardrail="pii")

    agent = Agent(
        model=FunctionModel(lambda m, i: text("card 4111 1111 1111 1111")), post_hooks=[block]
    )
    events = await collect(agent.run_stream("hi"))
    assert [e.type for e in events][-2:] == ["guardrail.tripped", "run.failed"]
    tripped = events[-2]
    assert isinstance(tripped, ev.GuardrailTripped) and tripped.stage == "output"
    final = events[-1]
    assert isinstance(final, ev.RunFailed) and final.result.output is None
    assert final.result.error is not None and final.result.error.details["stage"] == "output"


async def test_a_post_hook_may_change_the_output_but_not_the_status() -> None:
    def mask(ctx: RunContext[Any], result: RunResult[Any]) -> RunResult[Any]:
        masked = str(result.output).replace(SECRET, "[EMAIL]")
        return result.model_copy(update={"output": masked, "status": RunStatus.FAILED})

    store = InMemoryStore()
    agent = Agent(
        model=FunctionModel(lambda m, i: text(f"write to {SECRET}")), post_hooks=[mask], store=store
    )
    result = await agent.run("who?", user_id="u")
    assert result.status is RunStatus.COMPLETED
    assert result.output == "write to [EMAIL]"
    stored = await store.get_run(Scope(user_id="u"), result.run_id)
    assert stored is not None and stored.output == "write to [EMAIL]"


async def test_an_output_validator_trip_says_output() -> None:
    def validator(ctx: RunContext[Any], output: str) -> str:
        raise GuardrailTripped("flagged", guardrail="moderation")

    agent = Agent(model=FunctionModel(lambda m, i: text("x")), output_validators=[validator])
    events = await collect(agent.run_stream("hi"))
    tripped = [e for e in events if isinstance(e, ev.GuardrailTripped)]
    assert [(t.guardrail, t.stage) for t in tripped] == [("moderation", "output")]


async def test_a_pre_hook_returning_something_else_fails_the_run_with_a_clear_error() -> None:
    def wrong(ctx: RunContext[Any], prompt: Any) -> int:
        return 42

    result = await Agent(model=FunctionModel(lambda m, i: text("x")), pre_hooks=[wrong]).run("hi")
    assert result.status is RunStatus.FAILED
    assert result.error is not None and result.error.type == "TypeError"
    assert "'wrong' returned int" in result.error.message


async def test_an_object_with_an_async_call_runs_on_the_event_loop() -> None:
    loop_thread = threading.get_ident()
    seen: list[int] = []

    class Guard:
        async def __call__(self, ctx: RunContext[Any], prompt: Any) -> None:
            seen.append(threading.get_ident())

    result = await Agent(model=FunctionModel(lambda m, i: text("x")), pre_hooks=[Guard()]).run("hi")
    assert result.status is RunStatus.COMPLETED
    assert seen == [loop_thread]


async def test_a_team_input_guardrail_trips_the_same_way() -> None:
    from covey.core import Team

    def block(ctx: RunContext[Any], prompt: Any) -> None:
        raise GuardrailTripped("injection", guardrail="prompt_injection")

    member = Agent(name="m", model=FunctionModel(lambda m, i: text("x")))
    team = Team(
        name="t", members=[member], model=FunctionModel(lambda m, i: text("x")), pre_hooks=[block]
    )
    events = await collect(team.run_stream("hi"))
    assert [e.type for e in events] == ["run.started", "guardrail.tripped", "run.failed"]


async def test_run_observers_see_the_trip_with_the_runs_scope() -> None:
    from covey.core.observe import add_observer, remove_observer

    seen: list[tuple[str, str | None]] = []

    def observer(event: ev.BaseEvent, scope: Scope) -> None:
        seen.append((event.type, scope.tenant_id))

    def block(ctx: RunContext[Any], prompt: Any) -> None:
        raise GuardrailTripped("no", guardrail="g")

    add_observer(observer)
    try:
        agent = Agent(model=FunctionModel(lambda m, i: text("x")), pre_hooks=[block])
        await agent.run("hi", tenant_id="acme")
    finally:
        remove_observer(observer)
    assert ("guardrail.tripped", "acme") in seen
    assert seen[-1] == ("run.failed", "acme")
