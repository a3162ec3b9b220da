"""The current schema (version `covey.db.sql.migrations.LATEST_VERSION`), as SQLModel tables.

Every table starts with `tenant_id`, part of every primary key, and carries `user_id`. JSON
columns are `JSONB` on PostgreSQL. The tables live in their own SQLModel registry, so they
never clash with an application's own SQLModel tables in the same process.

This module describes the schema the code reads and writes; `covey.db.sql.migrations` builds
it. A test checks that a database migrated from scratch matches these tables exactly.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from covey.db.sql.columns import ID, JSONDocument, UTCDateTime

__all__ = [
    "APPROVALS",
    "EVENTS",
    "KNOWLEDGE",
    "LEARNINGS",
    "MEMORIES",
    "MEMORY_TOPICS",
    "PROFILES",
    "RUNS",
    "SCHEDULES",
    "SCHEMA_VERSION",
    "SESSIONS",
    "SPANS",
    "ApprovalRow",
    "CoveyTable",
    "KnowledgeContentRow",
    "LearningRow",
    "MemoryRow",
    "MemoryTopicRow",
    "RunEventRow",
    "RunRow",
    "ScheduleRow",
    "SchemaVersionRow",
    "SessionRow",
    "TraceSpanRow",
    "UserProfileRow",
    "metadata",
]

_STATUS = 32


class CoveyTable(SQLModel, registry=registry()):
    """Base of Covey's tables: a registry (and `MetaData`) of their own."""


metadata: MetaData = CoveyTable.metadata
"""Every Covey table, at the latest schema version."""


def _table(model: type[SQLModel]) -> Table:
    return cast(Table, model.__table__)  # pyright: ignore[reportAttributeAccessIssue, reportUnknownMemberType]


class SchemaVersionRow(CoveyTable, table=True):
    """One row per migration applied to the database."""

    __tablename__ = "covey_schema_version"  # pyright: ignore[reportAssignmentType]

    version: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))
    description: str = Field(sa_column=Column(Text, nullable=False))
    applied_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))


class SessionRow(CoveyTable, table=True):
    """`covey.spec.store.Session`."""

    __tablename__ = "covey_sessions"  # pyright: ignore[reportAssignmentType]
    __table_args__ = (
        Index("ix_covey_sessions_user_recent", "tenant_id", "user_id", "updated_at", "id"),
        Index("ix_covey_sessions_recent", "tenant_id", "updated_at", "id"),
    )

    tenant_id: str = Field(sa_column=Column(ID(), primary_key=True))
    user_key: str = Field(sa_column=Column(ID(), primary_key=True))
    """The user namespace of the session id: `user_id`, or `''` for a session with no user."""
    id: str = Field(sa_column=Column(ID(), primary_key=True))
    user_id: str | None = Field(sa_column=Column(ID()))
    agent_id: str | None = Field(sa_column=Column(ID()))
    state: Any = Field(sa_column=Column(JSONDocument(), nullable=False))
    summary: str | None = Field(sa_column=Column(Text))
    metadata_: Any = Field(sa_column=Column("metadata", JSONDocument(), nullable=False))
    version: int = Field(sa_column=Column(Integer, nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))


