"""Thought signatures and tool-call ids: what Gemini needs back when a history is replayed.

A Gemini part may carry a `thoughtSignature` (opaque bytes, base64 on the wire). Covey keeps it,
base64-encoded, in the `provider_details` of the part it came with, under `thought_signature`, and
sends it back on that same part. Gemini may leave a function call without an id; Covey then makes
one up and marks the part `synthetic_id`, so the made-up id never goes back to Gemini.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from typing import Any

__all__ = [
    "PROVIDER",
    "SIGNATURE_KEY",
    "SKIP_SIGNATURE",
    "SYNTHETIC_ID_KEY",
    "TRAILING_SIGNATURES_KEY",
    "decode_signature",
    "encode_signature",
    "new_tool_call_id",
    "signature_of",
]

PROVIDER = "google"
"""The `provider_name` of responses this adapter makes; only their details are replayed."""

SIGNATURE_KEY = "thought_signature"
SYNTHETIC_ID_KEY = "synthetic_id"
TRAILING_SIGNATURES_KEY = "trailing_signatures"
"""Signatures that came on empty parts after this one in a stream; replayed as empty parts."""

# Gemini's documented stand-in for a function call whose signature is unknown (one made by
# another provider's model): it tells Gemini 3 to skip its signature check for that call.
SKIP_SIGNATURE = base64.urlsafe_b64decode("skip_thought_signature_validator")


def encode_signature(signature: bytes) -> str:
    """The signature as standard base64 text, as the Gemini API sends it."""
    return base64.b64encode(signature).decode("ascii")


def decode_signature(text: str) -> bytes | None:
    """The signature's bytes from standard or URL-safe base64; `None` if it is not base64."""
    normalized = text.strip().replace("-", "+").replace("_", "/")
    normalized += "=" * (-len(normalized) % 4)
    try:
        return base64.b64decode(normalized, validate=True)
    except (binascii.Error, ValueError):
        return None


def signature_of(details: dict[str, Any] | None) -> bytes | None:
    """The signature stored in a part's `provider_details`, if any."""
    if not details:
        return None
    value = details.get(SIGNATURE_KEY)
    return decode_signature(value) if isinstance(value, str) and value else None


def new_tool_call_id() -> str:
    """A fresh id for a function call that Gemini sent without one."""
    return f"gemini_call_{uuid.uuid4().hex[:24]}"
