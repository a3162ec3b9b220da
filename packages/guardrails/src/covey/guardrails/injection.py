"""Prompt-injection heuristics: weighted patterns over folded text.

Heuristics catch the common, cheap attacks (\"ignore all previous instructions\", fake
`<|im_start|>system` markers, requests for the system prompt, \"you are now DAN\") and their
usual disguises: zero-width characters, fullwidth or mathematical letters, l33t digits, letters
spaced out (`i g n o r e`), and the same text base64-encoded. They do not catch a determined
attacker who paraphrases; pair them with `ModerationGuardrail` (a model) where that matters, and
never give a model a tool whose misuse an injection could turn into harm without approval.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Any

from covey.guardrails._base import Guardrail
from covey.guardrails._text import fold
from covey.spec import RunContext
from covey.spec.errors import ConfigurationError, GuardrailTripped

__all__ = ["InjectionSignal", "PromptInjectionGuardrail", "injection_signals"]


@dataclass(frozen=True, slots=True)
class InjectionSignal:
    """One rule that matched: its name and weight (never the matched text)."""

    rule: str
    weight: float


_Q = r"(?:all|any|every|the|your|my|these|those|of|previous|prior|above|earlier|preceding|original|initial|system|developer|safety|other|existing)"
_RULES: tuple[tuple[str, float, re.Pattern[str]], ...] = (
    (
        "override_instructions",
        1.0,
        re.compile(
            rf"\b(?:ignore|disregard|forget|skip|override|bypass|drop|abandon)\b(?:\s+{_Q}\b){{1,4}}"
            r"\s+(?:instructions?|prompts?|rules|directions|directives|guidelines|guardrails|"
            r"constraints|context|messages?|policies|programming|commands?)\b"
        ),
    ),
    (
        "new_instructions",
        0.5,
        re.compile(
            r"\b(?:new|updated|real|actual|true)\s+(?:system\s+)?(?:instructions?|rules|prompt)\s*:"
        ),
    ),
    (
        "role_reassignment",
        0.6,
        re.compile(
            r"\b(?:you\s+are\s+(?:now|no\s+longer)|from\s+now\s+on,?\s+you|pretend\s+(?:that\s+)?you"
            r"\s+(?:are|have)|act\s+as\s+(?:an?\s+)?(?:unrestricted|unfiltered|uncensored|jailbroken|evil))\b"
        ),
    ),
    (
        "jailbreak_persona",
        0.8,
        re.compile(
            r"\b(?:dan\s+mode|do\s+anything\s+now|developer\s+mode|jailbr[eo]a?k(?:en)?|god\s+mode|"
            r"aim\s+mode|evil\s+confidant)\b"
        ),
    ),
    (
        "prompt_exfiltration",
        0.9,
        re.compile(
            r"\b(?:reveal|show|print|repeat|output|display|leak|dump|tell\s+me|what\s+(?:is|are|was|were))"
            r"\b[^.?!\n]{0,40}?\b(?:system|hidden|initial|original|secret|developer)\s+"
            r"(?:prompt|instructions?|message|rules)\b"
        ),
    ),
    (
        "role_markers",
        0.8,
        re.compile(
            r"<\|(?:im_start|im_end|system|assistant|user|endoftext)\|>|\[/?inst\]|<</?sys>>|"
            r"(?:^|\n)\s*#{2,}\s*(?:system|instruction)s?\b|(?:^|\n)\s*(?:system|assistant)\s*:"
        ),
    ),
    (
        "no_restrictions",
        0.4,
        re.compile(
            r"\b(?:without|no|ignore|remove|disable)\s+(?:any\s+|all\s+|your\s+)?(?:restrictions|"
            r"limitations|filters|censorship|safety|guardrails|content\s+polic(?:y|ies))\b"
        ),
    ),
)

_LEET = str.maketrans(
    {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s"}
)
_SPACED = re.compile(r"\b(?:\w[ ._*-]){2,}\w\b")
_BASE64 = re.compile(r"[A-Za-z0-9+/]{24,}={0,2}")
_MAX_CHARS = 100_000
"""Only the first this many characters of a text are read: the patterns are linear, but a
megabyte prompt should not cost a megabyte of regex work per rule."""


def _variants(text: str) -> tuple[str, list[str]]:
    """The text as folded (lines kept, for role markers), and the forms the other rules read:
    whitespace squeezed, spaced-out letters joined (runs of two or more spaces still part
    words), l33t digits read as letters, and every base64 blob decoded — each only when it
    differs from the squeezed text."""
    text = text[:_MAX_CHARS]
    folded = fold(text, lower=True).text
    squeezed = re.sub(r"\s+", " ", folded)
    forms = [squeezed]
    if _SPACED.search(folded):
        joined = " ".join(
            _SPACED.sub(lambda m: re.sub(r"[ ._*-]", "", m.group()), piece)
            for piece in re.split(r"\s{2,}", folded)
        )
        forms.append(joined)
    else:
        joined = squeezed
    leet = joined.translate(_LEET)
    if leet != joined:
        forms.append(leet)
    for blob in _BASE64.findall(text):
        try:
            decoded = base64.b64decode(blob + "=" * (-len(blob) % 4), validate=False)
            forms.append(re.sub(r"\s+", " ", decoded.decode("utf-8").lower()))
        except (binascii.Error, UnicodeDecodeError, ValueError):
            continue
    return folded, forms


def injection_signals(text: str) -> list[InjectionSignal]:
    """The rules `text` (or a disguised form of it) matches, each once."""
    folded, forms = _variants(text)
    found: list[InjectionSignal] = []
    for name, weight, pattern in _RULES:
        texts = [folded, *forms] if name == "role_markers" else forms
        if any(pattern.search(t) for t in texts):
            found.append(InjectionSignal(name, weight))
    return found


class PromptInjectionGuardrail(Guardrail):
    """Stop the run when a text scores `threshold` or more on the injection rules.

    Each matching rule adds its weight once; the default threshold (0.8) trips on one strong
    signal (overriding instructions, fake role markers, asking for the system prompt, a
    jailbreak persona) or two weaker ones together. Use it as a pre-run hook.
    """

    def __init__(self, *, threshold: float = 0.8, name: str = "prompt_injection") -> None:
        if not threshold > 0:
            raise ConfigurationError("PromptInjectionGuardrail threshold must be above 0")
        self.threshold = threshold
        self.name = name

    def __repr__(self) -> str:
        return f"PromptInjectionGuardrail(threshold={self.threshold})"

    async def inspect(self, ctx: RunContext[Any], texts: list[str]) -> list[str]:
        signals: dict[str, float] = {}
        # The parts together too: an attack split across two content parts reads as one.
        whole = [" ".join(texts)] if len(texts) > 1 else []
        for text in [*texts, *whole]:
            for signal in injection_signals(text):
                signals[signal.rule] = signal.weight
        score = sum(signals.values())
        if score >= self.threshold:
            rules = ", ".join(sorted(signals))
            raise GuardrailTripped(
                f"prompt injection suspected (score {score:.1f}: {rules})", guardrail=self.name
            )
        return texts
