"""Schema versions: automatic and explicit migration, upgrades that keep data, newer databases
refused, and migrations that build exactly the schema the code declares."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Connection, MetaData, insert, inspect, text

from covey.db.sql import LATEST_VERSION, SqlStore
from covey.db.sql import migrations as m
from covey.db.sql.engine import EngineOptions, create_postgres_engine, create_sqlite_engine
from covey.db.sql.migrations_v1 import v1_tables
from covey.db.sql.runners import PostgresRunner, Runner, SqliteRunner
from covey.db.sql.tables import metadata as current_metadata
from covey.db.sql.testing import PostgresCluster
from covey.db.sql.urls import parse_url
from covey.spec.errors import SchemaVersionError
from covey.spec.events import TextDelta
from covey.spec.runs import RunStatus
from covey.spec.store import Scope, Session, utc_now

T0 = utc_now().replace(microsecond=123456) - timedelta(days=3)


@asynccontextmanager
async def runner_for(url: str) -> AsyncIterator[Runner]:
    """A store's own way into the database at `url`, without the store."""
    parsed = parse_url(url)
    if parsed.backend == "postgresql":
        engine = create_postgres_engine(parsed, EngineOptions())
        try:
            yield PostgresRunner(engine)
        finally:
            await engine.dispose()
    else:
        sync_engine = create_sqlite_engine(parsed, EngineOptions())
        try:
            yield SqliteRunner(sync_engine, connections=1, serial=False, pool_timeout=30)
        finally:
            sync_engine.dispose()


async def version_rows(url: str) -> list[tuple[int, str]]:
    def read(c: Connection) -> list[tuple[int, str]]:
        rows = c.execute(
            text("SELECT version, description FROM covey_schema_version ORDER BY version")
        )
        return [(int(v), str(d)) for v, d in rows]

    async with runner_for(url) as runner:
        return await runner.read(read)


def test_versions_are_numbered_without_gaps() -> None:
    assert [s.version for s in m.MIGRATIONS] == list(range(1, LATEST_VERSION + 1))
    assert LATEST_VERSION >= 2
    assert all(s.description for s in m.MIGRATIONS)


async def test_first_use_migrates_to_the_latest_version(db_url: str) -> None:
    async with SqlStore(db_url) as store:
        assert await store.schema_version() == 0
        assert await store.get_session(Scope(), "nothing") is None
        assert await store.schema_version() == LATEST_VERSION
    assert [v for v, _ in await version_rows(db_url)] == list(range(1, LATEST_VERSION + 1))


async def test_migrate_is_explicit_idempotent_and_stepwise(db_url: str) -> None:
    async with SqlStore(db_url) as store:
        assert await store.migrate(target=1) == [1]
        assert await store.schema_version() == 1
        assert await store.migrate(target=1) == []
        assert await store.migrate() == list(range(2, LATEST_VERSION + 1))
        assert await store.migrate() == []
        assert await store.migrate(target=1) == []  # never downgrades
        assert await store.schema_version() == LATEST_VERSION
    descriptions = dict(await version_rows(db_url))
    assert descriptions[1] == "initial schema"


# --- the migrated schema is the declared schema --------------------------------------------------


