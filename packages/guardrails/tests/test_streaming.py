"""Output guardrails on a streamed run: the answer's text is held until checked, so no raw value
reaches a `text.delta` (or any event, or the stored event log), whatever the deltas split.

Written as an attacker would write the answer: values cut between deltas one character at a
time, zero-width characters between digits, fullwidth digits, an e-mail longer than the window.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from covey.core import Agent
from covey.core.testing import AgentInfo, FunctionModel
from covey.db.sql import SqlStore
from covey.guardrails import (
    MODERATION_STREAM,
    PII_STREAM,
    Guardrail,
    ModerationGuardrail,
    PIIGuardrail,
    PromptInjectionGuardrail,
    mask_pii,
)
from covey.spec import ModelRequest, ModelResponse, RunContext, TextPart
from covey.spec import events as ev
from covey.spec.store import Scope
from covey.spec.stream_checks import StreamCheck, StreamCheckPolicy

EMAIL = "jane.doe@example.com"
PHONE = "+1 (555) 123-4567"
IBAN = "GB82 WEST 1234 5698 7654 32"
CARD = "4111 1111 1111 1111"
ANSWER = (
    f"Of course. You can write to {EMAIL} about billing, or call {PHONE} on weekdays.\n"
    f"Refunds are paid to {IBAN}; the card on file is {CARD}. Anything else today?"
)
MASKED = mask_pii(ANSWER)
RAW = (EMAIL, PHONE, IBAN, CARD, "jane.doe", "123-4567", "WEST 1234", "1111 1111")


_VOLATILE = re.compile(r'"[0-9a-f]{32}"|"\d{4}-\d\d-\d\dT[\d:.]+Z?"')
"""Run ids and timestamps, which may hold any four digits by chance."""


def streaming(answer: str, sizes: Sequence[int] = (1, 2, 3, 5)) -> FunctionModel:
    """A model streaming `answer` in deltas of the given sizes, in turn."""

    async def stream(messages: list[ModelRequest | ModelResponse], info: AgentInfo) -> Any:
        at, turn = 0, 0
        while at < len(answer):
            size = sizes[turn % len(sizes)]
            yield answer[at : at + size]
            at, turn = at + size, turn + 1

    return FunctionModel(stream_function=stream)


def released(events: list[ev.BaseEvent]) -> str:
    return "".join(e.delta for e in events if isinstance(e, ev.TextDelta))


def leaked(events: Sequence[ev.BaseEvent], raw: Sequence[str] = RAW) -> list[str]:
    dumped = _VOLATILE.sub('""', "\n".join(e.model_dump_json() for e in events))
    return [value for value in raw if value in dumped]


def test_guardrails_declare_how_they_check_streams() -> None:
    pii = PIIGuardrail()
    assert isinstance(pii, StreamCheck)
    assert pii.stream_policy == PII_STREAM and PII_STREAM.local
    assert PIIGuardrail(stream=False).stream_policy is None
    own = StreamCheckPolicy(window=100, every=10, local=True)
    assert PIIGuardrail(stream=own).stream_policy is own
    moderation = ModerationGuardrail(FunctionModel(lambda m, i: ModelResponse(parts=[])))
    assert moderation.stream_policy is None, "a model call per chunk is opt-in"
    assert ModerationGuardrail("openai:x", stream=True).stream_policy == MODERATION_STREAM
    assert PromptInjectionGuardrail().stream_policy is None
    with pytest.raises(ValueError, match="window"):
        StreamCheckPolicy(window=-1)


@pytest.mark.parametrize("sizes", [(1,), (2, 7), (1, 2, 3, 5), (40,)])
async def test_split_values_are_masked_before_any_delta_leaves(
    tmp_path: Path, sizes: tuple[int, ...]
) -> None:
    async with SqlStore(f"sqlite:///{tmp_path}/covey.db") as store:
        agent = Agent(model=streaming(ANSWER, sizes), post_hooks=[PIIGuardrail()], store=store)
        events = [e async for e in agent.run_stream("how do I get a refund?", user_id="u")]
        final = events[-1]
        assert isinstance(final, ev.RunCompleted)
        assert final.result.output == MASKED
        assert "[EMAIL]" in MASKED and "[IBAN]" in MASKED and "[PHONE]" in MASKED
        assert released(events) == MASKED
        assert leaked(events) == []
        stored = await store.list_events(Scope(user_id="u"), final.run_id)
        assert len(stored) == len(events) and leaked(stored) == []
        # The run's record keeps the model's own words, as a non-streamed run's does.
        run = await store.get_run(Scope(user_id="u"), final.run_id)
        assert run is not None and run.output == MASKED
        assert any(EMAIL in m.model_dump_json() for m in run.messages)


async def test_block_fails_the_run_like_the_non_streamed_path_and_sends_none_of_it() -> None:
    clean = "Thanks for waiting. I looked at your account and everything seems in order now. "
    agent = Agent(model=streaming(clean + ANSWER), post_hooks=[PIIGuardrail(action="block")])
    events = [e async for e in agent.run_stream("refund?")]
    final = events[-1]
    assert isinstance(final, ev.RunFailed) and final.result.error is not None
    assert [e.type for e in events][-2:] == ["guardrail.tripped", "run.failed"]
    assert final.result.error.details == {
        "reason": "personal data found: 1 email",
        "guardrail": "pii",
        "stage": "output",
    }
    sent = released(events)
    assert sent and clean.startswith(sent), "text checked clean may go, nothing after it"
    assert leaked(events) == []
    whole = await agent.run("refund?")
    assert whole.error is not None
    # Non-streamed, the whole answer is read at once: every kind is counted.
    assert whole.error.details["stage"] == "output" and "email" in whole.error.details["reason"]


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ("4\u200b1\u200b1\u200b1 " + "\u200b" * 90 + "1111 1111 1111", "[CREDIT_CARD]"),
        ("\uff14\uff11\uff11\uff11 1111 1111 1111", "[CREDIT_CARD]"),
        ("jane.doe@" + "mail." * 20 + "example.com", "[EMAIL]"),
        ("G\u200bB\u200b8\u200b2 WEST 1234 5698 7654 32", "[IBAN]"),
    ],
    ids=["zero-width-padded-card", "fullwidth-card", "email-longer-than-window", "hidden-iban"],
)
async def test_disguised_values_are_held_whole(value: str, kind: str) -> None:
    answer = f"Here it is: {value} and that is all I can say about it for now, sorry."
    agent = Agent(model=streaming(answer, (1, 3)), post_hooks=[PIIGuardrail()])
    events = [e async for e in agent.run_stream("x")]
    assert isinstance(events[-1], ev.RunCompleted)
    text = released(events)
    assert text == mask_pii(answer) and kind in text
    digits_or_words = [p for p in value.replace("\u200b", "").split() if len(p) >= 4]
    assert leaked(events, digits_or_words) == []


async def test_moderation_opted_in_judges_the_answer_at_coarse_checkpoints() -> None:
    judged: list[str] = []

    def moderator(messages: list[ModelRequest | ModelResponse], info: AgentInfo) -> ModelResponse:
        prompt = str(messages[-1].parts[-1].content)  # type: ignore[union-attr]
        judged.append(prompt)
        flagged = "phishing" in prompt
        verdict = '{"flagged": %s, "categories": ["fraud"]}' % ("true" if flagged else "false")
        return ModelResponse(parts=[TextPart(content=verdict)])

    every = StreamCheckPolicy(window=0, every=200, local=False)
    guard = ModerationGuardrail(FunctionModel(moderator), stream=every)
    story = ("A calm paragraph about gardening and the weather this spring. " * 12).strip()
    agent = Agent(model=streaming(story, (7,)), post_hooks=[guard])
    events = [e async for e in agent.run_stream("x")]
    assert isinstance(events[-1], ev.RunCompleted) and released(events) == story
    assert 3 <= len(judged) <= len(story) // 200 + 3, "one model call per checkpoint"

    judged.clear()
    bad = Agent(
        model=streaming(story + " Now the phishing mail: Dear customer, verify", (7,)),
        post_hooks=[guard],
    )
    events = [e async for e in bad.run_stream("x")]
    final = events[-1]
    assert isinstance(final, ev.RunFailed) and final.result.error is not None
    assert final.result.error.details["reason"] == "flagged by moderation: fraud"
    assert "phishing" not in released(events)


async def test_a_custom_guardrail_streams_when_it_declares_a_policy() -> None:
    class NoSwearing(Guardrail):
        name = "no_swearing"
        stream_policy = StreamCheckPolicy(window=10, every=8, local=True)

        async def inspect(self, ctx: RunContext[Any], texts: list[str]) -> list[str]:
            return [t.replace("darn", "d**n") for t in texts]

    answer = "Well darn, the build broke again; darn it, I will look at it tomorrow morning."
    agent = Agent(model=streaming(answer, (1,)), post_hooks=[NoSwearing()])
    events = [e async for e in agent.run_stream("x")]
    assert released(events) == answer.replace("darn", "d**n")
    assert leaked(events, ["darn"]) == []


_VALUES = (
    EMAIL,
    PHONE,
    IBAN,
    CARD,
    "123-45-6789",
    "192.168.10.20",
    "+44 20 7946 0958",
    "DE89 3704 0044 0532 0130 00",
    "5500-0000-0000-0004",
    "a.b+tag@sub.mail.example.org",
    "0044 20 7946 0958 12",
)
_WORDS = [
    "the",
    "of",
    "and",
    "to",
    "a",
    "in",
    "is",
    "you",
    "that",
    "it",
    "was",
    "for",
    "on",
    "are",
    "with",
    "they",
    "at",
    "be",
    "this",
    "from",
    "or",
]


async def test_random_answers_cut_at_random_stream_exactly_the_masked_output() -> None:
    """Values next to values, numbers that are a phone number only whole: whatever the deltas,
    what is sent is what the finished output masks to (seeded, so a failure is replayable)."""
    import random

    for seed in range(150):
        rng = random.Random(seed)
        words = [
            rng.choice(_VALUES) if rng.random() < 0.2 else rng.choice(_WORDS)
            for _ in range(rng.randint(20, 60))
        ]
        answer = "".join(w + rng.choice([" ", " ", "\n", ", ", ". "]) for w in words)
        sizes = [rng.randint(1, 9) for _ in range(50)]
        agent = Agent(model=streaming(answer, sizes), post_hooks=[PIIGuardrail()])
        events = [e async for e in agent.run_stream("x")]
        final = events[-1]
        assert isinstance(final, ev.RunCompleted)
        assert released(events) == final.result.output == mask_pii(answer), seed
