"""Versioned schema migrations, applied in order, once, under a database-wide lock.

The database records every applied step in `covey_schema_version` (one row per version).
`migrate` brings it up to `LATEST_VERSION` (or a chosen `target`): each step runs in its own
transaction together with the row that records it, after taking a lock that every Covey
process respects — `pg_advisory_xact_lock` on PostgreSQL, `BEGIN IMMEDIATE` on SQLite — and
re-reading the version under that lock. Two processes starting at once therefore never both
apply a step: the second waits, sees the step done, and moves on.

A database at a version newer than this code raises `SchemaVersionError`.

Steps are frozen once released: each builds exactly the schema of its version with its own
table definitions (never the current ones in `covey.db.sql.tables`), so that upgrading from any
old version gives the same result as creating from scratch. To change the schema, append a
step here and change `covey.db.sql.tables` to match; the tests compare the two.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as distribution_version
from typing import Any

from sqlalchemy import (
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
    func,
    insert,
    inspect,
    select,
    text,
    tuple_,
)

from covey.db.sql.columns import ID, JSONDocument, UTCDateTime
from covey.db.sql.migrations_v1 import STATUS_LENGTH as _STATUS
from covey.db.sql.migrations_v1 import v1_initial_schema
from covey.db.sql.runners import Runner
from covey.db.sql.tables import SCHEMA_VERSION
from covey.spec.errors import ConfigurationError, SchemaVersionError
from covey.spec.store import utc_now

__all__ = [
    "LATEST_VERSION",
    "MIGRATIONS",
    "Migration",
    "current_version",
    "migrate",
    "newer_schema_error",
    "unmigrated_schema_error",
]

_LOCK_KEY = int.from_bytes(hashlib.sha256(b"covey-db-sql:migrate").digest()[:8], "big", signed=True)
"""The PostgreSQL advisory-lock key every Covey process takes while migrating."""


@dataclass(frozen=True, slots=True)
class Migration:
    """One schema step.

    Attributes:
        version: The schema version this step brings the database to.
        description: What it does, recorded in `covey_schema_version`.
        apply: Runs the step on a connection inside the migration's transaction.
    """

    version: int
    description: str
    apply: Callable[[Connection], None]


# --- version 2: memory topics as rows; the approval inbox index ----------------------------------

_BACKFILL_PAGE = 1000


def _v2_memory_topics(connection: Connection) -> None:
    metadata = MetaData()
    memories = Table(
        "covey_memories",
        metadata,
        Column("tenant_id", ID(), primary_key=True),
        Column("id", ID(), primary_key=True),
        Column("user_id", ID(), nullable=False),
        Column("topics", JSONDocument(), nullable=False),
    )
    topics = Table(
        "covey_memory_topics",
        metadata,
        Column("tenant_id", ID(), primary_key=True),
        Column("memory_id", ID(), primary_key=True),
        Column("topic", Text, primary_key=True),
        Column("user_id", ID(), nullable=False),
        ForeignKeyConstraint(
            ["tenant_id", "memory_id"],
            ["covey_memories.tenant_id", "covey_memories.id"],
            name="fk_covey_memory_topics_memory",
            ondelete="CASCADE",
        ),
        Index("ix_covey_memory_topics_topic", "tenant_id", "topic", "memory_id"),
    )
    topics.create(connection, checkfirst=False)
    approvals = Table(
        "covey_approvals",
        metadata,
        Column("tenant_id", ID(), primary_key=True),
        Column("id", ID(), primary_key=True),
        Column("status", String(_STATUS), nullable=False),
        Column("created_at", UTCDateTime, nullable=False),
    )
    Index(
        "ix_covey_approvals_inbox",
        approvals.c.tenant_id,
        approvals.c.status,
        approvals.c.created_at,
        approvals.c.id,
    ).create(connection, checkfirst=False)

    # Backfill from the memories' JSON topics, a page at a time (keyset on the primary key).
    after: tuple[str, str] | None = None
    while True:
        query = select(
            memories.c.tenant_id, memories.c.id, memories.c.user_id, memories.c.topics
        ).order_by(memories.c.tenant_id, memories.c.id)
        if after is not None:
            query = query.where(tuple_(memories.c.tenant_id, memories.c.id) > tuple_(*after))
        rows = connection.execute(query.limit(_BACKFILL_PAGE)).all()
        if not rows:
            return
        values: list[dict[str, Any]] = []
        for tenant_id, memory_id, user_id, raw in rows:
            found: Any = json.loads(raw) if isinstance(raw, str | bytes) else raw
            names = [name for name in list(found or []) if isinstance(name, str)]
            for topic in dict.fromkeys(names):
                values.append(
                    {
                        "tenant_id": tenant_id,
                        "memory_id": memory_id,
                        "topic": topic,
                        "user_id": user_id,
                    }
                )
        if values:
            connection.execute(insert(topics), values)
        after = (rows[-1][0], rows[-1][1])


# --- version 3: session ids namespaced per user ----------------------------------------------------


def _v3_sessions_per_user(connection: Connection) -> None:
    """Key sessions by `(tenant_id, user_key, id)`; `user_key` is the user id, `''` for none.

    A primary key cannot change in place on SQLite, so the table is rebuilt: a new table,
    every row copied, the old one dropped and the new one renamed, then its indexes built.
    """
    metadata = MetaData()
    old = Table("covey_sessions", metadata, autoload_with=connection)
    new = Table(
        "covey_sessions_v3",
        metadata,
        Column("tenant_id", ID(), primary_key=True),
        Column("user_key", ID(), primary_key=True),
        Column("id", ID(), primary_key=True),
        Column("user_id", ID()),
        Column("agent_id", ID()),
        Column("state", JSONDocument(), nullable=False),
        Column("summary", Text),
        Column("metadata", JSONDocument(), nullable=False),
        Column("version", Integer, nullable=False),
        Column("created_at", UTCDateTime, nullable=False),
        Column("updated_at", UTCDateTime, nullable=False),
    )
    new.create(connection, checkfirst=False)
    copied = [c.name for c in new.columns if c.name != "user_key"]
    connection.execute(
        insert(new).from_select(
            ["user_key", *copied],
            select(func.coalesce(old.c.user_id, ""), *(old.c[name] for name in copied)),
        )
    )
    old.drop(connection)
    connection.execute(text("ALTER TABLE covey_sessions_v3 RENAME TO covey_sessions"))
    renamed = Table(
        "covey_sessions",
        MetaData(),
        Column("tenant_id", ID()),
        Column("user_id", ID()),
        Column("updated_at", UTCDateTime),
        Column("id", ID()),
    )
    c = renamed.c
    Index("ix_covey_sessions_user_recent", c.tenant_id, c.user_id, c.updated_at, c.id).create(
        connection, checkfirst=False
    )
    Index("ix_covey_sessions_recent", c.tenant_id, c.updated_at, c.id).create(
        connection, checkfirst=False
    )
    # The runs of one user's session, by the key a session's runs are listed with.
    runs = Table(
        "covey_runs",
        MetaData(),
        Column("tenant_id", ID()),
        Column("user_id", ID()),
        Column("session_id", ID()),
        Column("created_at", UTCDateTime),
        Column("id", ID()),
    )
    r = runs.c
    Index(
        "ix_covey_runs_user_session", r.tenant_id, r.user_id, r.session_id, r.created_at, r.id
    ).create(connection, checkfirst=False)


# --- version 4: the runs a run started (team members, workflow steps) -----------------------------


def _v4_child_runs(connection: Connection) -> None:
    """Index runs by parent, so `list_runs(parent_run_id=...)` reads one run's children."""
    runs = Table(
        "covey_runs",
        MetaData(),
        Column("tenant_id", ID()),
        Column("parent_run_id", ID()),
        Column("created_at", UTCDateTime),
        Column("id", ID()),
    )
    r = runs.c
    Index("ix_covey_runs_parent", r.tenant_id, r.parent_run_id, r.created_at, r.id).create(
        connection, checkfirst=False
    )


