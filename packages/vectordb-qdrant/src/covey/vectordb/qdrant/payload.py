"""The typed copies of a record's metadata that compiled filters look at (see `filters`).

Kept apart from `filters` so writing them needs no import of qdrant-client.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

__all__ = ["ORDERED_CHUNKS", "ordered", "typed_copies"]

_FIELD = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_CHUNK = 6  # 257**6 < 2**53: a chunk is an exact float.
ORDERED_CHUNKS = 8
"""How many chunks of a string are stored: its first 47 UTF-8 bytes and the terminator."""


def ordered(value: str) -> list[float]:
    """A string as base-257 numbers of 6 digits each, ordered as the strings are."""
    # Bytes shift to 1..256 and 0 ends the string, so a shorter prefix sorts first.
    digits = [byte + 1 for byte in value.encode("utf-8", "surrogatepass")] + [0]
    digits += [0] * (-len(digits) % _CHUNK)
    chunks: list[float] = []
    for start in range(0, len(digits), _CHUNK):
        number = 0
        for digit in digits[start : start + _CHUNK]:
            number = number * 257 + digit
        chunks.append(float(number))
    return chunks


def typed_copies(metadata: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The payload parts filters look at, for one record's metadata."""
    copies: dict[str, dict[str, Any]] = {"bool": {}, "num": {}, "str": {}, "ord": {}}
    for key, value in metadata.items():
        if not _FIELD.fullmatch(key):
            continue  # no filter can name it
        if isinstance(value, bool):
            copies["bool"][key] = value
        elif isinstance(value, int | float):
            try:
                number = float(value)
            except OverflowError:
                continue  # beyond a double: no range could be compared exactly
            if math.isfinite(number):
                copies["num"][key] = number
        elif isinstance(value, str):
            copies["str"][key] = value
            chunks = ordered(value)[:ORDERED_CHUNKS]
            copies["ord"][key] = {f"c{i}": c for i, c in enumerate(chunks)}
    return copies