class RunRow(CoveyTable, table=True):
    """`covey.spec.store.Run`: one row per run, its messages and outcome as JSON."""

    __tablename__ = "covey_runs"  # pyright: ignore[reportAssignmentType]
    __table_args__ = (
        Index("ix_covey_runs_session", "tenant_id", "session_id", "created_at", "id"),
        Index("ix_covey_runs_created", "tenant_id", "created_at", "id"),
        Index("ix_covey_runs_status_heartbeat", "tenant_id", "status", "heartbeat_at"),
        Index(
            "ix_covey_runs_user_session", "tenant_id", "user_id", "session_id", "created_at", "id"
        ),
        Index("ix_covey_runs_parent", "tenant_id", "parent_run_id", "created_at", "id"),
        Index("ix_covey_runs_agent", "tenant_id", "agent_id", "created_at", "id"),
    )

    tenant_id: str = Field(sa_column=Column(ID(), primary_key=True))
    id: str = Field(sa_column=Column(ID(), primary_key=True))
    user_id: str | None = Field(sa_column=Column(ID()))
    session_id: str | None = Field(sa_column=Column(ID()))
    agent_id: str | None = Field(sa_column=Column(ID()))
    parent_run_id: str | None = Field(sa_column=Column(ID()))
    status: str = Field(sa_column=Column(String(_STATUS), nullable=False))
    input: Any = Field(sa_column=Column(JSONDocument()))
    output: Any = Field(sa_column=Column(JSONDocument()))
    usage: Any = Field(sa_column=Column(JSONDocument(), nullable=False))
    messages: Any = Field(sa_column=Column(JSONDocument(), nullable=False))
    tool_calls: Any = Field(sa_column=Column(JSONDocument(), nullable=False))
    requirements: Any = Field(sa_column=Column(JSONDocument(), nullable=False))
    error: Any = Field(sa_column=Column(JSONDocument()))
    cancel_requested: bool = Field(sa_column=Column(Boolean, nullable=False))
    heartbeat_at: datetime | None = Field(sa_column=Column(UTCDateTime))
    started_at: datetime | None = Field(sa_column=Column(UTCDateTime))
    finished_at: datetime | None = Field(sa_column=Column(UTCDateTime))
    created_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    metadata_: Any = Field(sa_column=Column("metadata", JSONDocument(), nullable=False))


class RunEventRow(CoveyTable, table=True):
    """One event of a run's append-only log, keyed by `(tenant_id, run_id, seq)`."""

    __tablename__ = "covey_run_events"  # pyright: ignore[reportAssignmentType]
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "run_id"],
            ["covey_runs.tenant_id", "covey_runs.id"],
            name="fk_covey_run_events_run",
            ondelete="CASCADE",
        ),
    )

    tenant_id: str = Field(sa_column=Column(ID(), primary_key=True))
    run_id: str = Field(sa_column=Column(ID(), primary_key=True))
    seq: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    user_id: str | None = Field(sa_column=Column(ID()))
    type: str = Field(sa_column=Column(String(128), nullable=False))
    time: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    data: Any = Field(sa_column=Column(JSONDocument(), nullable=False))


class MemoryRow(CoveyTable, table=True):
    """`covey.spec.store.Memory`."""

    __tablename__ = "covey_memories"  # pyright: ignore[reportAssignmentType]
    __table_args__ = (
        Index("ix_covey_memories_user_recent", "tenant_id", "user_id", "updated_at", "id"),
    )

    tenant_id: str = Field(sa_column=Column(ID(), primary_key=True))
    id: str = Field(sa_column=Column(ID(), primary_key=True))
    user_id: str = Field(sa_column=Column(ID(), nullable=False))
    memory: str = Field(sa_column=Column(Text, nullable=False))
    topics: Any = Field(sa_column=Column(JSONDocument(), nullable=False))
    metadata_: Any = Field(sa_column=Column("metadata", JSONDocument(), nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))


class MemoryTopicRow(CoveyTable, table=True):
    """One topic of a memory, so `list_memories(topic=...)` is an index lookup (version 2)."""

    __tablename__ = "covey_memory_topics"  # pyright: ignore[reportAssignmentType]
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "memory_id"],
            ["covey_memories.tenant_id", "covey_memories.id"],
            name="fk_covey_memory_topics_memory",
            ondelete="CASCADE",
        ),
        Index("ix_covey_memory_topics_topic", "tenant_id", "topic", "memory_id"),
    )

    tenant_id: str = Field(sa_column=Column(ID(), primary_key=True))
    memory_id: str = Field(sa_column=Column(ID(), primary_key=True))
    topic: str = Field(sa_column=Column(Text, primary_key=True))
    user_id: str = Field(sa_column=Column(ID(), nullable=False))


