"""Records (`covey.spec.store` models) to rows and back.

A record goes in as one pydantic JSON dump: that text is checked against the size limit,
validated back into the record (so nothing a database could not return is accepted), and split
into columns — JSON fields as JSON text, everything else as plain values. A row comes back by
assembling one JSON document from its columns and validating it once, so every field keeps its
type (media bytes, message parts, enums, aware datetimes).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import PydanticSerializationError
from sqlalchemy import JSON, Column, Table

from covey.db.sql import tables as t
from covey.db.sql.columns import UTCDateTime
from covey.spec.errors import InvalidInputError
from covey.spec.store import (
    Approval,
    KnowledgeContent,
    Learning,
    Memory,
    Run,
    Schedule,
    Session,
    TraceSpan,
    UserProfile,
)

__all__ = [
    "APPROVAL",
    "KNOWLEDGE",
    "LEARNING",
    "MEMORY",
    "PROFILE",
    "RUN",
    "SCHEDULE",
    "SESSION",
    "SPAN",
    "Codec",
    "dump_json",
    "encoded",
    "size_error",
]

R = TypeVar("R", bound=BaseModel)

_JSON_NULL = "null"


def dump_json(value: Any) -> str:
    """Compact JSON text of JSON-ready Python data."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def size_error(what: str, size: int, limit: int) -> InvalidInputError:
    """The error for a row whose JSON is larger than the store's `max_json_bytes`."""
    return InvalidInputError(
        f"{what} is {size / 2**20:.1f} MiB of JSON; the limit is {limit / 2**20:.1f} MiB "
        f"({limit} bytes, SqlStore(max_json_bytes=...)). Store large payloads elsewhere "
        "(files, a knowledge base) and keep a reference; nothing was written."
    )


def encoded(model: BaseModel, what: str, limit: int) -> str:
    """`model` as JSON text, within `limit` bytes.

    Raises:
        InvalidInputError: it cannot be serialised, or it is too large.
    """
    try:
        # Mismatched values are caught by validating this text back; no warnings needed.
        doc = model.model_dump_json(warnings=False)
    except PydanticSerializationError as e:
        raise InvalidInputError(f"{what} cannot be stored as JSON: {e}") from e
    size = len(doc.encode())
    if size > limit:
        raise size_error(what, size, limit)
    return doc


@dataclass(frozen=True, slots=True)
class Codec(Generic[R]):
    """Maps one record type to one table."""

    model: type[R]
    table: Table
    columns: dict[str, str] = field(default_factory=dict[str, str])
    """Record field -> column name, where they differ."""
    json_fields: frozenset[str] = field(init=False)
    time_fields: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        json_fields: set[str] = set()
        time_fields: set[str] = set()
        for name in self.model.model_fields:
            column: Column[Any] = self.table.c[self.column(name)]
            python_type = _python_type(column)
            if python_type is datetime:
                time_fields.add(name)
            elif python_type is None:
                json_fields.add(name)
        object.__setattr__(self, "json_fields", frozenset(json_fields))
        object.__setattr__(self, "time_fields", frozenset(time_fields))

    def column(self, name: str) -> str:
        """The column holding record field `name`."""
        return self.columns.get(name, name)

    def to_values(self, record: R, what: str, limit: int) -> tuple[R, dict[str, Any]]:
        """Check `record` and split it into column values.

        Returns:
            The validated copy of the record, and its column values (without `tenant_id`).

        Raises:
            InvalidInputError: the record is malformed, cannot be serialised or is too large.
        """
        if not isinstance(record, self.model):
            raise InvalidInputError(
                f"{what} must be a {self.model.__name__}, got {type(record).__name__}"
            )
        doc = encoded(record, what, limit)
        try:
            copy = self.model.model_validate_json(doc)
        except ValidationError as e:
            raise InvalidInputError(
                f"{what} is not a valid {self.model.__name__}: {e.errors(include_url=False)[:1]}"
            ) from e
        data: dict[str, Any] = json.loads(doc)
        values: dict[str, Any] = {}
        for name in self.model.model_fields:
            column = self.column(name)
            if name in self.json_fields:
                value = data[name]
                values[column] = None if value is None else dump_json(value)
            elif name in self.time_fields:
                values[column] = getattr(copy, name)
            else:
                values[column] = data[name]
        return copy, values

    def from_row(self, row: Mapping[Any, Any]) -> R:
        """The record a row holds."""
        parts: list[str] = []
        for name in self.model.model_fields:
            value = row[self.column(name)]
            if name in self.json_fields:
                text = _JSON_NULL if value is None else value
            elif value is None:
                text = _JSON_NULL
            elif name in self.time_fields:
                text = f'"{value.isoformat()}"'
            else:
                text = dump_json(value)
            parts.append(f'"{name}":{text}')
        return self.model.model_validate_json("{" + ",".join(parts) + "}")


def _python_type(column: Column[Any]) -> type | None:
    """`datetime`, a plain Python type, or `None` for JSON columns."""
    if isinstance(column.type, UTCDateTime):
        return datetime
    if isinstance(column.type, JSON):
        return None
    return column.type.python_type


SESSION = Codec(Session, t.SESSIONS)
RUN = Codec(Run, t.RUNS)
MEMORY = Codec(Memory, t.MEMORIES)
PROFILE = Codec(UserProfile, t.PROFILES)
LEARNING = Codec(Learning, t.LEARNINGS)
KNOWLEDGE = Codec(KnowledgeContent, t.KNOWLEDGE)
APPROVAL = Codec(Approval, t.APPROVALS)
SCHEDULE = Codec(Schedule, t.SCHEDULES)
SPAN = Codec(TraceSpan, t.SPANS)
