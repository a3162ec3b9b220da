"""PII: find e-mail addresses, phone numbers, payment cards, IBANs, US SSNs and IP addresses,
then mask them or stop the run.

Patterns find candidates; checksums decide where a format has one (Luhn for cards, ISO 7064
mod 97-10 and the country's length for IBANs), so an order number of sixteen digits is not a
card. Text is folded first (`_text.fold`): a zero-width space or fullwidth digits do not hide a
number. A reason never carries the values found, only their kinds and counts.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any, Literal

from covey.guardrails._base import Guardrail, stream_option
from covey.guardrails._text import fold
from covey.spec import RunContext
from covey.spec.errors import ConfigurationError, GuardrailTripped
from covey.spec.stream_checks import StreamCheckPolicy

__all__ = [
    "PII_KINDS",
    "PII_STREAM",
    "PIIGuardrail",
    "PIIKind",
    "PIIMatch",
    "find_pii",
    "iban_valid",
    "luhn_valid",
    "mask_pii",
]

PIIKind = Literal["email", "phone", "credit_card", "iban", "us_ssn", "ip_address"]
PII_KINDS: tuple[PIIKind, ...] = ("email", "iban", "credit_card", "us_ssn", "ip_address", "phone")
"""Every kind, in the order overlapping matches are decided (an IBAN's digits are no phone)."""


@dataclass(frozen=True, slots=True)
class PIIMatch:
    """One value found: its kind and its span in the text (the value itself is `text[start:end]`;
    it is not kept here, so a logged match shows no PII)."""

    kind: PIIKind
    start: int
    end: int


_EMAIL = re.compile(
    r"(?<![\w.%+-])[a-z0-9](?:[a-z0-9._%+-]{0,63})@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+"
    r"[a-z]{2,24}(?![\w-])",
    re.IGNORECASE,
)
_DIGIT = re.compile(r"\d")
_CARD = re.compile(r"(?<![\d+-])\d(?:[ -]?\d){12,18}(?![\d])")
_IBAN = re.compile(r"(?<![A-Za-z0-9])[A-Za-z]{2}\d{2}(?:[ ]?[A-Za-z0-9]){11,30}(?![A-Za-z0-9])")
_SSN = re.compile(r"(?<![\d-])(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?![\d-])")
_IPV4 = re.compile(
    r"(?<![\d.])(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
    r"(?![\d.]*\d)"
)
_PHONE = re.compile(
    r"(?<![\w+])(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?)?\d{1,5}(?:[ .-]\d{2,6}){1,4}(?![\w])"
    r"|(?<![\w+])\+\d{8,15}(?!\w)"
)

# ISO 13616 lengths of the countries that issue IBANs (the registry's, release 99).
_IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22,
    "BI": 27, "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DJ": 27,
    "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FK": 18, "FO": 18, "FR": 27,
    "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28, "HN": 28, "HR": 21, "HU": 28,
    "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28,
    "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "LY": 25, "MC": 27, "MD": 24, "ME": 22,
    "MK": 19, "MN": 20, "MR": 27, "MT": 31, "MU": 30, "NI": 28, "NL": 18, "NO": 15, "OM": 23,
    "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "RU": 33, "SA": 24,
    "SC": 31, "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25, "SV": 28,
    "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20, "YE": 30,
}  # fmt: skip


def luhn_valid(digits: str) -> bool:
    """Whether a string of digits passes the Luhn check (every payment card number does)."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def iban_valid(candidate: str) -> bool:
    """Whether `candidate` (spaces allowed) is an IBAN: known country, its length, mod 97 = 1."""
    iban = candidate.replace(" ", "").upper()
    if _IBAN_LENGTHS.get(iban[:2]) != len(iban) or not iban[2:4].isdigit():
        return False
    rearranged = iban[4:] + iban[:4]
    number = "".join(str(int(c, 36)) for c in rearranged)
    return int(number) % 97 == 1


def _whole(text: str) -> int | None:
    return len(text)


def _iban(text: str) -> int | None:
    """The length of the IBAN `text` starts with: the pattern may run on into the next word
    ("DE89 3704 0044 0532 0130 00 and"), so the country's length decides where it ends."""
    expected = _IBAN_LENGTHS.get(text[:2].upper())
    if expected is None:
        return None
    seen = 0
    for index, char in enumerate(text):
        if char != " ":
            seen += 1
            if seen == expected:
                return index + 1 if iban_valid(text[: index + 1]) else None
    return None


def _card(text: str) -> int | None:
    digits = re.sub(r"[ -]", "", text)
    valid = 13 <= len(digits) <= 19 and digits[0] in "23456" and luhn_valid(digits)
    return len(text) if valid else None


def _phone(text: str) -> int | None:
    digits = sum(c.isdigit() for c in text)
    if text.startswith("+"):
        return len(text) if 8 <= digits <= 15 else None
    # Without a country code, ten digits or more in groups: not a date, a time or a version.
    return len(text) if 10 <= digits <= 13 else None