class UserProfileRow(CoveyTable, table=True):
    """`covey.spec.store.UserProfile`: one per user."""

    __tablename__ = "covey_user_profiles"  # pyright: ignore[reportAssignmentType]

    tenant_id: str = Field(sa_column=Column(ID(), primary_key=True))
    user_id: str = Field(sa_column=Column(ID(), primary_key=True))
    data: Any = Field(sa_column=Column(JSONDocument(), nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))


class LearningRow(CoveyTable, table=True):
    """`covey.spec.store.Learning`; `user_id` NULL means shared by the tenant."""

    __tablename__ = "covey_learnings"  # pyright: ignore[reportAssignmentType]
    __table_args__ = (
        Index("ix_covey_learnings_namespace", "tenant_id", "namespace", "created_at", "id"),
        # Version 7: `list_memory_users` and `list_learning_namespaces` read only these.
        Index("ix_covey_learnings_user", "tenant_id", "user_id", "namespace", "created_at"),
        Index("ix_covey_learnings_kinds", "tenant_id", "namespace", "kind", "user_id"),
    )

    tenant_id: str = Field(sa_column=Column(ID(), primary_key=True))
    id: str = Field(sa_column=Column(ID(), primary_key=True))
    user_id: str | None = Field(sa_column=Column(ID()))
    namespace: str = Field(sa_column=Column(ID(), nullable=False))
    kind: str = Field(sa_column=Column(ID(), nullable=False))
    content: str = Field(sa_column=Column(Text, nullable=False))
    metadata_: Any = Field(sa_column=Column("metadata", JSONDocument(), nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))


class KnowledgeContentRow(CoveyTable, table=True):
    """`covey.spec.store.KnowledgeContent`; `user_id` NULL means shared by the tenant."""

    __tablename__ = "covey_knowledge_contents"  # pyright: ignore[reportAssignmentType]
    __table_args__ = (
        Index("ix_covey_knowledge_recent", "tenant_id", "updated_at", "id"),
        Index("ix_covey_knowledge_base", "tenant_id", "knowledge", "updated_at", "id"),
    )

    tenant_id: str = Field(sa_column=Column(ID(), primary_key=True))
    id: str = Field(sa_column=Column(ID(), primary_key=True))
    user_id: str | None = Field(sa_column=Column(ID()))
    name: str = Field(sa_column=Column(Text, nullable=False))
    source: str | None = Field(sa_column=Column(Text))
    content_type: str | None = Field(sa_column=Column(Text))
    status: str = Field(sa_column=Column(String(_STATUS), nullable=False))
    status_message: str | None = Field(sa_column=Column(Text))
    metadata_: Any = Field(sa_column=Column("metadata", JSONDocument(), nullable=False))
    size: int | None = Field(sa_column=Column(BigInteger))
    created_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    # Added by migration 5, hence last.
    knowledge: str = Field(sa_column=Column(ID(), nullable=False, server_default="default"))
    content_hash: str | None = Field(sa_column=Column(Text))
    chunk_count: int = Field(sa_column=Column(Integer, nullable=False, server_default="0"))