# --- version 5: knowledge contents belong to a knowledge base, with a hash and a chunk count ------


def _v5_knowledge_bases(connection: Connection) -> None:
    """Add `knowledge`, `content_hash` and `chunk_count`, and index contents by knowledge base.

    Existing rows join the knowledge base `default` with a chunk count of 0.
    """
    preparer = connection.dialect.identifier_preparer
    table = preparer.quote("covey_knowledge_contents")
    id_type = ID().compile(dialect=connection.dialect)
    for column in (
        f"knowledge {id_type} DEFAULT 'default' NOT NULL",
        "content_hash TEXT",
        "chunk_count INTEGER DEFAULT 0 NOT NULL",
    ):
        connection.exec_driver_sql(f"ALTER TABLE {table} ADD COLUMN {column}")
    contents = Table(
        "covey_knowledge_contents",
        MetaData(),
        Column("tenant_id", ID()),
        Column("knowledge", ID()),
        Column("updated_at", UTCDateTime),
        Column("id", ID()),
    )
    c = contents.c
    Index("ix_covey_knowledge_base", c.tenant_id, c.knowledge, c.updated_at, c.id).create(
        connection, checkfirst=False
    )


# --- version 6: runs by agent (the console's runs list) --------------------------------------------


def _v6_runs_by_agent(connection: Connection) -> None:
    """Index runs by agent, so `list_runs(agent_id=...)` reads one agent's runs in order."""
    columns = ("tenant_id", "agent_id", "created_at", "id")
    runs = Table("covey_runs", MetaData(), *(Column(c, ID()) for c in columns))
    Index("ix_covey_runs_agent", *(runs.c[c] for c in columns)).create(connection, checkfirst=False)