_Check = Callable[[str], "int | None"]
_DETECTORS: dict[PIIKind, tuple[re.Pattern[str], _Check]] = {
    "email": (_EMAIL, _whole),
    "iban": (_IBAN, _iban),
    "credit_card": (_CARD, _card),
    "us_ssn": (_SSN, _whole),
    "ip_address": (_IPV4, _whole),
    "phone": (_PHONE, _phone),
}


def find_pii(text: str, kinds: Collection[PIIKind] = PII_KINDS) -> list[PIIMatch]:
    """The PII in `text`, by position; of overlapping candidates the earlier kind in
    `PII_KINDS` wins. Spans are in `text` as given (folding is undone)."""
    folded = fold(text)
    has_digits = _DIGIT.search(folded.text) is not None
    taken: list[tuple[int, int]] = []
    found: list[PIIMatch] = []
    for kind in PII_KINDS:
        if kind not in kinds:
            continue
        # Cheap checks in C first: no `@`, no e-mail; no digit, no number of any kind.
        if (kind == "email" and "@" not in folded.text) or (kind != "email" and not has_digits):
            continue
        pattern, check = _DETECTORS[kind]
        for match in pattern.finditer(folded.text):
            length = check(match.group())
            if length is None:
                continue
            start = match.start()
            end = start + length
            if any(start < e and s < end for s, e in taken):
                continue
            taken.append((start, end))
            original = folded.span(start, end)
            found.append(PIIMatch(kind, *original))
    found.sort(key=lambda m: m.start)
    return found


PII_STREAM = StreamCheckPolicy(window=72, every=32, local=True)
"""How `PIIGuardrail` checks a streamed answer by default. The window covers the longest value
with spaces it masks (an IBAN of 34 characters written with a space between each: 67; a card of
19 digits with separators: 37); an e-mail has no spaces, and the cut never falls inside a word.
The patterns are local, so only the text not yet released is read."""


def _label(match: PIIMatch) -> str:
    return f"[{match.kind.upper()}]"


def mask_pii(
    text: str,
    kinds: Collection[PIIKind] = PII_KINDS,
    replacement: Callable[[PIIMatch], str] = _label,
) -> str:
    """`text` with each PII value replaced (by `[EMAIL]`, `[CREDIT_CARD]`... by default)."""
    matches = find_pii(text, kinds)
    if not matches:
        return text
    pieces: list[str] = []
    at = 0
    for match in matches:
        pieces.append(text[at : match.start])
        pieces.append(replacement(match))
        at = match.end
    pieces.append(text[at:])
    return "".join(pieces)


class PIIGuardrail(Guardrail):
    """Mask PII (the default) or stop the run when there is any.

    As a pre-run hook the model never sees the values and the run's stored input holds the
    masked text; as a post-run hook (or an output validator) the caller gets the masked output.

    Args:
        kinds: What to look for (default: every kind in `PII_KINDS`).
        action: `"mask"` replaces each value; `"block"` raises `GuardrailTripped`.
        replacement: The text put in place of a match (default `[EMAIL]`, `[PHONE]`...).
        name: The guardrail's name in events and errors.
        stream: As a post-run hook of a streamed run, hold the answer's text until it is
            checked (`True`, the default: `PII_STREAM`), or a `StreamCheckPolicy` of your own;
            `False` checks the finished output only.
    """

    def __init__(
        self,
        kinds: Collection[PIIKind] | None = None,
        *,
        action: Literal["mask", "block"] = "mask",
        replacement: Callable[[PIIMatch], str] | None = None,
        name: str = "pii",
        stream: bool | StreamCheckPolicy = True,
    ) -> None:
        chosen = tuple(PII_KINDS if kinds is None else kinds)
        unknown = sorted(set(chosen) - set(PII_KINDS))
        if unknown or not chosen:
            raise ConfigurationError(
                f"PIIGuardrail kinds must be some of {list(PII_KINDS)}; got unknown {unknown}"
                if unknown
                else "PIIGuardrail needs at least one kind"
            )
        if action not in ("mask", "block"):
            raise ConfigurationError(
                f"PIIGuardrail action must be 'mask' or 'block', not {action!r}"
            )
        self.kinds: frozenset[PIIKind] = frozenset(chosen)
        self.action = action
        self.replacement = replacement or _label
        self.name = name
        self.stream_policy = stream_option(stream, PII_STREAM)

    def __repr__(self) -> str:
        return f"PIIGuardrail(kinds={sorted(self.kinds)}, action={self.action!r})"

    async def inspect(self, ctx: RunContext[Any], texts: list[str]) -> list[str]:
        if self.action == "mask":
            return [mask_pii(t, self.kinds, self.replacement) for t in texts]
        counts: dict[str, int] = {}
        for text in texts:
            for match in find_pii(text, self.kinds):
                counts[match.kind] = counts.get(match.kind, 0) + 1
        if counts:
            found = ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items()))
            raise GuardrailTripped(f"personal data found: {found}", guardrail=self.name)
        return texts
