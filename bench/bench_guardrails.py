"""Guardrails: what the built-in checks cost per text and per run (covey-guardrails).

Rows: `mask_pii` and `injection_signals` on a short prompt (ASCII, the fast path) and on a
4 KB text with non-ASCII characters (every character folded); then a run on `FunctionModel`
with `PromptInjectionGuardrail` + `PIIGuardrail` before and `PIIGuardrail` after, next to the
same run without them, measured back to back (the difference is what the guardrails add to a
run). Moderation is one model request and costs what the model costs; it is not measured here.
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
    return rows


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
