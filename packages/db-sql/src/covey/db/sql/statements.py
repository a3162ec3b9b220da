"""The statements of an agent run's store calls, built once and run with parameters.

Building a SQLAlchemy statement, and the cache key it is compiled under, takes more CPU than
SQLite takes to run it. The statements every run makes (read a session or a run, save them,
append events, heartbeat) are therefore built once per backend and scope shape, with the scope
(`covey.db.sql.scoping.scope_params`), the key and the row as parameters:
`connection.execute(statement, {**scope_params(scope), KEY: run_id, ...})`. Parameters named
like a column are that column's value in an INSERT, or its new value in an UPDATE.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any, Literal

from sqlalchemy import (
    Insert,
    Select,
    Table,
    Update,
    bindparam,
    case,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from covey.db.sql import tables as t
from covey.db.sql.columns import UTCDateTime
from covey.db.sql.scoping import SCOPE_TENANT, visible_to, writable_by

__all__ = [
    "EXPECTED",
    "KEY",
    "NOW",
    "USER_KEY",
    "dialect_insert",
    "get_one",
    "get_session",
    "heartbeat",
    "insert_session",
    "run_owner",
    "run_user",
    "set_from_excluded",
    "update_session",
    "upsert_run",
    "upsert_session",
    "user_key",
]

Backend = Literal["sqlite", "postgresql"]

KEY = "key"
"""The parameter holding the row's id."""
NOW = "now"
"""The parameter holding the current time."""
EXPECTED = "expected_version"
"""The parameter holding the version a session must be at."""
USER_KEY = "scope_user_key"
"""The parameter holding a session's user namespace (`user_key`)."""


def dialect_insert(backend: Backend, table: Table) -> Any:
    """`INSERT` with the backend's `ON CONFLICT` clauses."""
    return postgresql.insert(table) if backend == "postgresql" else sqlite.insert(table)


def set_from_excluded(table: Table, insert: Insert, keep: Sequence[str] = ()) -> dict[str, Any]:
    """`SET column = excluded.column` for every column but the key and `keep`."""
    excluded: Any = getattr(insert, "excluded")  # noqa: B009 - dialect inserts only
    skip = {c.name for c in table.primary_key.columns} | set(keep)
    return {c.name: excluded[c.name] for c in table.columns if c.name not in skip}


@cache
def get_one(table: Table, column: str, *, user_scoped: bool, shared: bool = False) -> Select[Any]:
    """The row of `table` whose `column` is `KEY`, if the scope may see it."""
    return select(table).where(
        visible_to(table, user_scoped=user_scoped, shared=shared), table.c[column] == bindparam(KEY)
    )


@cache
def heartbeat(*, user_scoped: bool) -> Update:
    """Beat run `KEY` at `NOW` (never backwards), returning its `cancel_requested`."""
    r = t.RUNS
    now = bindparam(NOW, type_=UTCDateTime())
    return (
        update(r)
        .where(visible_to(r, user_scoped=user_scoped), r.c.id == bindparam(KEY))
        .values(
            heartbeat_at=case(
                (or_(r.c.heartbeat_at.is_(None), r.c.heartbeat_at < now), now),
                else_=r.c.heartbeat_at,
            )
        )
        .returning(r.c.cancel_requested)
    )


@cache
def run_owner(*, user_scoped: bool) -> Select[Any]:
    """The user of run `KEY`, if the scope may see it."""
    r = t.RUNS
    return select(r.c.user_id).where(
        visible_to(r, user_scoped=user_scoped), r.c.id == bindparam(KEY)
    )


@cache
def run_user() -> Select[Any]:
    """The user of run `KEY` in the scope's tenant, whoever it is."""
    r = t.RUNS
    return select(r.c.user_id).where(
        r.c.tenant_id == bindparam(SCOPE_TENANT), r.c.id == bindparam(KEY)
    )


@cache
def upsert_run(backend: Backend, *, user_scoped: bool) -> Any:
    """Insert or replace a run (the row as parameters), keeping `cancel_requested` and the
    latest heartbeat; no row comes back when the id is taken outside the scope."""
    r = t.RUNS
    insert = dialect_insert(backend, r)
    new = insert.excluded
    changes = set_from_excluded(r, insert, keep=("created_at",))
    changes["cancel_requested"] = or_(new.cancel_requested, r.c.cancel_requested)
    changes["heartbeat_at"] = case(
        (r.c.heartbeat_at.is_(None), new.heartbeat_at),
        (new.heartbeat_at.is_(None), r.c.heartbeat_at),
        (new.heartbeat_at > r.c.heartbeat_at, new.heartbeat_at),
        else_=r.c.heartbeat_at,
    )
    return insert.on_conflict_do_update(
        index_elements=[r.c.tenant_id, r.c.id],
        set_=changes,
        where=writable_by(r, user_scoped=user_scoped),
    ).returning(*r.c)


def user_key(user_id: str | None) -> str:
    """The session namespace of a user (`''`: sessions with no user; ids are never empty)."""
    return "" if user_id is None else user_id


@cache
def get_session() -> Select[Any]:
    """Session `KEY` of the namespace `USER_KEY` in tenant `SCOPE_TENANT`."""
    s = t.SESSIONS
    return select(s).where(*_session_key(s))


def _session_key(s: Table) -> tuple[Any, ...]:
    return (
        s.c.tenant_id == bindparam(SCOPE_TENANT),
        s.c.user_key == bindparam(USER_KEY),
        s.c.id == bindparam(KEY),
    )


@cache
def insert_session(backend: Backend) -> Any:
    """Insert a new session (the row as parameters); no row comes back when the id exists."""
    s = t.SESSIONS
    return (
        dialect_insert(backend, s)
        .on_conflict_do_nothing(index_elements=[s.c.tenant_id, s.c.user_key, s.c.id])
        .returning(*s.c)
    )


@cache
def upsert_session(backend: Backend) -> Any:
    """Insert a session or replace it, counting its version up."""
    s = t.SESSIONS
    insert = dialect_insert(backend, s)
    changes = set_from_excluded(s, insert, keep=("created_at",))
    changes["version"] = s.c.version + 1
    return insert.on_conflict_do_update(
        index_elements=[s.c.tenant_id, s.c.user_key, s.c.id], set_=changes
    ).returning(*s.c)


@cache
def update_session() -> Update:
    """Replace session `KEY` of namespace `USER_KEY` if it is at version `EXPECTED` (the new
    columns as parameters)."""
    s = t.SESSIONS
    return (
        update(s)
        .where(*_session_key(s), s.c.version == bindparam(EXPECTED))
        .values(version=s.c.version + 1)
        .returning(*s.c)
    )
