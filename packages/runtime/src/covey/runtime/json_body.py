"""What a JSON request body (or WebSocket message) may be, checked before anything runs.

A body must be UTF-8 JSON nested at most `MAX_JSON_DEPTH` levels. Deeper documents are refused
before they are decoded: a parser or a store further on would fail on them (msgspec gives up near
1,000 levels, the session save earlier), after the model had already run.
"""

from __future__ import annotations

import re
from typing import Any

from litestar import Request
from litestar.exceptions import SerializationException
from litestar.serialization import decode_json

from covey.runtime.problems import ApiError

__all__ = ["MAX_JSON_DEPTH", "JsonRequest", "decode_json_body"]

MAX_JSON_DEPTH = 64
"""The deepest nesting of arrays and objects a request body may have."""

_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKET = re.compile(rb"[^\[\]{}]+")
_OPENS = frozenset(b"[{")


def _too_deep(raw: bytes) -> bool:
    if raw.count(b"[") + raw.count(b"{") <= MAX_JSON_DEPTH:
        return False
    depth = 0
    for byte in _NOT_BRACKET.sub(b"", _STRING.sub(b"", raw)):
        if byte in _OPENS:
            depth += 1
            if depth > MAX_JSON_DEPTH:
                return True
        else:
            depth -= 1
    return False


def decode_json_body(raw: bytes, *, where: str = "body") -> Any:
    """Decode `raw` as a JSON body, or raise a 400 problem naming what is wrong.

    Args:
        raw: The bytes received.
        where: What they are, for the message (`body`, `message`).

    Raises:
        ApiError: 400 `invalid-encoding` (not UTF-8), `too-deep` (nested deeper than
            `MAX_JSON_DEPTH`) or `bad-request` (not JSON).
    """
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ApiError(
            400,
            "invalid-encoding",
            f"The {where} is not valid UTF-8 (byte {exc.start}); JSON must be sent as UTF-8",
        ) from None
    if _too_deep(raw):
        raise ApiError(
            400,
            "too-deep",
            f"The {where} nests arrays and objects more than {MAX_JSON_DEPTH} levels deep",
        )
    try:
        return decode_json(raw or b"null")
    except SerializationException as exc:
        raise ApiError(400, "bad-request", f"The {where} is not valid JSON: {exc}") from None


class JsonRequest(Request[Any, Any, Any]):
    """The app's request class: `json()` checks the body with `decode_json_body`."""

    async def json(self) -> Any:
        """The decoded JSON body (400 problem when it is not UTF-8 JSON within the limits)."""
        return decode_json_body(await self.body())
