"""Version 1 of the schema, frozen: the tables `covey.db.sql.migrations` creates first.

Kept apart from the later steps only for size; like every step it is never changed once
released (see `covey.db.sql.migrations`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

from covey.db.sql.columns import ID, JSONDocument, UTCDateTime

__all__ = ["STATUS_LENGTH", "v1_initial_schema", "v1_tables"]

STATUS_LENGTH = 32
"""The length of every status-like column (statuses, kinds, triggers)."""
_STATUS = STATUS_LENGTH


def v1_tables(metadata: MetaData) -> None:
    """Add the version-1 tables to `metadata` (the upgrade tests seed old databases with them)."""

    def key(*columns: Column[Any]) -> list[Column[Any]]:
        return [
            Column("tenant_id", ID(), primary_key=True),
            *columns,
        ]

    Table(
        "covey_sessions",
        metadata,
        *key(Column("id", ID(), primary_key=True)),
        Column("user_id", ID()),
        Column("agent_id", ID()),
        Column("state", JSONDocument(), nullable=False),
        Column("summary", Text),
        Column("metadata", JSONDocument(), nullable=False),
        Column("version", Integer, nullable=False),
        Column("created_at", UTCDateTime, nullable=False),
        Column("updated_at", UTCDateTime, nullable=False),
        Index("ix_covey_sessions_user_recent", "tenant_id", "user_id", "updated_at", "id"),
        Index("ix_covey_sessions_recent", "tenant_id", "updated_at", "id"),
    )
    Table(
        "covey_runs",
        metadata,
        *key(Column("id", ID(), primary_key=True)),
        Column("user_id", ID()),
        Column("session_id", ID()),
        Column("agent_id", ID()),
        Column("parent_run_id", ID()),
        Column("status", String(_STATUS), nullable=False),
        Column("input", JSONDocument()),
        Column("output", JSONDocument()),
        Column("usage", JSONDocument(), nullable=False),
        Column("messages", JSONDocument(), nullable=False),
        Column("tool_calls", JSONDocument(), nullable=False),
        Column("requirements", JSONDocument(), nullable=False),
        Column("error", JSONDocument()),
        Column("cancel_requested", Boolean, nullable=False),
        Column("heartbeat_at", UTCDateTime),
        Column("started_at", UTCDateTime),
        Column("finished_at", UTCDateTime),
        Column("created_at", UTCDateTime, nullable=False),
        Column("updated_at", UTCDateTime, nullable=False),
        Column("metadata", JSONDocument(), nullable=False),
        Index("ix_covey_runs_session", "tenant_id", "session_id", "created_at", "id"),
        Index("ix_covey_runs_created", "tenant_id", "created_at", "id"),
        Index("ix_covey_runs_status_heartbeat", "tenant_id", "status", "heartbeat_at"),
    )
    Table(
        "covey_run_events",
        metadata,
        *key(
            Column("run_id", ID(), primary_key=True),
            Column("seq", BigInteger, primary_key=True, autoincrement=False),
        ),
        Column("user_id", ID()),
        Column("type", String(128), nullable=False),
        Column("time", UTCDateTime, nullable=False),
        Column("data", JSONDocument(), nullable=False),
        ForeignKeyConstraint(
            ["tenant_id", "run_id"],
            ["covey_runs.tenant_id", "covey_runs.id"],
            name="fk_covey_run_events_run",
            ondelete="CASCADE",
        ),
    )
    Table(
        "covey_memories",
        metadata,
        *key(Column("id", ID(), primary_key=True)),
        Column("user_id", ID(), nullable=False),
        Column("memory", Text, nullable=False),
        Column("topics", JSONDocument(), nullable=False),
        Column("metadata", JSONDocument(), nullable=False),
        Column("created_at", UTCDateTime, nullable=False),
        Column("updated_at", UTCDateTime, nullable=False),
        Index("ix_covey_memories_user_recent", "tenant_id", "user_id", "updated_at", "id"),
    )
    Table(
        "covey_user_profiles",
        metadata,
        *key(Column("user_id", ID(), primary_key=True)),
        Column("data", JSONDocument(), nullable=False),
        Column("updated_at", UTCDateTime, nullable=False),
    )
    Table(
        "covey_learnings",
        metadata,
        *key(Column("id", ID(), primary_key=True)),
        Column("user_id", ID()),
        Column("namespace", ID(), nullable=False),
        Column("kind", ID(), nullable=False),
        Column("content", Text, nullable=False),
        Column("metadata", JSONDocument(), nullable=False),
        Column("created_at", UTCDateTime, nullable=False),
        Index("ix_covey_learnings_namespace", "tenant_id", "namespace", "created_at", "id"),
    )
    Table(
        "covey_knowledge_contents",
        metadata,
        *key(Column("id", ID(), primary_key=True)),
        Column("user_id", ID()),
        Column("name", Text, nullable=False),
        Column("source", Text),
        Column("content_type", Text),
        Column("status", String(_STATUS), nullable=False),
        Column("status_message", Text),
        Column("metadata", JSONDocument(), nullable=False),
        Column("size", BigInteger),
        Column("created_at", UTCDateTime, nullable=False),
        Column("updated_at", UTCDateTime, nullable=False),
        Index("ix_covey_knowledge_recent", "tenant_id", "updated_at", "id"),
    )
    Table(
        "covey_approvals",
        metadata,
        *key(Column("id", ID(), primary_key=True)),
        Column("user_id", ID()),
        Column("run_id", ID(), nullable=False),
        Column("tool_call_id", ID(), nullable=False),
        Column("tool_name", Text, nullable=False),
        Column("args", JSONDocument(), nullable=False),
        Column("status", String(_STATUS), nullable=False),
        Column("note", Text),
        Column("created_at", UTCDateTime, nullable=False),
        Column("resolved_at", UTCDateTime),
        Column("resolved_by", ID()),
        Column("metadata", JSONDocument(), nullable=False),
        Index("ix_covey_approvals_run", "tenant_id", "run_id"),
    )
    Table(
        "covey_schedules",
        metadata,
        *key(Column("id", ID(), primary_key=True)),
        Column("user_id", ID()),
        Column("name", Text, nullable=False),
        Column("target_kind", String(_STATUS), nullable=False),
        Column("target_id", ID(), nullable=False),
        Column("trigger", String(_STATUS), nullable=False),
        Column("spec", Text, nullable=False),
        Column("timezone", Text, nullable=False),
        Column("payload", JSONDocument(), nullable=False),
        Column("enabled", Boolean, nullable=False),
        Column("next_run_at", UTCDateTime),
        Column("last_run_at", UTCDateTime),
        Column("metadata", JSONDocument(), nullable=False),
        Column("created_at", UTCDateTime, nullable=False),
        Column("updated_at", UTCDateTime, nullable=False),
        Index("ix_covey_schedules_due", "tenant_id", "enabled", "next_run_at"),
    )
    Table(
        "covey_trace_spans",
        metadata,
        *key(
            Column("trace_id", ID(), primary_key=True),
            Column("span_id", ID(), primary_key=True),
        ),
        Column("user_id", ID()),
        Column("parent_span_id", ID()),
        Column("name", Text, nullable=False),
        Column("start", UTCDateTime, nullable=False),
        Column("end", UTCDateTime),
        Column("attributes", JSONDocument(), nullable=False),
        Column("status", String(_STATUS), nullable=False),
        Column("status_message", Text),
        Index("ix_covey_trace_spans_start", "tenant_id", "trace_id", "start"),
    )


def v1_initial_schema(connection: Connection) -> None:
    metadata = MetaData()
    v1_tables(metadata)
    metadata.create_all(connection, checkfirst=False)
