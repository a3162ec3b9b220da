"""The sessions of `SqlStore`: read, listed, saved under optimistic concurrency, and deleted
with everything under them (runs, events, approvals)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, or_, select
from sqlalchemy.engine import Connection

from covey.db.sql import records, statements
from covey.db.sql import tables as t
from covey.db.sql.pages import micros
from covey.db.sql.scoping import (
    SCOPE_TENANT,
    check_optional,
    check_scope,
    check_type,
    stamp,
    visible,
)
from covey.db.sql.store_core import FIXED_COLUMNS, StoreCore, fetch_one, same_user
from covey.spec.errors import ConflictError, InvalidInputError, NotFoundError
from covey.spec.store import Page, Scope, Session, check_id, check_search, utc_now

__all__ = ["SqlSessions"]


_ESCAPE = "\\"
"""The `LIKE ... ESCAPE` character that makes the next character of a pattern literal."""


def _escape_like(text: str) -> str:
    """`text` as a `LIKE` pattern matching itself only: `%`, `_` and the escape are literal."""
    return (
        text.replace(_ESCAPE, _ESCAPE * 2).replace("%", _ESCAPE + "%").replace("_", _ESCAPE + "_")
    )


class SqlSessions(StoreCore):
    """Sessions: read, listed, saved by version, deleted with their runs."""

    # --- sessions --------------------------------------------------------------------------------

    async def get_session(self, scope: Scope, session_id: str) -> Session | None:
        """See `Store.get_session`."""
        check_scope(scope)
        check_id(session_id, "session_id")
        query = statements.get_session()
        params = {**_session_params(scope), statements.KEY: session_id}
        return await self._read(
            "get_session", lambda c: fetch_one(c, query, records.SESSION, params)
        )

    async def list_sessions(
        self,
        scope: Scope,
        *,
        agent_id: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
        search: str | None = None,
    ) -> Page[Session]:
        """See `Store.list_sessions`."""
        check_scope(scope)
        check_optional(agent_id, "agent_id")
        text = check_search(search)
        s = t.SESSIONS
        query = select(s).where(visible(s, scope))
        if agent_id is not None:
            query = query.where(s.c.agent_id == agent_id)
        if text is not None:
            # ILIKE: PostgreSQL's own; SQLAlchemy writes `lower(x) LIKE lower(y)` on SQLite.
            pattern = f"%{_escape_like(text)}%"
            query = query.where(
                or_(
                    s.c.id.ilike(pattern, escape=_ESCAPE),
                    s.c.agent_id.ilike(pattern, escape=_ESCAPE),
                    s.c.summary.ilike(pattern, escape=_ESCAPE),
                )
            )
        return await self._page(
            "list_sessions",
            "sessions",
            records.SESSION,
            query,
            [s.c.updated_at, s.c.id, s.c.user_key],
            lambda r: (micros(r.updated_at), r.id, statements.user_key(r.user_id)),
            descending=True,
            limit=limit,
            cursor=cursor,
        )

    async def save_session(
        self, scope: Scope, session: Session, *, expected_version: int | None
    ) -> Session:
        """See `Store.save_session`."""
        check_scope(scope)
        check_type(session, Session, "session")
        check_id(session.id, "session.id")
        check_optional(session.agent_id, "session.agent_id")
        user_id = stamp(scope, session.user_id, "session")
        if scope.user_id is None and user_id is not None:
            raise InvalidInputError(
                f"session.user_id is {user_id!r}, but a tenant-wide scope saves sessions without "
                "a user; save a user's session under scope.for_user(user_id)"
            )
        if expected_version is not None and (
            type(expected_version) is not int or expected_version < 0
        ):
            raise InvalidInputError(
                f"expected_version must be None or an integer of 0 or more, got "
                f"{expected_version!r}"
            )
        _, values = self._values(records.SESSION, session, "session")
        del values["version"]  # the store counts versions; the caller's value is ignored
        values.update(
            tenant_id=scope.tenant_id,
            user_key=statements.user_key(user_id),
            user_id=user_id,
            updated_at=utc_now(),
        )
        if expected_version == 0:
            statement = statements.insert_session(self.backend)
            params = {**values, "version": 1}
        elif expected_version is None:
            statement = statements.upsert_session(self.backend)
            params = {**values, "version": 1}
        else:
            statement = statements.update_session()
            params = {k: v for k, v in values.items() if k not in (*FIXED_COLUMNS, "user_key")}
            params.update(_session_params(scope))
            params.update({statements.KEY: session.id, statements.EXPECTED: expected_version})

        def save(c: Connection) -> Session:
            saved = fetch_one(c, statement, records.SESSION, params)
            if saved is None:
                raise _session_conflict(c, scope, session.id, expected_version)
            return saved

        return await self._write("save_session", save)

    async def delete_session(self, scope: Scope, session_id: str) -> None:
        """See `Store.delete_session`."""
        check_scope(scope)
        check_id(session_id, "session_id")
        s, r = t.SESSIONS, t.RUNS

        same_session = (
            r.c.tenant_id == scope.tenant_id,
            r.c.session_id == session_id,
            same_user(r, scope.user_id),
        )

        def remove(c: Connection) -> None:
            gone = c.execute(
                delete(s)
                .where(
                    s.c.tenant_id == scope.tenant_id,
                    s.c.user_key == statements.user_key(scope.user_id),
                    s.c.id == session_id,
                )
                .returning(s.c.id)
            )
            if gone.first() is None:
                raise NotFoundError(f"No session {session_id!r} in this scope")
            runs = select(r.c.id).where(*same_session)
            for table, column in ((t.EVENTS, "run_id"), (t.APPROVALS, "run_id")):
                c.execute(
                    delete(table).where(
                        table.c.tenant_id == scope.tenant_id, table.c[column].in_(runs)
                    )
                )
            c.execute(delete(r).where(*same_session))

        await self._write("delete_session", remove)


def _session_params(scope: Scope) -> dict[str, Any]:
    return {
        SCOPE_TENANT: scope.tenant_id,
        statements.USER_KEY: statements.user_key(scope.user_id),
    }


def _session_conflict(
    c: Connection, scope: Scope, session_id: str, expected: int | None
) -> ConflictError:
    s = t.SESSIONS
    row = c.execute(
        select(s.c.version).where(
            s.c.tenant_id == scope.tenant_id,
            s.c.user_key == statements.user_key(scope.user_id),
            s.c.id == session_id,
        )
    ).first()
    current = 0 if row is None else row.version
    return ConflictError(
        f"Session {session_id!r} is at version {current}, not {expected}: someone saved it "
        "since you read it. Reload it and apply your change again."
    )