# --- version 7: the users and the learning namespaces of a tenant (the console's memories) -----


def _v7_memory_directory(connection: Connection) -> None:
    """Index learnings by user and by namespace and kind, so `list_memory_users` and
    `list_learning_namespaces` group them from an index instead of scanning the table."""
    learnings = Table(
        "covey_learnings",
        MetaData(),
        Column("tenant_id", ID()),
        Column("user_id", ID()),
        Column("namespace", ID()),
        Column("kind", ID()),
        Column("created_at", UTCDateTime),
    )
    c = learnings.c
    Index("ix_covey_learnings_user", c.tenant_id, c.user_id, c.namespace, c.created_at).create(
        connection, checkfirst=False
    )
    Index("ix_covey_learnings_kinds", c.tenant_id, c.namespace, c.kind, c.user_id).create(
        connection, checkfirst=False
    )


# --- version 8: which tenants have due schedules (every process fires every tenant's) ----------


def _v8_due_tenants(connection: Connection) -> None:
    """Index schedules by `(enabled, next_run_at, tenant_id)`, so `list_due_tenants` reads the
    due range across tenants from the index alone (`ix_covey_schedules_due` leads with the
    tenant and serves only one tenant's `list_due`)."""
    schedules = Table(
        "covey_schedules",
        MetaData(),
        Column("tenant_id", ID()),
        Column("enabled", Boolean),
        Column("next_run_at", UTCDateTime),
    )
    c = schedules.c
    Index("ix_covey_schedules_due_tenants", c.enabled, c.next_run_at, c.tenant_id).create(
        connection, checkfirst=False
    )


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "initial schema", v1_initial_schema),
    Migration(
        2, "memory topics table (indexed topic filter); approval inbox index", _v2_memory_topics
    ),
    Migration(3, "session ids namespaced per user (tenant, user, id)", _v3_sessions_per_user),
    Migration(4, "index of runs by parent run (member and step runs)", _v4_child_runs),
    Migration(
        5, "knowledge contents: knowledge base name, content hash, chunk count", _v5_knowledge_bases
    ),
    Migration(6, "index of runs by agent (the console's runs list)", _v6_runs_by_agent),
    Migration(7, "indexes of learnings by user and by namespace and kind", _v7_memory_directory),
    Migration(8, "index of due schedules across tenants", _v8_due_tenants),
)
"""Every step, in order; versions are 1, 2, 3, ... without gaps."""

