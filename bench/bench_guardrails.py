"""Guardrails: what the built-in checks cost per text and per run (covey-guardrails).

Rows: `mask_pii` and `injection_signals` on a short prompt (ASCII, the fast path) and on a
4 KB text with non-ASCII characters (every character folded); then a run on `FunctionModel`
with `PromptInjectionGuardrail` + `PIIGuardrail` before and `PIIGuardrail` after, next to the
same run without them, measured back to back (the difference is what the guardrails add to a
run). Then a streamed answer of 1,000 deltas (about 5,000 characters, with e-mails and IBANs
in it) without output guardrails, with `PIIGuardrail()` after (the stream is held and checked:
`run/stream_gate.py`) and with `PIIGuardrail(stream=False)` (only the finished output is
masked), each next to the bare run. Moderation is one model request and costs what the model
costs; it is not measured here.
"""

from __future__ import annotations

import asyncio
import os

from timing import median_us, paired_overhead_ms

TITLE = "Guardrails: cost per text and per run (covey-guardrails)"
HEADER = ("measurement", "µs or ms", "note")
RUNS = int(os.environ.get("COVEY_BENCH_GUARD_RUNS", "200"))

SHORT = "Hi, please refund order 1234 to jane.doe@example.com and call me on +44 7700 900123."
LONG = ("Grüße aus Köln — invoice № 42 for café crème, " * 90)[:4000] + " card 4111 1111 1111 1111"


def run() -> list[tuple[str, ...]]:
    try:
        from covey.guardrails import injection_signals, mask_pii
    except ImportError:
        return [("covey-guardrails not installed", "-", "-")]
    rows: list[tuple[str, ...]] = [
        ("mask_pii, 85-char ASCII prompt", f"{median_us(lambda: mask_pii(SHORT)):.1f} µs", ""),
        (
            "mask_pii, 4 KB non-ASCII text",
            f"{median_us(lambda: mask_pii(LONG), number=100):.0f} µs",
            "",
        ),
        (
            "injection_signals, 85-char prompt",
            f"{median_us(lambda: injection_signals(SHORT)):.1f} µs",
            "",
        ),
        (
            "injection_signals, 4 KB non-ASCII text",
            f"{median_us(lambda: injection_signals(LONG), number=100):.0f} µs",
            "",
        ),
    ]
    wall, cpu = asyncio.run(_per_run())
    rows.append(
        (
            "run with 3 guardrails − run without",
            f"{wall:.3f} ms wall / {cpu:.3f} ms CPU",
            "injection + PII before, PII after",
        )
    )
    rows.extend(asyncio.run(_streamed()))
    return rows


STREAM_DELTAS = 1000
CLEAN = "The order shipped on Monday and should arrive by the end of the week, thanks. "
SENTENCE = "Mail jane.doe@example.com or pay GB82 WEST 1234 5698 7654 32 today, thanks. "


async def _streamed() -> list[tuple[str, ...]]:
    """A 1,000-delta streamed run: bare, and what checking the stream adds."""
    rows: list[tuple[str, ...]] = []
    for sentence, label in (
        (CLEAN, "no PII in it"),
        (SENTENCE, "an e-mail and an IBAN in every 77 characters"),
    ):
        rows.extend(await _streamed_text(sentence, label))
    return rows


async def _streamed_text(sentence: str, label: str) -> list[tuple[str, ...]]:
    import time

    from covey.core import Agent
    from covey.core.testing import FunctionModel
    from covey.guardrails import PIIGuardrail
    from covey.spec import events as ev

    answer = (sentence * (5 * STREAM_DELTAS // len(sentence) + 1))[: 5 * STREAM_DELTAS]
    yielded = [0]

    async def stream(messages: object, info: object) -> object:
        for at in range(0, len(answer), 5):
            yielded[0] = at + 5
            yield answer[at : at + 5]

    def agent(*hooks: object) -> Agent[object, object]:
        return Agent(model=FunctionModel(stream_function=stream), post_hooks=list(hooks))

    bare, held, final_only = agent(), agent(PIIGuardrail()), agent(PIIGuardrail(stream=False))
    runs = max(RUNS // 10, 5)

    async def drain(which: Agent[object, object]) -> object:
        return [e async for e in which.run_stream("x")]

    async def plain() -> object:
        return await drain(bare)

    async def checked() -> object:
        return await drain(held)

    async def unchecked() -> object:
        return await drain(final_only)

    times: list[float] = []
    for _ in range(runs):
        t = time.perf_counter()
        await plain()
        times.append((time.perf_counter() - t) * 1000)
    times.sort()
    wall, cpu = await paired_overhead_ms(plain, checked, parts=1, runs=runs)
    wall_final, cpu_final = await paired_overhead_ms(plain, unchecked, parts=1, runs=runs)
    first_at = 0
    deltas = 0
    async for event in held.run_stream("x"):
        if isinstance(event, ev.TextDelta):
            first_at = first_at or yielded[0]
            deltas += 1
    return [
        (
            f"streamed run, 1,000 deltas of 5 characters, {label}",
            f"{times[len(times) // 2]:.2f} ms",
            "no output guardrail",
        ),
        (
            "… with PIIGuardrail() checking the stream − without",
            f"{wall:.2f} ms wall / {cpu:.2f} ms CPU",
            f"{deltas} deltas released, the first once {first_at} characters had come",
        ),
        (
            "… with PIIGuardrail(stream=False) − without",
            f"{wall_final:.2f} ms wall / {cpu_final:.2f} ms CPU",
            "the finished output masked only: the deltas go out raw",
        ),
    ]


async def _per_run() -> tuple[float, float]:
    from covey.core import Agent
    from covey.core.testing import FunctionModel
    from covey.guardrails import PIIGuardrail, PromptInjectionGuardrail
    from covey.spec import ModelResponse, TextPart

    def model(messages: object, info: object) -> ModelResponse:
        return ModelResponse(parts=[TextPart(content="Refunded; mail sent to ops@example.com.")])

    plain = Agent(model=FunctionModel(model))
    guarded = Agent(
        model=FunctionModel(model),
        pre_hooks=[PromptInjectionGuardrail(), PIIGuardrail()],
        post_hooks=[PIIGuardrail()],
    )

    async def bare() -> object:
        return await plain.run(SHORT)

    async def checked() -> object:
        return await guarded.run(SHORT)

    return await paired_overhead_ms(bare, checked, parts=1, runs=RUNS)
