"""Covey's guardrails: checks on what goes into a run and what comes out.

Each guardrail is a run hook. Put it in `pre_hooks` to check (or mask) the input before the
model sees it and before it is stored, in `post_hooks` to check (or mask) the result's output,
or in an agent's `output_validators`. A tripped guardrail ends the run `failed` with
`GuardrailTripped` in `result.error` after a `guardrail.tripped` event: never a crash.

- `PIIGuardrail`: e-mail addresses, phone numbers, payment cards (Luhn), IBANs (mod 97), US SSNs,
  IP addresses; masks them (default) or blocks. `find_pii` and `mask_pii` work on plain text.
- `PromptInjectionGuardrail`: weighted heuristics over text folded against disguises.
- `ModerationGuardrail`: a model classifies the text against a category list; fails closed.
- `Guardrail`: the base class for your own (implement `inspect(ctx, texts)`).
"""

from __future__ import annotations

from covey.guardrails._base import Guardrail
from covey.guardrails.injection import InjectionSignal, PromptInjectionGuardrail, injection_signals
from covey.guardrails.moderation import (
    DEFAULT_CATEGORIES,
    MODERATION_STREAM,
    ModerationGuardrail,
    ModerationVerdict,
)
from covey.guardrails.pii import (
    PII_KINDS,
    PII_STREAM,
    PIIGuardrail,
    PIIKind,
    PIIMatch,
    find_pii,
    iban_valid,
    luhn_valid,
    mask_pii,
)

__all__ = [
    "DEFAULT_CATEGORIES",
    "MODERATION_STREAM",
    "PII_KINDS",
    "PII_STREAM",
    "Guardrail",
    "InjectionSignal",
    "ModerationGuardrail",
    "ModerationVerdict",
    "PIIGuardrail",
    "PIIKind",
    "PIIMatch",
    "PromptInjectionGuardrail",
    "find_pii",
    "iban_valid",
    "injection_signals",
    "luhn_valid",
    "mask_pii",
]
