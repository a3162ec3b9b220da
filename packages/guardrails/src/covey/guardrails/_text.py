"""Text folded for matching, with a map back to the original's positions.

Evasions hide a card number or an instruction from a pattern with characters a reader does not
see or reads as the same: zero-width spaces and joiners, soft hyphens, fullwidth digits and
letters (`４１１１`), mathematical letters (`𝐢𝐠𝐧𝐨𝐫𝐞`). Folding removes the invisible ones and
maps each other character through NFKC, keeping for every folded character the index of the
original one it came from, so a match in the folded text masks the right span of the original.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Folded", "fold"]

_INVISIBLE = frozenset(
    "\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e\u200b\u200c\u200d\u200e\u200f"
    "\u202a\u202b\u202c\u202d\u202e\u2060\u2061\u2062\u2063\u2064\u2066\u2067\u2068\u2069"
    "\u206a\u206b\u206c\u206d\u206e\u206f\u3164\ufeff\uffa0"
)
"""Format and filler characters that render as nothing (Unicode Cf and the Hangul fillers)."""


@dataclass(frozen=True, slots=True)
class Folded:
    """`text` folded; `origin[i]` is the index in the original of folded character `i`."""

    text: str
    origin: Sequence[int]
    length: int
    """The original's length."""

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The original span a folded span `[start, end)` came from."""
        if start >= end:
            at = self.origin[start] if start < len(self.origin) else self.length
            return at, at
        return self.origin[start], self.origin[end - 1] + 1


_HIDDEN = re.compile("[" + "".join(sorted(_INVISIBLE)) + "]")


def fold(text: str, *, lower: bool = False) -> Folded:
    """Fold `text` (see the module); `lower` also lowercases it."""
    if text.isascii() or (unicodedata.is_normalized("NFKC", text) and not _HIDDEN.search(text)):
        # Nothing to fold (the common case, checked in C): positions are the original's.
        folded = text.lower() if lower else text
        if len(folded) == len(text):
            return Folded(folded, range(len(text)), len(text))
    chars: list[str] = []
    origin: list[int] = []
    for index, char in enumerate(text):
        if char.isascii():
            chars.append(char.lower() if lower else char)
            origin.append(index)
            continue
        if char in _INVISIBLE or unicodedata.category(char) == "Cf":
            continue
        mapped = unicodedata.normalize("NFKC", char)
        if lower:
            mapped = mapped.lower()
        chars.append(mapped)
        origin.extend([index] * len(mapped))
    return Folded("".join(chars), origin, len(text))
