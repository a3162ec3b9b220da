"""RetryPolicy decides whether and how long to wait; call_with_retries runs the loop."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from covey.core.retry import RetryPolicy, call_with_retries
from covey.spec.errors import (
    AuthenticationError,
    ContextOverflowError,
    ModelConnectionError,
    ModelServerError,
    RateLimitedError,
)


def server_error() -> ModelServerError:
    return ModelServerError("overloaded", status_code=529)


def test_defaults() -> None:
    policy = RetryPolicy()
    assert policy.max_attempts == 3
    assert policy.retry_on == (RateLimitedError, ModelServerError, ModelConnectionError)
    with pytest.raises(dataclasses.FrozenInstanceError):
        policy.max_attempts = 5  # type: ignore[misc]


def test_delays_grow_exponentially_up_to_the_cap() -> None:
    policy = RetryPolicy(max_attempts=10, initial_delay=0.5, multiplier=2, max_delay=3, jitter=0)
    delays = [policy.delay_for(attempt, server_error()) for attempt in range(1, 7)]
    assert delays == [0.5, 1.0, 2.0, 3.0, 3.0, 3.0]


def test_huge_attempt_numbers_stay_at_the_cap() -> None:
    policy = RetryPolicy(max_attempts=100_000, max_delay=7, jitter=0)
    assert policy.delay_for(99_999, ModelConnectionError("down")) == 7


def test_attempts_exhausted() -> None:
    policy = RetryPolicy(max_attempts=3, jitter=0)
    assert policy.delay_for(2, server_error()) == 1.0
    assert policy.delay_for(3, server_error()) is None
    assert policy.delay_for(4, server_error()) is None


@pytest.mark.parametrize(
    "error",
    [
        ValueError("bug"),
        AuthenticationError("bad key", status_code=401),
        ContextOverflowError("too long", status_code=400),
    ],
)
def test_errors_not_listed_are_not_retried(error: BaseException) -> None:
    assert RetryPolicy().delay_for(1, error) is None


def test_retry_on_is_configurable() -> None:
    policy = RetryPolicy(retry_on=(ContextOverflowError,), jitter=0)
    assert policy.delay_for(1, ContextOverflowError("x", status_code=400)) == 0.5
    assert policy.delay_for(1, server_error()) is None


def test_retry_after_is_honoured() -> None:
    policy = RetryPolicy(jitter=0, max_delay=1)
    assert policy.delay_for(1, RateLimitedError(retry_after=7.5)) == 7.5
    # Without a retry-after the backoff applies.
    assert policy.delay_for(1, RateLimitedError()) == 0.5


def test_retry_after_longer_than_the_limit_is_not_waited_for() -> None:
    policy = RetryPolicy(max_retry_after=60, jitter=0)
    assert policy.delay_for(1, RateLimitedError(retry_after=61)) is None
    assert policy.delay_for(1, RateLimitedError(retry_after=60)) == 60


def test_retry_after_can_be_ignored() -> None:
    policy = RetryPolicy(honour_retry_after=False, jitter=0)
    assert policy.delay_for(1, RateLimitedError(retry_after=600)) == 0.5


def test_jitter_spreads_delays_within_bounds() -> None:
    policy = RetryPolicy(max_attempts=5, initial_delay=2, max_delay=100, jitter=0.5)
    delays = [policy.delay_for(2, server_error()) for _ in range(200)]
    assert all(d is not None and 2.0 <= d <= 6.0 for d in delays)
    assert len(set(delays)) > 10
    waits = [policy.delay_for(1, RateLimitedError(retry_after=10)) for _ in range(50)]
    assert all(w is not None and 10 <= w <= 15 for w in waits)


def test_jitter_never_exceeds_max_delay() -> None:
    policy = RetryPolicy(max_attempts=10, initial_delay=4, max_delay=4, jitter=1)
    assert all((policy.delay_for(3, server_error()) or 0) <= 4 for _ in range(100))


def test_none_never_retries() -> None:
    policy = RetryPolicy.none()
    assert policy.max_attempts == 1
    assert policy.delay_for(1, server_error()) is None


def test_attempt_counts_from_one() -> None:
    with pytest.raises(ValueError, match="from 1"):
        RetryPolicy().delay_for(0, server_error())


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_attempts": 0}, "max_attempts must be at least 1"),
        ({"max_attempts": 2.5}, "max_attempts must be an int"),
        ({"initial_delay": -1}, "initial_delay"),
        ({"max_delay": float("inf")}, "max_delay"),
        ({"initial_delay": 5, "max_delay": 1}, "must not be less than initial_delay"),
        ({"multiplier": 0.5}, "multiplier"),
        ({"jitter": 1.5}, "jitter"),
        ({"max_retry_after": -2}, "max_retry_after"),
        ({"retry_on": [ModelServerError]}, "retry_on"),
        ({"retry_on": (ModelServerError, "x")}, "retry_on"),
    ],
)
def test_invalid_arguments(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RetryPolicy(**kwargs)


# --- call_with_retries ---------------------------------------------------------------------------


class Recorder:
    def __init__(self, failures: list[BaseException], result: str = "ok") -> None:
        self.failures = list(failures)
        self.result = result
        self.calls = 0
        self.sleeps: list[float] = []
        self.retries: list[tuple[int, float, BaseException]] = []

    async def fn(self) -> str:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return self.result

    async def sleep(self, delay: float) -> None:
        self.sleeps.append(delay)

    async def on_retry(self, attempt: int, delay: float, error: BaseException) -> None:
        self.retries.append((attempt, delay, error))


async def test_call_with_retries_succeeds_after_failures() -> None:
    first, second = server_error(), RateLimitedError(retry_after=3)
    recorder = Recorder([first, second])
    policy = RetryPolicy(max_attempts=3, jitter=0)
    result = await call_with_retries(
        policy, recorder.fn, on_retry=recorder.on_retry, sleep=recorder.sleep
    )
    assert result == "ok"
    assert recorder.calls == 3
    assert recorder.sleeps == [0.5, 3.0]
    assert recorder.retries == [(1, 0.5, first), (2, 3.0, second)]


async def test_call_with_retries_gives_up_after_max_attempts() -> None:
    errors = [server_error() for _ in range(5)]
    recorder = Recorder(errors)
    with pytest.raises(ModelServerError) as raised:
        await call_with_retries(
            RetryPolicy(max_attempts=3, jitter=0), recorder.fn, sleep=recorder.sleep
        )
    assert raised.value is errors[2]
    assert recorder.calls == 3
    assert recorder.sleeps == [0.5, 1.0]
    assert "Gave up after 3 attempts." in (raised.value.__notes__ or [])


async def test_call_with_retries_does_not_retry_other_errors() -> None:
    recorder = Recorder([AuthenticationError("bad key", status_code=401)])
    with pytest.raises(AuthenticationError):
        await call_with_retries(RetryPolicy(), recorder.fn, sleep=recorder.sleep)
    assert recorder.calls == 1
    assert recorder.sleeps == []


async def test_call_with_retries_never_retries_base_exceptions() -> None:
    class Stop(BaseException):
        pass

    recorder = Recorder([Stop()])
    with pytest.raises(Stop):
        await call_with_retries(
            RetryPolicy(retry_on=(BaseException,)), recorder.fn, sleep=recorder.sleep
        )
    assert recorder.calls == 1


async def test_call_with_retries_sleeps_for_real_by_default() -> None:
    recorder = Recorder([server_error()])
    result = await call_with_retries(RetryPolicy(initial_delay=0.01, jitter=0), recorder.fn)
    assert result == "ok"
    assert recorder.calls == 2