LATEST_VERSION: int = MIGRATIONS[-1].version
"""The schema version this code reads and writes."""


# --- running them --------------------------------------------------------------------------------


def _package_version() -> str:
    try:
        return distribution_version("covey-db-sql")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "unknown"


def newer_schema_error(found: int, where: str) -> SchemaVersionError:
    """The error for a database whose schema is newer than this code knows."""
    return SchemaVersionError(
        f"The database at {where} is at schema version {found}, but covey-db-sql "
        f"{_package_version()} only knows versions up to {LATEST_VERSION}. A newer Covey "
        "migrated it: upgrade covey-db-sql in this process too (pip install -U covey-db-sql). "
        "Nothing was changed."
    )


def unmigrated_schema_error(found: int, where: str) -> SchemaVersionError:
    """The error for a database not yet migrated to `LATEST_VERSION` (auto-migration off)."""
    return SchemaVersionError(
        f"The database at {where} is at schema version {found}; this code needs version "
        f"{LATEST_VERSION}. Run `covey migrate` (or `await store.migrate()`), or create the "
        "store with auto_migrate=True."
    )


def _read_version(connection: Connection) -> int:
    if not inspect(connection).has_table(SCHEMA_VERSION.name):
        return 0
    found = connection.execute(select(func.max(SCHEMA_VERSION.c.version))).scalar()
    return int(found or 0)


async def current_version(runner: Runner) -> int:
    """The schema version of the database behind `runner` (0 when it has none yet)."""
    return await runner.read(_read_version)


def _lock(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
    # SQLite: the runner opens every write transaction with BEGIN IMMEDIATE, which takes the
    # database's write lock before anything is read.


def _apply(step: Migration, where: str, connection: Connection) -> bool:
    """Apply `step` under the lock unless it is already there; whether this call applied it."""
    _lock(connection)
    SCHEMA_VERSION.create(connection, checkfirst=True)
    found = _read_version(connection)
    if found > LATEST_VERSION:
        raise newer_schema_error(found, where)
    if found >= step.version:
        return False  # another process applied it while we waited for the lock
    step.apply(connection)
    connection.execute(
        insert(SCHEMA_VERSION).values(
            version=step.version, description=step.description, applied_at=utc_now()
        )
    )
    return True


async def migrate(
    runner: Runner,
    *,
    where: str,
    target: int | None = None,
    steps: Sequence[Migration] = MIGRATIONS,
) -> list[int]:
    """Bring the database up to `target` (default: the latest version).

    Args:
        runner: The database to migrate (`covey.db.sql.runners`: its write transactions open
            with `BEGIN IMMEDIATE` on SQLite).
        where: The masked database URL, for error messages.
        target: The version to reach, 0 to `LATEST_VERSION`; never downgrades.
        steps: The steps to apply (tests pass a subset).

    Returns:
        The versions this call applied, in order (empty when there was nothing to do, for
        instance because another process did it first).

    Raises:
        SchemaVersionError: the database is at a newer version than this code knows.
        ConfigurationError: `target` is not a known version.
    """
    latest = steps[-1].version if steps else 0
    goal = latest if target is None else target
    if type(goal) is not int or not 0 <= goal <= latest:
        raise ConfigurationError(
            f"target must be a schema version from 0 to {latest}, got {goal!r}"
        )
    found = await current_version(runner)
    if found > LATEST_VERSION:
        raise newer_schema_error(found, where)
    applied: list[int] = []
    for step in steps:
        if step.version > goal:
            break
        if step.version <= found:
            continue
        if await runner.write(partial(_apply, step, where)):
            applied.append(step.version)
        found = step.version
    return applied
