"""Token and request accounting, normalised across providers."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Usage"]

_COUNTERS = (
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
    "requests",
    "tool_calls",
)


class Usage(BaseModel):
    """What a request, run, session or user consumed.

    `input_tokens` counts every prompt token, cached ones included; `cache_read_tokens` and
    `cache_write_tokens` say how many of them hit or filled the provider's prompt cache.
    `output_tokens` includes `reasoning_tokens`. Adapters normalise their provider's numbers to
    this meaning, so totals add up the same whatever the provider.
    """

    model_config = ConfigDict(defer_build=True, extra="forbid")

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    requests: int = 0
    tool_calls: int = 0
    details: dict[str, int] = Field(default_factory=dict[str, int])
    """Provider-specific counters (e.g. `audio_input_tokens`), summed like the others."""

    @property
    def total_tokens(self) -> int:
        """Input plus output tokens."""
        return self.input_tokens + self.output_tokens

    def incr(self, other: Usage) -> None:
        """Add `other` into this usage in place."""
        for name in _COUNTERS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for key, value in other.details.items():
            self.details[key] = self.details.get(key, 0) + value

    def __add__(self, other: Usage) -> Usage:
        total = self.model_copy(deep=True)
        total.incr(other)
        return total

    def has_values(self) -> bool:
        """Whether any counter is non-zero."""
        return any(getattr(self, name) for name in _COUNTERS) or any(self.details.values())
