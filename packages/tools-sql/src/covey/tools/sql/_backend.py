"""What the toolset needs from a database, and the outcomes it maps to tool results."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from sqlalchemy.engine.reflection import Inspector

__all__ = [
    "Backend",
    "Outcome",
    "QueryFailed",
    "QueryRefused",
    "QueryTimedOut",
    "TableFilter",
]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Outcome:
    """A statement's result: at most `max_rows + 1` raw rows (the extra one means "more")."""

    columns: list[str]
    rows: list[tuple[Any, ...]]
    rowcount: int | None = None


class QueryFailed(Exception):  # noqa: N818 - an outcome, named like the others
    """The database rejected or failed the statement; `str()` is its message, safe to show."""


class QueryRefused(QueryFailed):
    """The database refused a write (read-only) or something the toolset does not allow."""


class QueryTimedOut(QueryFailed):
    """The statement ran past the time limit and was stopped."""


class TableFilter(Protocol):
    """Whether a table (schema `None` for the default schema) is in the allow-list."""

    def __call__(self, schema: str | None, name: str) -> bool: ...


class Backend(Protocol):
    """One database: SQLite (`covey.tools.sql._sqlite`) or PostgreSQL (`._postgres`)."""

    dialect: str
    default_schema: str

    async def open(self) -> None:
        """Create the engine (cheap; connections are made per call)."""
        ...

    async def close(self) -> None:
        """Dispose of the engine; `open` may be called again."""
        ...

    async def query(
        self, sql: str, params: dict[str, Any] | None, *, max_rows: int, limit: float
    ) -> Outcome:
        """Run one statement; raises `QueryFailed` / `QueryRefused` / `QueryTimedOut`."""
        ...

    async def inspect(self, work: Callable[[Inspector], T], *, limit: float) -> T:
        """Run `work` on an inspector over a read-only connection."""
        ...