class ApprovalRow(CoveyTable, table=True):
    """`covey.spec.store.Approval`."""

    __tablename__ = "covey_approvals"  # pyright: ignore[reportAssignmentType]
    __table_args__ = (
        Index("ix_covey_approvals_run", "tenant_id", "run_id"),
        Index("ix_covey_approvals_inbox", "tenant_id", "status", "created_at", "id"),
    )

    tenant_id: str = Field(sa_column=Column(ID(), primary_key=True))
    id: str = Field(sa_column=Column(ID(), primary_key=True))
    user_id: str | None = Field(sa_column=Column(ID()))
    run_id: str = Field(sa_column=Column(ID(), nullable=False))
    tool_call_id: str = Field(sa_column=Column(ID(), nullable=False))
    tool_name: str = Field(sa_column=Column(Text, nullable=False))
    args: Any = Field(sa_column=Column(JSONDocument(), nullable=False))
    status: str = Field(sa_column=Column(String(_STATUS), nullable=False))
    note: str | None = Field(sa_column=Column(Text))
    created_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    resolved_at: datetime | None = Field(sa_column=Column(UTCDateTime))
    resolved_by: str | None = Field(sa_column=Column(ID()))
    metadata_: Any = Field(sa_column=Column("metadata", JSONDocument(), nullable=False))


class ScheduleRow(CoveyTable, table=True):
    """`covey.spec.store.Schedule`."""

    __tablename__ = "covey_schedules"  # pyright: ignore[reportAssignmentType]
    __table_args__ = (
        Index("ix_covey_schedules_due", "tenant_id", "enabled", "next_run_at"),
        Index("ix_covey_schedules_due_tenants", "enabled", "next_run_at", "tenant_id"),
    )

    tenant_id: str = Field(sa_column=Column(ID(), primary_key=True))
    id: str = Field(sa_column=Column(ID(), primary_key=True))
    user_id: str | None = Field(sa_column=Column(ID()))
    name: str = Field(sa_column=Column(Text, nullable=False))
    target_kind: str = Field(sa_column=Column(String(_STATUS), nullable=False))
    target_id: str = Field(sa_column=Column(ID(), nullable=False))
    trigger: str = Field(sa_column=Column(String(_STATUS), nullable=False))
    spec: str = Field(sa_column=Column(Text, nullable=False))
    timezone: str = Field(sa_column=Column(Text, nullable=False))
    payload: Any = Field(sa_column=Column(JSONDocument(), nullable=False))
    enabled: bool = Field(sa_column=Column(Boolean, nullable=False))
    next_run_at: datetime | None = Field(sa_column=Column(UTCDateTime))
    last_run_at: datetime | None = Field(sa_column=Column(UTCDateTime))
    metadata_: Any = Field(sa_column=Column("metadata", JSONDocument(), nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))


class TraceSpanRow(CoveyTable, table=True):
    """`covey.spec.store.TraceSpan`, keyed by `(tenant_id, trace_id, span_id)`."""

    __tablename__ = "covey_trace_spans"  # pyright: ignore[reportAssignmentType]
    __table_args__ = (Index("ix_covey_trace_spans_start", "tenant_id", "trace_id", "start"),)

    tenant_id: str = Field(sa_column=Column(ID(), primary_key=True))
    trace_id: str = Field(sa_column=Column(ID(), primary_key=True))
    span_id: str = Field(sa_column=Column(ID(), primary_key=True))
    user_id: str | None = Field(sa_column=Column(ID()))
    parent_span_id: str | None = Field(sa_column=Column(ID()))
    name: str = Field(sa_column=Column(Text, nullable=False))
    start: datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    end: datetime | None = Field(sa_column=Column(UTCDateTime))
    attributes: Any = Field(sa_column=Column(JSONDocument(), nullable=False))
    status: str = Field(sa_column=Column(String(_STATUS), nullable=False))
    status_message: str | None = Field(sa_column=Column(Text))


SCHEMA_VERSION = _table(SchemaVersionRow)
SESSIONS = _table(SessionRow)
RUNS = _table(RunRow)
EVENTS = _table(RunEventRow)
MEMORIES = _table(MemoryRow)
MEMORY_TOPICS = _table(MemoryTopicRow)
PROFILES = _table(UserProfileRow)
LEARNINGS = _table(LearningRow)
KNOWLEDGE = _table(KnowledgeContentRow)
APPROVALS = _table(ApprovalRow)
SCHEDULES = _table(ScheduleRow)
SPANS = _table(TraceSpanRow)
