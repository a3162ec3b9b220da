"""Reading HTTP response headers that every model adapter meets, the same way everywhere."""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from datetime import UTC
from email.utils import parsedate_to_datetime

__all__ = ["retry_after_seconds"]


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """The seconds a server asked a client to wait before retrying, or `None` when it did not say.

    Reads `retry-after-ms` (milliseconds; OpenAI and Anthropic send it) first, then `retry-after`
    as delay-seconds (`"7"`, `"0.25"`) or an HTTP-date, counted from now (a date already past
    gives `0.0`). Header names match in any case. A value that is missing, empty, not a number or
    a date, negative or not finite is ignored, so a bad `retry-after-ms` falls back to
    `retry-after`. Pass it an SDK error's response headers to fill
    `RateLimitedError.retry_after`.

    Args:
        headers: The response headers (a `dict`, or an HTTP client's header mapping).

    Example:
        ```python
        from covey.spec.http_headers import retry_after_seconds

        assert retry_after_seconds({"Retry-After-Ms": "1500", "retry-after": "9"}) == 1.5
        assert retry_after_seconds({"retry-after": "soon"}) is None
        ```
    """
    lowered = {name.lower(): value for name, value in headers.items()}
    millis = _seconds(lowered.get("retry-after-ms"))
    if millis is not None:
        return millis / 1000
    value = lowered.get("retry-after")
    if value is None:
        return None
    seconds = _seconds(value)
    return seconds if seconds is not None else _until(value)


def _seconds(value: str | None) -> float | None:
    """A non-negative, finite number, or `None`."""
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) and number >= 0 else None


def _until(value: str) -> float | None:
    """Seconds from now to the HTTP-date `value` (at least 0), or `None` if it is not a date."""
    try:
        when = parsedate_to_datetime(value)
        if when.tzinfo is None:  # `-0000` parses naive; an HTTP-date is always UTC
            when = when.replace(tzinfo=UTC)
        return max(when.timestamp() - time.time(), 0.0)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
