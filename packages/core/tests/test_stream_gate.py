"""Streamed answers held by the stream checks of the post-run hooks (`run/stream_gate.py`).

The check here is the protocol alone (`covey.spec.stream_checks.StreamCheck`): a regex masker
written for these tests, so the run loop is tested without covey-guardrails (whose PIIGuardrail
has its own streaming tests). It masks e-mail addresses, phone numbers and IBANs like a real
one, and counts what it was asked to read.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from core_helpers import collect
from team_helpers import delegate, echo_returns, leader, prompt_of

from covey.core import Agent, RunStatus, Team
from covey.core.fallback import FallbackModel
from covey.core.retry import RetryPolicy
from covey.core.run.stream_gate import StreamGate, cut_point
from covey.core.testing import AgentInfo, DeltaToolCall, FunctionModel
from covey.db.sql import SqlStore
from covey.spec import ModelRequest, ModelResponse, RunContext, RunResult, TextPart
from covey.spec import events as ev
from covey.spec.errors import GuardrailTripped
from covey.spec.store import Scope
from covey.spec.stream_checks import StreamCheck, StreamCheckPolicy

EMAIL = "jane.doe@example.com"
PHONE = "+44 20 7946 0958"
IBAN = "GB82 WEST 1234 5698 7654 32"
ANSWER = (
    f"Sure. Write to {EMAIL} for billing,\nor call {PHONE} on weekdays. "
    f"Refunds go to {IBAN} within a week. Anything else I can help you with today?"
)
MASKED = (
    "Sure. Write to [EMAIL] for billing,\nor call [PHONE] on weekdays. "
    "Refunds go to [IBAN] within a week. Anything else I can help you with today?"
)
_PATTERNS = {
    "EMAIL": re.compile(r"(?<![\w.+-])[\w.+-]+@(?:[a-z0-9-]+\.)+[a-z]{2,}(?![\w-])", re.I),
    "IBAN": re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){3,7}(?: ?[A-Z0-9]{1,3})?\b"),
    "PHONE": re.compile(r"\+\d{1,3}(?: \d{2,4}){2,4}\b"),
}


_VOLATILE = re.compile(r'"[0-9a-f]{32}"|"\d{4}-\d\d-\d\dT[\d:.]+Z?"')
"""Run ids and timestamps, which may hold any four digits by chance."""


class Masker:
    """A local, regex-based output check (mask) or trip (block), as a post-run hook too."""

    name = "masker"

    def __init__(self, *, block: bool = False, policy: StreamCheckPolicy | None = None) -> None:
        self.block = block
        self.stream_policy = policy or StreamCheckPolicy(window=40, every=16, local=True)
        self.read: list[str] = []

    async def check_text(self, ctx: RunContext[Any], text: str) -> str:
        self.read.append(text)
        for label, pattern in _PATTERNS.items():
            if pattern.search(text):
                if self.block:
                    raise GuardrailTripped(f"found {label.lower()}", guardrail=self.name)
                text = pattern.sub(f"[{label}]", text)
        return text

    async def __call__(self, ctx: RunContext[Any], result: RunResult[Any]) -> RunResult[Any]:
        output = await self.check_text(ctx, str(result.output))
        return result.model_copy(update={"output": output})


def small_deltas(answer: str, size: int = 3) -> FunctionModel:
    """A model that streams `answer` in `size`-character deltas (values split across them)."""

    async def stream(messages: list[ModelRequest | ModelResponse], info: AgentInfo) -> Any:
        for at in range(0, len(answer), size):
            yield answer[at : at + size]

    return FunctionModel(stream_function=stream)


def deltas(events: list[ev.BaseEvent]) -> list[str]:
    return [e.delta for e in events if isinstance(e, ev.TextDelta)]


def raw_values_in(events: list[ev.BaseEvent]) -> list[str]:
    dumped = _VOLATILE.sub('""', "\n".join(e.model_dump_json() for e in events))
    return [v for v in (EMAIL, PHONE, IBAN, "jane.doe", "7946", "WEST") if v in dumped]


def test_masker_satisfies_the_protocol() -> None:
    assert isinstance(Masker(), StreamCheck)


async def test_split_values_never_reach_an_event_or_the_store(tmp_path: Path) -> None:
    async with SqlStore(f"sqlite:///{tmp_path}/covey.db") as store:
        agent = Agent(model=small_deltas(ANSWER), post_hooks=[Masker()], store=store)
        events = await collect(agent.run_stream("help", user_id="u"))
        final = events[-1]
        assert isinstance(final, ev.RunCompleted)
        assert final.result.output == MASKED
        released = deltas(events)
        assert "".join(released) == MASKED
        assert len(released) > 3, "released as it was checked, not all at the end"
        assert raw_values_in(events) == []
        stored = await store.list_events(Scope(user_id="u"), final.run_id)
        assert [e.seq for e in stored] == [e.seq for e in events]
        assert raw_values_in(stored) == []
        # The model's own message keeps its words (as a non-streamed run's does).
        run = await store.get_run(Scope(user_id="u"), final.run_id)
        assert run is not None and run.output == MASKED
        assert any(EMAIL in m.model_dump_json() for m in run.messages)


async def test_a_block_fails_the_run_with_the_details_and_releases_none_of_it() -> None:
    prefix = "Hello there, thanks for waiting so patiently. Let me look that up for you now. "
    agent = Agent(model=small_deltas(prefix + ANSWER), post_hooks=[Masker(block=True)])
    events = await collect(agent.run_stream("help"))
    final = events[-1]
    assert isinstance(final, ev.RunFailed)
    assert final.result.status is RunStatus.FAILED and final.result.output is None
    assert final.result.error is not None
    assert final.result.error.details == {
        "reason": "found email",
        "guardrail": "masker",
        "stage": "output",
    }
    assert [e.type for e in events][-2:] == ["guardrail.tripped", "run.failed"]
    released = "".join(deltas(events))
    assert prefix.startswith(released) and released, "checked clean text went out, no more"
    assert raw_values_in(events) == []
    # The same details as the non-streamed run's.
    plain = await agent.run("help")
    assert plain.error is not None and plain.error.details == final.result.error.details


async def test_a_run_without_stream_checks_emits_deltas_exactly_as_before() -> None:
    def plain_hook(ctx: RunContext[Any], result: RunResult[Any]) -> None:
        return None

    bare = await collect(Agent(model=small_deltas(ANSWER)).run_stream("help"))
    hooked = await collect(
        Agent(model=small_deltas(ANSWER), post_hooks=[plain_hook]).run_stream("help")
    )
    expected = [ANSWER[at : at + 3] for at in range(0, len(ANSWER), 3)]
    assert deltas(bare) == expected
    assert deltas(hooked) == expected
    assert StreamGate.of([plain_hook]) is None
    assert StreamGate.of([Masker(policy=None)]) is not None
    opted_out = Masker()
    opted_out.stream_policy = None  # type: ignore[assignment]
    assert StreamGate.of([opted_out]) is None


async def test_a_local_check_reads_each_part_of_the_answer_a_bounded_number_of_times() -> None:
    masker = Masker()
    long_answer = " ".join([ANSWER] * 40)
    events = await collect(
        Agent(model=small_deltas(long_answer, 5), post_hooks=[masker]).run_stream("x")
    )
    released = "".join(deltas(events))
    assert released == " ".join([MASKED] * 40)
    assert raw_values_in(events) == []
    read = sum(len(t) for t in masker.read)
    # Linear: each character is read a few times (the held suffix, the final output), not
    # once per checkpoint as a whole-text re-check would.
    assert read < 12 * len(long_answer), read


async def test_a_non_local_check_reads_the_whole_answer_and_trips_if_it_would_change_sent_text() -> (
    None
):
    class Shifty(Masker):
        """Masks the first word once the answer is long: a change to text already sent."""

        async def check_text(self, ctx: RunContext[Any], text: str) -> str:
            return ("[X]" + text[5:]) if len(text) > 60 else text

    shifty = Shifty(policy=StreamCheckPolicy(window=0, every=20, local=False))
    events = await collect(Agent(model=small_deltas(ANSWER), post_hooks=[shifty]).run_stream("x"))
    final = events[-1]
    assert isinstance(final, ev.RunFailed) and final.result.error is not None
    assert final.result.error.details["stage"] == "output"
    assert "changed text already streamed" in final.result.error.details["reason"]
    # What went out was checked text; the changed version was never re-sent.
    released = "".join(deltas(events))
    assert "[X]" not in released and ANSWER.startswith(released)

    whole = Masker(policy=StreamCheckPolicy(window=30, every=50, local=False))
    events = await collect(Agent(model=small_deltas(ANSWER), post_hooks=[whole]).run_stream("x"))
    assert "".join(deltas(events)) == MASKED and raw_values_in(events) == []
    assert all(ANSWER.startswith(t) for t in whole.read[:-1]), "the whole answer so far"


async def test_text_before_a_tool_call_and_the_final_answer_are_both_held() -> None:
    def lookup(q: str) -> str:
        """Look up a customer.

        Args:
            q: Who.
        """
        return "found"

    async def model(messages: list[ModelRequest | ModelResponse], info: AgentInfo) -> Any:
        if len(messages) == 1:
            yield f"Checking {EMAIL} now"
            yield DeltaToolCall(name="lookup", json_args='{"q": "jane"}', tool_call_id="c1")
            return
        for at in range(0, len(ANSWER), 4):
            yield ANSWER[at : at + 4]

    agent = Agent(model=FunctionModel(stream_function=model), tools=[lookup], post_hooks=[Masker()])
    events = await collect(agent.run_stream("x"))
    assert isinstance(events[-1], ev.RunCompleted)
    assert "".join(deltas(events)) == "Checking [EMAIL] now" + MASKED
    assert raw_values_in(events) == []
    completed = [e for e in events if isinstance(e, ev.ModelRequestCompleted)]
    assert completed[0].response.parts[0] == TextPart(content="Checking [EMAIL] now")


async def test_a_member_agents_own_checks_hold_its_stream_inside_a_team() -> None:
    member = Agent(
        name="billing", description="Billing.", model=small_deltas(ANSWER), post_hooks=[Masker()]
    )
    model, _ = leader(lambda m: delegate("billing", prompt_of(m)), echo_returns)
    team = Team(name="desk", members=[member], model=model)
    events = await collect(team.run_stream("refund"))
    member_deltas = [
        e.delta for e in events if isinstance(e, ev.TextDelta) and e.agent_name == "billing"
    ]
    assert "".join(member_deltas) == MASKED
    assert not any(v in "".join(member_deltas) for v in (EMAIL, PHONE, IBAN))


@pytest.mark.parametrize(
    ("text", "window", "cut"),
    [
        ("short", 10, 0),
        ("one two three four", 4, 14),
        ("one two three four", 7, 8),
        ("x" * 50, 10, 0),  # no space before the window: nothing can go
        ("a b" + "\u200b" * 30 + "cd", 3, 2),  # invisible characters do not count
    ],
)
def test_the_cut_falls_between_words_and_leaves_the_window(
    text: str, window: int, cut: int
) -> None:
    assert cut_point(text, window) == cut


async def test_one_endless_word_is_held_whole_and_read_a_linear_number_of_times() -> None:
    # A model told to write a long unbroken token (base64, a URL) leaves no place to cut: the
    # whole token is held, and the checks wait for it to grow by half between readings.
    token = "QmFzZTY0" * 1500
    answer = f"Here: {token}+{EMAIL} and then some ordinary words after it to finish."
    masker = Masker()
    agent = Agent(model=small_deltas(answer, 4), post_hooks=[masker])
    events = await collect(agent.run_stream("x"))
    final = events[-1]
    assert isinstance(final, ev.RunCompleted)
    assert (
        "".join(deltas(events))
        == final.result.output
        == "Here: [EMAIL] and then some " + ("ordinary words after it to finish.")
    )
    assert raw_values_in(events) == [] and "QmFz" not in "".join(deltas(events))
    read = sum(len(t) for t in masker.read)
    assert read < 8 * len(answer), read


async def test_a_check_that_fails_fails_the_run_closed_without_quoting_it_or_retrying() -> None:
    calls: list[int] = []

    class Broken(Masker):
        async def check_text(self, ctx: RunContext[Any], text: str) -> str:
            raise RuntimeError(f"cannot read {text!r}")

    async def stream(messages: list[ModelRequest | ModelResponse], info: AgentInfo) -> Any:
        calls.append(1)
        for at in range(0, len(ANSWER), 3):
            yield ANSWER[at : at + 3]

    backup = small_deltas("the backup model's answer")
    # Even a chain told to fall back on guardrail errors (a provider's content filter) does not
    # send the answer a stream check refused to another model.
    model = FallbackModel(
        FunctionModel(stream_function=stream), backup, fallback_on=(GuardrailTripped,)
    )
    agent = Agent(
        model=model,
        post_hooks=[Broken()],
        retry=RetryPolicy(max_attempts=3, retry_on=(Exception,), initial_delay=0, jitter=0),
    )
    events = await collect(agent.run_stream("x"))
    final = events[-1]
    assert isinstance(final, ev.RunFailed) and final.result.error is not None
    assert final.result.error.details == {
        "reason": "the stream check failed (RuntimeError)",
        "guardrail": "masker",
        "stage": "output",
    }
    assert deltas(events) == [] and raw_values_in(events) == []
    assert calls == [1], "not retried, not sent to another model"


async def test_structured_output_is_not_streamed_raw_while_held() -> None:
    from pydantic import BaseModel

    class Contact(BaseModel):
        name: str
        email: str

    async def model(messages: list[ModelRequest | ModelResponse], info: AgentInfo) -> Any:
        tool = info.output_tools[0].name
        args = '{"name": "Jane", "email": "' + EMAIL + '"}'
        yield DeltaToolCall(name=tool, tool_call_id="o1")
        for at in range(0, len(args), 4):
            yield DeltaToolCall(json_args=args[at : at + 4])

    class ContactMasker(Masker):
        async def __call__(self, ctx: RunContext[Any], result: RunResult[Any]) -> RunResult[Any]:
            output = result.output.model_copy(update={"email": "[EMAIL]"})
            return result.model_copy(update={"output": output})

    agent = Agent(
        model=FunctionModel(stream_function=model),
        output_type=Contact,
        output_mode="tool",
        post_hooks=[ContactMasker()],
    )
    events = await collect(agent.run_stream("x"))
    final = events[-1]
    assert isinstance(final, ev.RunCompleted)
    assert final.result.output == Contact(name="Jane", email="[EMAIL]")
    assert not any(isinstance(e, ev.OutputDelta) for e in events)
    assert raw_values_in(events) == []
