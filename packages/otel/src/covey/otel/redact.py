"""Redaction of everything a span records: keys by name, values by shape, and known secrets."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import cast

from covey.spec.adapter_kit import REDACTED, redact

__all__ = ["Redactor"]


class Redactor:
    """Turns arbitrary data into a redacted, bounded string for a span attribute.

    Mapping keys that contain one of `keys` lose their value; every string goes through
    `covey.spec.adapter_kit.redact` (API-key shapes, bearer tokens, `api_key=...` pairs) with
    `secrets` removed verbatim; the JSON text is cut to `max_length` characters.
    """

    __slots__ = ("_keys", "_max", "_secrets")

    def __init__(self, keys: Sequence[str], secrets: Sequence[str], max_length: int) -> None:
        self._keys = tuple(k.lower() for k in keys if k)
        self._secrets = tuple(secrets)
        self._max = max_length

    def text(self, value: str) -> str:
        """`value` redacted and cut."""
        cleaned = redact(value, self._secrets)
        if len(cleaned) > self._max:
            return cleaned[: self._max] + "…"
        return cleaned

    def data(self, value: object) -> str:
        """`value` as redacted JSON text (strings as themselves), cut."""
        cleaned = self._walk(value, 0)
        if isinstance(cleaned, str):
            return self.text(cleaned)
        try:
            dumped = json.dumps(cleaned, ensure_ascii=False, default=str)
        except (TypeError, ValueError):
            dumped = str(cleaned)
        return self.text(dumped)

    def _secret_key(self, key: str) -> bool:
        lowered = key.lower()
        return any(k in lowered for k in self._keys)

    def _walk(self, value: object, depth: int) -> object:
        if depth > 20:
            return "…"
        if isinstance(value, str):
            return value
        if isinstance(value, Mapping):
            mapping = cast("Mapping[object, object]", value)
            return {
                str(k): REDACTED if self._secret_key(str(k)) else self._walk(v, depth + 1)
                for k, v in mapping.items()
            }
        if isinstance(value, list | tuple):
            items = cast("Sequence[object]", value)
            return [self._walk(v, depth + 1) for v in items]
        if value is None or isinstance(value, bool | int | float):
            return value
        dump = getattr(value, "model_dump", None)
        if callable(dump):
            return self._walk(dump(mode="json"), depth + 1)
        return str(value)
