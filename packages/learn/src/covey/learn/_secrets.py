"""A last check before a memory is stored: does the text look like a credential?

The memory model is told never to store secrets, but it reads what users type, and users paste
keys. A memory that looks like one is refused (reported, never stored), so a store dump or a
recalled prompt cannot leak it. The patterns are deliberately narrow: well-known key prefixes,
private-key blocks, card numbers that pass the Luhn check, and "password: ..." phrases.
"""

from __future__ import annotations

import re

__all__ = ["looks_like_secret"]

_PATTERNS = [
    re.compile(r"\b(?:sk|pk|rk)[-_](?:live[-_]|test[-_]|proj[-_]|ant[-_])?[A-Za-z0-9_-]{16,}"),
    re.compile(r"\b(?:ghp|gho|ghs|ghu|github_pat|glpat|xox[abposr])[-_][A-Za-z0-9_-]{10,}"),
    re.compile(r"\bAKIA[0-9A-Z]{16}\b"),
    re.compile(r"\bAIza[0-9A-Za-z_-]{30,}"),
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    re.compile(r"\beyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}"),  # a JWT
    # "password is hunter2!": the value must hold a digit or a symbol, so "the user's secret
    # is that they sing" is not one.
    re.compile(
        r"(?i)\b(?:password|passwd|passphrase|api[ _-]?key|secret|token)\b\s*(?:is|=|:)\s*"
        r"[\"']?(?=\S*[\d!@#$%^&*_])\S{6,}"
    ),
    re.compile(r"(?i)\bpin\b\s*(?:is|=|:)?\s*\d{4,8}\b"),
]
_DIGITS = re.compile(r"\b(?:\d[ -]?){13,19}\b")


def _luhn(number: str) -> bool:
    digits = [int(d) for d in number if d.isdigit()]
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def looks_like_secret(text: str) -> bool:
    """Whether `text` holds something shaped like a key, a password or a card number."""
    if any(p.search(text) for p in _PATTERNS):
        return True
    return any(_luhn(m.group(0)) for m in _DIGITS.finditer(text))
