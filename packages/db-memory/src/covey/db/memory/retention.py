"""`Retention`: how much a `MemoryStore` keeps, and how it is read from a `memory://` URL."""

from __future__ import annotations

from dataclasses import dataclass, fields
from urllib.parse import parse_qsl, urlsplit

from covey.spec.errors import ConfigurationError

__all__ = ["Retention"]


@dataclass(frozen=True, slots=True)
class Retention:
    """The limits that keep a long-running `MemoryStore` from growing without bound.

    The limits count rows of the whole store, every tenant together. When a limit is passed,
    the oldest rows go first. Running and paused runs are never
    evicted, nor is a session while one of its runs is running or paused.

    Args:
        max_runs: Finished runs kept (completed, failed, cancelled, interrupted...); the one
            that finished longest ago is dropped first, with its event log and approvals.
        max_events_per_run: Events kept per run; past it the oldest events of that run are
            dropped (a client reconnecting with an older `Last-Event-ID` gets the newest ones),
            and their `seq` numbers stay taken.
        max_sessions: Sessions kept; the least recently saved one is dropped first (its runs
            stay until `max_runs` drops them).
        max_rows: Rows kept of each other kind: memories, user profiles, learnings, knowledge
            contents, approvals and trace spans (whole traces, oldest first) are dropped oldest
            first; a schedule past the limit is refused instead (`InvalidInputError`), since
            dropping one would silently stop it.

    Raises:
        ConfigurationError: a limit is below 1.
    """

    max_runs: int = 10_000
    max_events_per_run: int = 10_000
    max_sessions: int = 10_000
    max_rows: int = 100_000

    def __post_init__(self) -> None:
        for field in fields(self):
            value = getattr(self, field.name)
            if type(value) is not int or value < 1:
                raise ConfigurationError(
                    f"{field.name} must be a whole number of 1 or more, got {value!r}"
                )

    @classmethod
    def from_url(cls, url: str) -> Retention:
        """The limits a `memory://` URL sets, e.g. `memory://?max_runs=500&max_sessions=100`.

        Raises:
            ConfigurationError: the URL is not `memory://`, or has an unknown or malformed
                parameter.
        """
        parts = urlsplit(url)
        if parts.scheme.lower() != "memory" or parts.netloc or parts.path not in ("", "/"):
            raise ConfigurationError(
                f"Invalid memory store URL {url!r}: expected 'memory://', optionally with "
                "limits, e.g. 'memory://?max_runs=10000'"
            )
        known = {field.name for field in fields(cls)}
        limits: dict[str, int] = {}
        for name, value in parse_qsl(parts.query, keep_blank_values=True, strict_parsing=False):
            if name not in known:
                raise ConfigurationError(
                    f"Unknown memory store parameter {name!r} in {url!r}; known: {sorted(known)}"
                )
            if name in limits:
                raise ConfigurationError(f"Memory store parameter {name!r} is given twice")
            if not value.isdigit():
                raise ConfigurationError(
                    f"Memory store parameter {name}={value!r} must be a whole number of 1 or more"
                )
            limits[name] = int(value)
        return cls(**limits)
