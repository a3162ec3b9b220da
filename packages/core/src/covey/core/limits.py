"""Hard limits on what one run may consume."""

from __future__ import annotations

from dataclasses import dataclass

from covey.spec import Usage
from covey.spec.errors import UsageLimitExceeded

__all__ = ["Budget", "UsageLimits"]


@dataclass(frozen=True, slots=True)
class UsageLimits:
    """Caps checked before every model request and tool batch, and after every response.

    Exceeding one ends the run with status `failed` and `UsageLimitExceeded` as its error; the
    run never calls the model or a tool past a limit. `None` turns a limit off.
    """

    request_limit: int | None = 50
    tool_calls_limit: int | None = 200
    input_tokens_limit: int | None = None
    output_tokens_limit: int | None = None
    total_tokens_limit: int | None = None

    def __post_init__(self) -> None:
        for name in (
            "request_limit",
            "tool_calls_limit",
            "input_tokens_limit",
            "output_tokens_limit",
            "total_tokens_limit",
        ):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"UsageLimits.{name} must be >= 0 or None, got {value}")

    def check_before_request(self, usage: Usage) -> None:
        """Raise if one more model request would pass `request_limit`."""
        if self.request_limit is not None and usage.requests + 1 > self.request_limit:
            raise UsageLimitExceeded(
                f"The next model request would exceed request_limit={self.request_limit}",
                limit="request_limit",
            )

    def check_before_tool_calls(self, usage: Usage, count: int) -> None:
        """Raise if `count` more tool calls would pass `tool_calls_limit`."""
        if self.tool_calls_limit is not None and usage.tool_calls + count > self.tool_calls_limit:
            raise UsageLimitExceeded(
                f"{count} more tool call(s) would exceed tool_calls_limit={self.tool_calls_limit}"
                f" ({usage.tool_calls} made so far)",
                limit="tool_calls_limit",
            )

    def check_tokens(self, usage: Usage) -> None:
        """Raise if the tokens used so far pass a token limit."""
        checks = (
            ("input_tokens_limit", self.input_tokens_limit, usage.input_tokens),
            ("output_tokens_limit", self.output_tokens_limit, usage.output_tokens),
            ("total_tokens_limit", self.total_tokens_limit, usage.total_tokens),
        )
        for name, limit, used in checks:
            if limit is not None and used > limit:
                raise UsageLimitExceeded(f"{used} tokens exceed {name}={limit}", limit=name)


@dataclass(frozen=True, slots=True)
class Budget:
    """An enclosing run's limits and its live usage: a child run (a team member) adds its own
    usage to `usage` as it goes and checks `limits` against it, so a team's limits cover the
    whole team run."""

    limits: UsageLimits
    usage: Usage
