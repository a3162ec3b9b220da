"""Column types that behave the same on SQLite and PostgreSQL.

- `UTCDateTime`: `timestamptz` on PostgreSQL; on SQLite a fixed-width UTC text that sorts and
  compares correctly. Values come back as aware UTC datetimes on both.
- `JSONDocument`: SQLAlchemy's `JSON`, `JSONB` on PostgreSQL. The engine hands JSON through as
  text in both directions (see `covey.db.sql.engine`), so a document is serialised once by
  pydantic and parsed once by pydantic.
- `ID`: an id column, 255 characters (not bytes) of Unicode.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

from covey.spec.store import MAX_ID_LENGTH

__all__ = ["ID", "JSONDocument", "UTCDateTime"]


class UTCDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime, stored to the microsecond."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Normalise to UTC; SQLite gets a naive UTC value (its text format has no zone)."""
        if value is None:
            return None
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        """Return an aware UTC datetime."""
        if value is None:
            return None
        if isinstance(value, str):  # a value written by hand; SQLAlchemy parses its own
            value = datetime.fromisoformat(value)
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def JSONDocument() -> TypeEngine[Any]:  # noqa: N802 - reads as a type in column definitions
    """A JSON column: `JSON` on SQLite, `JSONB` on PostgreSQL; Python `None` is SQL NULL."""
    return JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")


def ID() -> String:  # noqa: N802 - reads as a type in column definitions
    """An id column of `MAX_ID_LENGTH` characters."""
    return String(MAX_ID_LENGTH)
