"""One redaction for every adapter: API keys, bearer tokens and the configured key itself."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import cast

__all__ = ["REDACTED", "redact", "redact_exception", "redact_value"]

REDACTED = "[REDACTED]"
"""What a secret is replaced with."""

# Key shapes: OpenAI (sk-, sk-proj-), Anthropic (sk-ant-), Groq (gsk_), xAI (xai-), OpenRouter
# (sk-or-), Google (AIza...); then bearer tokens and `x-api-key: ...` / `api_key=...` pairs.
_KEY_SHAPES = re.compile(
    r"\b(?:sk|xai|gsk)[-_][A-Za-z0-9_\-*.]{6,}"
    r"|\bAIza[0-9A-Za-z_\-]{20,}"
    r"|(?i:\bbearer\s+)[^\s\"',;]+"
    r"|(?i:\b(?:x-api-key|x-goog-api-key|api[_-]?key)[\"']?\s*[:=]\s*[\"']?)[^\s\"',;&]{4,}"
)
_MIN_SECRET = 4  # shorter values would redact ordinary words


def _mask(match: re.Match[str]) -> str:
    text = match.group(0)
    # Keep the label of a `Bearer ...` or `api_key=...` pair, so the message still reads.
    label = re.match(
        r"(?i)(bearer\s+|(?:x-api-key|x-goog-api-key|api[_-]?key)[\"']?\s*[:=]\s*[\"']?)", text
    )
    return (label.group(1) if label else "") + REDACTED


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with each of `secrets`, and anything shaped like an API key or bearer token, replaced.

    Args:
        text: A message, an error body as text, a log line.
        secrets: Exact values to remove (the configured key); values under 4 characters are
            ignored, since replacing them would mangle ordinary words.

    Example:
        ```python
        from covey.spec.adapter_kit import redact

        assert redact("key my-own-key; Bearer abc.def", ["my-own-key"]) == (
            "key [REDACTED]; Bearer [REDACTED]"
        )
        ```
    """
    for secret in sorted({s for s in secrets if len(s) >= _MIN_SECRET}, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return _KEY_SHAPES.sub(_mask, text)


def redact_value(value: object, secrets: Iterable[str] = ()) -> object:
    """`value` (an error body: dicts, lists, strings) with every string redacted, as a copy."""
    secrets = tuple(secrets)
    if isinstance(value, str):
        return redact(value, secrets)
    if isinstance(value, bytes):
        return redact(value.decode("utf-8", "replace"), secrets)
    if isinstance(value, Mapping):
        mapping = cast("Mapping[object, object]", value)
        return {redact(str(k), secrets): redact_value(v, secrets) for k, v in mapping.items()}
    if isinstance(value, list | tuple):
        items = cast("Sequence[object]", value)
        return [redact_value(v, secrets) for v in items]
    return value


def redact_exception(exc: BaseException, secrets: Iterable[str] = ()) -> None:
    """Redact, in place, the arguments, `message` and `body` of `exc` and of every exception it
    was raised from, so a traceback or a log of the chain shows no secret.

    Adapters call it on the SDK's exception before raising a Covey error `from` it.
    """
    secrets = tuple(secrets)
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        current.args = tuple(redact(a, secrets) if isinstance(a, str) else a for a in current.args)
        for name in ("message", "body", "details"):
            value: object = getattr(current, name, None)
            if isinstance(value, str | Mapping | list):
                # A read-only property refuses; `args` covers what it shows.
                with contextlib.suppress(AttributeError, TypeError):
                    setattr(current, name, redact_value(cast(object, value), secrets))
        current = current.__cause__ or current.__context__