def _describe(connection: Connection) -> dict[str, Any]:
    inspector = inspect(connection)
    schema: dict[str, Any] = {}
    for table in sorted(inspector.get_table_names()):
        if not table.startswith("covey_"):
            continue
        schema[table] = {
            "columns": [
                (c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns(table)
            ],
            "primary_key": inspector.get_pk_constraint(table)["constrained_columns"],
            "indexes": sorted(
                (i["name"], tuple(i["column_names"]), bool(i["unique"]))
                for i in inspector.get_indexes(table)
            ),
            "foreign_keys": sorted(
                (
                    tuple(f["constrained_columns"]),
                    f["referred_table"],
                    tuple(f["referred_columns"]),
                    (f.get("options") or {}).get("ondelete"),
                )
                for f in inspector.get_foreign_keys(table)
            ),
        }
    return schema


async def _schema(url: str, build: Callable[[Connection], None] | None = None) -> dict[str, Any]:
    async with runner_for(url) as runner:
        if build is not None:
            await runner.write(build)
        return await runner.read(_describe)


async def test_migrations_build_exactly_the_declared_schema(
    request: pytest.FixtureRequest, db_url: str, tmp_path: Any
) -> None:
    """Migrating from nothing gives the tables, columns, keys and indexes of `tables.py`."""
    async with SqlStore(db_url) as store:
        await store.migrate()
    migrated = await _schema(db_url)
    if db_url.startswith("postgresql"):
        cluster: PostgresCluster = request.getfixturevalue("postgres_cluster")
        declared_url = cluster.create_database(f"declared_{abs(hash(db_url)) % 10**8}")
    else:
        declared_url = f"sqlite:///{tmp_path}/declared.db"
    declared = await _schema(declared_url, lambda c: current_metadata.create_all(c))
    assert migrated == declared
    assert "covey_memory_topics" in migrated
    assert migrated["covey_run_events"]["primary_key"] == ["tenant_id", "run_id", "seq"]


# --- upgrades keep data --------------------------------------------------------------------------


async def _seed_v1(url: str) -> None:
    """Rows as a version-1 database holds them, written with the version-1 table definitions."""
    metadata = MetaData()
    v1_tables(metadata)
    tables = metadata.tables
    dumps = json.dumps
    run_messages = [
        {
            "kind": "request",
            "parts": [{"kind": "user", "content": "hello"}],
        }
    ]

    def seed(c: Connection) -> None:
        c.execute(
            insert(tables["covey_sessions"]),
            {
                "tenant_id": "t",
                "id": "s1",
                "user_id": "alice",
                "agent_id": "agent",
                "state": dumps({"cart": [1, 2], "total": 2.5}),
                "summary": "kept",
                "metadata": dumps({}),
                "version": 3,
                "created_at": T0,
                "updated_at": T0,
            },
        )
        c.execute(
            insert(tables["covey_runs"]),
            {
                "tenant_id": "t",
                "id": "r1",
                "user_id": "alice",
                "session_id": "s1",
                "agent_id": "agent",
                "parent_run_id": None,
                "status": "paused",
                "input": dumps("hello"),
                "output": None,
                "usage": dumps({}),
                "messages": dumps(run_messages),
                "tool_calls": dumps([]),
                "requirements": dumps([]),
                "error": None,
                "cancel_requested": False,
                "heartbeat_at": T0,
                "started_at": T0,
                "finished_at": None,
                "created_at": T0,
                "updated_at": T0,
                "metadata": dumps({"last_seq": 2}),
            },
        )
        c.execute(
            insert(tables["covey_run_events"]),
            [
                {
                    "tenant_id": "t",
                    "run_id": "r1",
                    "seq": seq,
                    "user_id": "alice",
                    "type": "text.delta",
                    "time": T0,
                    "data": TextDelta(run_id="r1", seq=seq, delta=f"d{seq}").model_dump_json(),
                }
                for seq in (1, 2)
            ],
        )
        c.execute(
            insert(tables["covey_memories"]),
            [
                {
                    "tenant_id": tenant,
                    "id": memory_id,
                    "user_id": "alice",
                    "memory": f"{memory_id} in {tenant}",
                    "topics": dumps(topics),
                    "metadata": dumps({}),
                    "created_at": T0,
                    "updated_at": T0 + timedelta(minutes=minute),
                }
                for tenant, memory_id, topics, minute in (
                    ("t", "m1", ["food", "food", "work"], 1),
                    ("t", "m2", [], 2),
                    ("t", "m3", ["work"], 3),
                    ("other", "m1", ["food"], 4),
                )
            ],
        )
        c.execute(
            insert(tables["covey_approvals"]),
            {
                "tenant_id": "t",
                "id": "a1",
                "user_id": "alice",
                "run_id": "r1",
                "tool_call_id": "c1",
                "tool_name": "pay",
                "args": dumps({"eur": 5}),
                "status": "pending",
                "note": None,
                "created_at": T0,
                "resolved_at": None,
                "resolved_by": None,
                "metadata": dumps({}),
            },
        )

    async with runner_for(url) as runner:
        await runner.write(seed)


async def _check_v1_data(store: SqlStore) -> None:
    alice = Scope("t", "alice")
    session = await store.get_session(alice, "s1")
    assert session is not None
    assert (session.state, session.summary, session.version) == (
        {"cart": [1, 2], "total": 2.5},
        "kept",
        3,
    )
    assert session.created_at == T0
    run = await store.get_run(alice, "r1")
    assert run is not None
    assert (run.status, run.input, run.metadata) == (RunStatus.PAUSED, "hello", {"last_seq": 2})
    assert [e.seq for e in await store.list_events(alice, "r1")] == [1, 2]
    # Version 2 moved topics into their own table: the backfill makes the filter work.
    assert [x.id for x in (await store.list_memories(alice, topic="food")).items] == ["m1"]
    assert [x.id for x in (await store.list_memories(alice, topic="work")).items] == ["m3", "m1"]
    assert [x.id for x in (await store.list_memories(Scope("other"), topic="food")).items] == ["m1"]
    memory = await store.get_memory(alice, "m1")
    assert memory is not None
    assert memory.topics == ["food", "food", "work"]
    assert [a.id for a in (await store.list_approvals(alice, status="pending")).items] == ["a1"]
    # And the upgraded database keeps working: a session update, a memory's topics replaced.
    await store.save_session(alice, session, expected_version=3)
    await store.update_memory(alice, memory.model_copy(update={"topics": ["drinks"]}))
    assert (await store.list_memories(alice, topic="food")).items == []
    assert [x.id for x in (await store.list_memories(alice, topic="drinks")).items] == ["m1"]


async def _seed_v2(url: str) -> None:
    """Sessions keyed by tenant only: one of a user, one without a user, and their runs."""

    def seed(c: Connection) -> None:
        for session_id, user_id in (("v2-user", "bob"), ("v2-none", None)):
            c.execute(
                text(
                    "INSERT INTO covey_sessions (tenant_id, id, user_id, agent_id, state, "
                    "summary, metadata, version, created_at, updated_at) VALUES ('t', :id, "
                    ":user, 'agent', :state, NULL, '{}', 2, :at, :at)"
                ),
                {
                    "id": session_id,
                    "user": user_id,
                    "state": json.dumps({"owner": user_id}),
                    "at": T0.replace(tzinfo=None),
                },
            )

    async with runner_for(url) as runner:
        await runner.write(seed)


async def _check_v2_data(store: SqlStore) -> None:
    """Version 3 keys sessions by (tenant, user, id): each old session is in its user's
    namespace, and another user may now use the same id."""
    bob, alice, tenant = Scope("t", "bob"), Scope("t", "alice"), Scope("t")
    mine = await store.get_session(bob, "v2-user")
    assert mine is not None
    assert (mine.state, mine.version, mine.user_id) == ({"owner": "bob"}, 2, "bob")
    none = await store.get_session(tenant, "v2-none")
    assert none is not None
    assert (none.state, none.user_id) == ({"owner": None}, None)
    assert await store.get_session(tenant, "v2-user") is None
    assert await store.get_session(alice, "v2-user") is None
    theirs = await store.save_session(alice, Session(id="v2-user"), expected_version=0)
    assert theirs.version == 1
    await store.save_session(bob, mine, expected_version=2)
    listed = {(x.id, x.user_id) for x in (await store.list_sessions(tenant)).items}
    assert {("v2-user", "bob"), ("v2-user", "alice"), ("v2-none", None)} <= listed


async def _seed_v3(url: str) -> None:
    """A parent run with two child runs (and an unrelated run), written before the index."""

    def seed(c: Connection) -> None:
        for minute, (run_id, parent) in enumerate(
            (("v3-parent", None), ("v3-child-b", "v3-parent"), ("v3-other", None)),
        ):
            c.execute(
                text(
                    "INSERT INTO covey_runs (tenant_id, id, user_id, session_id, agent_id, "
                    "parent_run_id, status, input, output, usage, messages, tool_calls, "
                    "requirements, error, cancel_requested, heartbeat_at, started_at, "
                    "finished_at, created_at, updated_at, metadata) VALUES ('t', :id, 'bob', "
                    "NULL, 'flow', :parent, 'completed', NULL, NULL, '{}', '[]', '[]', '[]', "
                    "NULL, :no, NULL, NULL, NULL, :at, :at, '{}')"
                ),
                {
                    "id": run_id,
                    "parent": parent,
                    "no": False,
                    "at": (T0 + timedelta(minutes=minute)).replace(tzinfo=None),
                },
            )
        c.execute(
            text(
                "INSERT INTO covey_runs (tenant_id, id, user_id, session_id, agent_id, "
                "parent_run_id, status, input, output, usage, messages, tool_calls, "
                "requirements, error, cancel_requested, heartbeat_at, started_at, finished_at, "
                "created_at, updated_at, metadata) VALUES ('t', 'v3-child-a', 'bob', NULL, "
                "'step', 'v3-parent', 'completed', NULL, NULL, '{}', '[]', '[]', '[]', NULL, "
                ":no, NULL, NULL, NULL, :at, :at, '{}')"
            ),
            {"no": False, "at": T0.replace(tzinfo=None)},
        )

    async with runner_for(url) as runner:
        await runner.write(seed)


async def _check_v3_data(store: SqlStore) -> None:
    """Version 4 indexes runs by parent: runs written before it are found by their parent."""
    bob = Scope("t", "bob")
    children = await store.list_runs(bob, parent_run_id="v3-parent")
    assert [x.id for x in children.items] == ["v3-child-a", "v3-child-b"]
    assert (await store.list_runs(Scope("t", "alice"), parent_run_id="v3-parent")).items == []


async def _seed_v4(url: str) -> None:
    """Two knowledge contents written before they belonged to a knowledge base."""

    def seed(c: Connection) -> None:
        for minute, (content_id, user) in enumerate((("v4-shared", None), ("v4-bob", "bob"))):
            c.execute(
                text(
                    "INSERT INTO covey_knowledge_contents (tenant_id, id, user_id, name, source, "
                    "content_type, status, status_message, metadata, size, created_at, "
                    "updated_at) VALUES ('t', :id, :user, :name, 'upload', 'text/plain', "
                    "'completed', NULL, '{}', 12, :at, :at)"
                ),
                {
                    "id": content_id,
                    "user": user,
                    "name": f"{content_id}.txt",
                    "at": (T0 + timedelta(minutes=minute)).replace(tzinfo=None),
                },
            )

    async with runner_for(url) as runner:
        await runner.write(seed)


async def _check_v4_data(store: SqlStore) -> None:
    """Version 5 files older contents under knowledge base `default`, with no chunks counted."""
    bob = Scope("t", "bob")
    listed = await store.list_knowledge_contents(bob, knowledge="default")
    assert [x.id for x in listed.items] == ["v4-bob", "v4-shared"]
    assert [(x.knowledge, x.chunk_count, x.content_hash) for x in listed.items] == [
        ("default", 0, None),
        ("default", 0, None),
    ]
    assert (await store.list_knowledge_contents(bob, knowledge="docs")).items == []


async def _seed_v5(url: str) -> None:
    """Runs of two agents, one started by another run, written before the agent index."""

    def seed(c: Connection) -> None:
        rows = (
            ("v5-a1", "a", None),
            ("v5-b", "b", None),
            ("v5-a2", "a", "v5-b"),
            ("v5-a3", "a", None),
        )
        for minute, (run_id, agent, parent) in enumerate(rows):
            c.execute(
                text(
                    "INSERT INTO covey_runs (tenant_id, id, user_id, session_id, agent_id, "
                    "parent_run_id, status, input, output, usage, messages, tool_calls, "
                    "requirements, error, cancel_requested, heartbeat_at, started_at, "
                    "finished_at, created_at, updated_at, metadata) VALUES ('t', :id, 'bob', "
                    "NULL, :agent, :parent, 'completed', NULL, NULL, '{}', '[]', '[]', '[]', "
                    "NULL, :no, NULL, NULL, NULL, :at, :at, '{}')"
                ),
                {
                    "id": run_id,
                    "agent": agent,
                    "parent": parent,
                    "no": False,
                    "at": (T0 + timedelta(minutes=minute)).replace(tzinfo=None),
                },
            )

    async with runner_for(url) as runner:
        await runner.write(seed)


async def _check_v5_data(store: SqlStore) -> None:
    """Version 6 indexes runs by agent: runs written before it are found by agent."""
    bob = Scope("t", "bob")
    by_agent = await store.list_runs(bob, agent_id="a", order="desc")
    assert [x.id for x in by_agent.items] == ["v5-a3", "v5-a2", "v5-a1"]
    top = await store.list_runs(bob, agent_id="a", top_level=True)
    assert [x.id for x in top.items] == ["v5-a1", "v5-a3"]
    assert (await store.list_runs(Scope("t", "alice"), agent_id="a")).items == []


async def _seed_v6(url: str) -> None:
    """Memories, a profile and learnings written before the version 7 indexes."""

    def seed(c: Connection) -> None:
        at = T0.replace(tzinfo=None)
        c.execute(
            text(
                "INSERT INTO covey_memories (tenant_id, id, user_id, memory, topics, metadata, "
                "created_at, updated_at) VALUES ('t6', 'v6-m', 'bob', 'likes tea', '[]', '{}', "
                ":at, :at)"
            ),
            {"at": at},
        )
        c.execute(
            text(
                "INSERT INTO covey_user_profiles (tenant_id, user_id, data, updated_at) "
                "VALUES ('t6', 'carol', '{}', :at)"
            ),
            {"at": at + timedelta(minutes=1)},
        )
        for i, (user, kind) in enumerate((("bob", "rule"), (None, "insight"), ("dan", "rule"))):
            c.execute(
                text(
                    "INSERT INTO covey_learnings (tenant_id, id, user_id, namespace, kind, "
                    "content, metadata, created_at) VALUES ('t6', :id, :user, 'v6-ns', :kind, "
                    "'x', '{}', :at)"
                ),
                {"id": f"v6-l{i}", "user": user, "kind": kind, "at": at + timedelta(minutes=2)},
            )

    async with runner_for(url) as runner:
        await runner.write(seed)


async def _check_v6_data(store: SqlStore) -> None:
    """Version 7 indexes learnings by user and namespace: older rows are listed and counted."""
    users = await store.list_memory_users(Scope("t6"))
    assert [(u.user_id, u.memories) for u in users.items] == [
        ("dan", 0),
        ("bob", 1),
        ("carol", 0),
    ]
    assert users.items[1].updated_at == T0 + timedelta(minutes=2)
    spaces = await store.list_learning_namespaces(Scope("t6", "bob"))
    assert [(n.namespace, n.learnings, n.kinds) for n in spaces.items] == [
        ("v6-ns", 2, ["insight", "rule"])
    ]


async def _seed_v7(url: str) -> None:
    """Schedules written before the version 8 index of due schedules across tenants."""

    def seed(c: Connection) -> None:
        at = T0.replace(tzinfo=None)
        rows = (
            ("t7-a", "due", True, at),
            ("t7-b", "paused", False, at),
            ("t7-c", "later", True, None),
        )
        for tenant, sid, enabled, next_run_at in rows:
            c.execute(
                text(
                    "INSERT INTO covey_schedules (tenant_id, id, user_id, name, target_kind, "
                    "target_id, trigger, spec, timezone, payload, enabled, next_run_at, "
                    "last_run_at, metadata, created_at, updated_at) VALUES (:tenant, :id, NULL, "
                    ":name, 'agent', 'a', 'interval', '60', 'UTC', '{}', :enabled, :next, NULL, "
                    "'{}', :at, :at)"
                ),
                {
                    "tenant": tenant,
                    "id": sid,
                    "name": sid,
                    "enabled": enabled,
                    "next": next_run_at,
                    "at": at,
                },
            )

    async with runner_for(url) as runner:
        await runner.write(seed)


async def _check_v7_data(store: SqlStore) -> None:
    """Version 8 indexes due schedules across tenants: older schedules name their tenant."""
    due = await store.list_due_tenants(T0 + timedelta(seconds=1))
    assert [x for x in due if x.startswith("t7-")] == ["t7-a"]
    assert [s.id for s in await store.list_due(Scope("t7-a"), T0)] == ["due"]


SEEDS: dict[int, Callable[[str], Awaitable[None]]] = {
    1: _seed_v1,
    2: _seed_v2,
    3: _seed_v3,
    4: _seed_v4,
    5: _seed_v5,
    6: _seed_v6,
    7: _seed_v7,
}
"""Data to write at each version; add one for every new version."""

CHECKS: dict[int, Callable[[SqlStore], Awaitable[None]]] = {
    1: _check_v1_data,
    2: _check_v2_data,
    3: _check_v3_data,
    4: _check_v4_data,
    5: _check_v5_data,
    6: _check_v6_data,
    7: _check_v7_data,
}


@pytest.mark.parametrize("start", range(LATEST_VERSION))
async def test_upgrade_from_every_earlier_version_keeps_data(db_url: str, start: int) -> None:
    """From each version below the latest: migrate there step by step, writing each version's
    rows on the way, then let a store at the latest version open it. Everything written is still there and usable."""
    for version in range(1, start + 1):
        # Each version's rows are written while the database is at that version.
        async with SqlStore(db_url) as old:
            assert await old.migrate(target=version) == [version]
        await SEEDS[version](db_url)
    async with SqlStore(db_url) as store:
        await store.list_sessions(Scope())  # first use: automatic upgrade
        assert await store.schema_version() == LATEST_VERSION
        for version in range(1, start + 1):
            await CHECKS[version](store)
    assert [v for v, _ in await version_rows(db_url)] == list(range(1, LATEST_VERSION + 1))


def test_every_version_has_seed_data() -> None:
    """Add a seed and a check above for each new schema version, so its upgrade is tested."""
    assert set(SEEDS) == set(CHECKS) == set(range(1, LATEST_VERSION))


# --- versions this code does not know ------------------------------------------------------------


async def test_newer_database_is_refused(db_url: str) -> None:
    async with SqlStore(db_url) as store:
        await store.migrate()
    async with runner_for(db_url) as runner:
        await runner.write(
            lambda c: c.execute(
                text(
                    "INSERT INTO covey_schema_version (version, description, applied_at) "
                    "VALUES (:v, 'from the future', :at)"
                ),
                {"v": LATEST_VERSION + 1, "at": utc_now().replace(tzinfo=None)},
            )
        )
    async with SqlStore(db_url) as newer:
        with pytest.raises(SchemaVersionError) as raised:
            await newer.get_session(Scope(), "s")
        message = str(raised.value)
        assert f"schema version {LATEST_VERSION + 1}" in message
        assert f"up to {LATEST_VERSION}" in message
        assert "pip install -U covey-db-sql" in message
        with pytest.raises(SchemaVersionError):
            await newer.migrate()
        assert await newer.schema_version() == LATEST_VERSION + 1


async def test_without_auto_migrate_an_old_schema_is_an_error_until_migrated(
    db_url: str,
) -> None:
    async with SqlStore(db_url, auto_migrate=False) as store:
        with pytest.raises(SchemaVersionError, match="covey migrate"):
            await store.list_sessions(Scope())
        assert await store.schema_version() == 0
        assert await store.migrate() == list(range(1, LATEST_VERSION + 1))
        assert (await store.list_sessions(Scope())).items == []
