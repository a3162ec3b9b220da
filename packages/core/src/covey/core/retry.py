"""When and how long to wait before retrying a failed model request.

`RetryPolicy` only decides (`delay_for`); the run loop owns the retry loop so that every retry is
an event. `call_with_retries` is the small loop for callers that need no events.
"""

from __future__ import annotations

import math
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import anyio

from covey.spec.errors import ModelConnectionError, ModelServerError, RateLimitedError

__all__ = ["DEFAULT_RETRY", "RetryPolicy", "call_with_retries"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often to retry a failed model request, and how long to wait in between.

    The wait before retry `n` is `initial_delay * multiplier ** (n - 1)`, capped at `max_delay`,
    then spread by up to `jitter` of itself either way (never above `max_delay`). When the error
    says how long to wait (`RateLimitedError.retry_after`) that wait is used instead, plus up to
    `jitter` of it; a wait longer than `max_retry_after` is not waited for: the error propagates,
    so a `FallbackModel` can move on to another model.

    Attributes:
        max_attempts: Attempts in total, the first included; 1 means never retry.
        initial_delay: Seconds before the first retry.
        max_delay: The longest backoff, in seconds.
        multiplier: How much each backoff grows over the previous one.
        jitter: The fraction by which a delay is randomly spread; 0 makes delays deterministic.
        honour_retry_after: Wait as long as the provider asked, when it said.
        max_retry_after: The longest provider-requested wait, in seconds, worth waiting for.
        retry_on: The error classes worth retrying; any other error propagates at once.

    Raises:
        ValueError: an argument is out of range.

    Example:
        ```python
        policy = RetryPolicy(max_attempts=5, initial_delay=1.0, jitter=0)
        policy.delay_for(1, ModelServerError("overloaded", status_code=529))  # 1.0
        ```
    """

    max_attempts: int = 3
    initial_delay: float = 0.5
    max_delay: float = 30.0
    multiplier: float = 2.0
    jitter: float = 0.1
    honour_retry_after: bool = True
    max_retry_after: float = 60.0
    retry_on: tuple[type[BaseException], ...] = (
        RateLimitedError,
        ModelServerError,
        ModelConnectionError,
    )

    def __post_init__(self) -> None:
        if isinstance(self.max_attempts, bool) or not isinstance(self.max_attempts, int):  # pyright: ignore[reportUnnecessaryIsInstance] - untyped callers
            raise ValueError(f"RetryPolicy.max_attempts must be an int, got {self.max_attempts!r}.")
        if self.max_attempts < 1:
            raise ValueError(
                f"RetryPolicy.max_attempts must be at least 1 (the first attempt), got "
                f"{self.max_attempts}; use RetryPolicy.none() to never retry."
            )
        for name in ("initial_delay", "max_delay", "max_retry_after"):
            value: float = getattr(self, name)
            if not math.isfinite(value) or value < 0:
                raise ValueError(
                    f"RetryPolicy.{name} must be a finite number of seconds >= 0, got {value!r}."
                )
        if self.max_delay < self.initial_delay:
            raise ValueError(
                f"RetryPolicy.max_delay ({self.max_delay}) must not be less than initial_delay "
                f"({self.initial_delay})."
            )
        if not math.isfinite(self.multiplier) or self.multiplier < 1:
            raise ValueError(
                f"RetryPolicy.multiplier must be a finite number >= 1, got {self.multiplier!r}."
            )
        if not 0 <= self.jitter <= 1:
            raise ValueError(
                f"RetryPolicy.jitter must be a fraction between 0 and 1, got {self.jitter!r}."
            )
        if not isinstance(self.retry_on, tuple) or not all(  # pyright: ignore[reportUnnecessaryIsInstance]
            isinstance(cls, type) and issubclass(cls, BaseException)  # pyright: ignore[reportUnnecessaryIsInstance]
            for cls in self.retry_on
        ):
            raise ValueError(
                f"RetryPolicy.retry_on must be a tuple of exception classes, got {self.retry_on!r}."
            )

    @classmethod
    def none(cls) -> RetryPolicy:
        """A policy that never retries."""
        return cls(max_attempts=1)

    def is_retryable(self, error: BaseException) -> bool:
        """Whether `error` is of a class this policy retries (attempts and waits aside)."""
        return isinstance(error, self.retry_on)

    def delay_for(self, attempt: int, error: BaseException) -> float | None:
        """Seconds to wait before retrying after attempt number `attempt` failed with `error`.

        Args:
            attempt: The attempt that just failed, counting from 1.
            error: What it failed with.

        Returns:
            The delay in seconds, or `None` when the request must not be retried: the error is
            not retryable, every attempt is used, or the provider asked for a longer wait than
            `max_retry_after`.

        Raises:
            ValueError: `attempt` is less than 1.
        """
        if attempt < 1:
            raise ValueError(f"attempt counts from 1, got {attempt}.")
        if attempt >= self.max_attempts or not self.is_retryable(error):
            return None
        retry_after = self._retry_after(error)
        if retry_after is not None:
            if retry_after > self.max_retry_after:
                return None
            # Never earlier than asked; a little later spreads clients that were told alike.
            return retry_after * (1 + self.jitter * random.random())
        try:
            backoff = min(self.max_delay, self.initial_delay * self.multiplier ** (attempt - 1))
        except OverflowError:
            backoff = self.max_delay
        if self.jitter:
            backoff *= 1 + self.jitter * random.uniform(-1.0, 1.0)
        return min(self.max_delay, max(0.0, backoff))

    def _retry_after(self, error: BaseException) -> float | None:
        if not self.honour_retry_after:
            return None
        value = getattr(error, "retry_after", None)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
            return float(value)
        return None


DEFAULT_RETRY = RetryPolicy()
"""The retry policy of an agent or team that sets none (shared: policies are immutable)."""


async def call_with_retries(
    policy: RetryPolicy,
    fn: Callable[[], Awaitable[T]],
    *,
    on_retry: Callable[[int, float, BaseException], Awaitable[None]] | None = None,
    sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
) -> T:
    """Await `fn()`, retrying as `policy` says, and return its result.

    Only `Exception`s are retried: cancellation always propagates at once.

    Args:
        policy: Decides whether and when to retry.
        fn: Makes one attempt; called again for every retry.
        on_retry: Awaited before each wait with the failed attempt's number (from 1), the delay
            and the error, e.g. to emit an event.
        sleep: Waits the delay; tests pass a fake.

    Returns:
        What the first successful attempt returned.

    Raises:
        Exception: the last error, when it is not retryable or every attempt failed.
    """
    attempt = 1
    while True:
        try:
            return await fn()
        except Exception as error:
            delay = policy.delay_for(attempt, error)
            if delay is None:
                if attempt > 1:
                    error.add_note(f"Gave up after {attempt} attempts.")
                raise
            if on_retry is not None:
                await on_retry(attempt, delay, error)
            await sleep(delay)
            attempt += 1
