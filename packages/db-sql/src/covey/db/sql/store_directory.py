"""Who has memories and where agents filed learnings: `Store.list_memory_users` and
`Store.list_learning_namespaces` of `SqlStore`.

Both are `GROUP BY` queries over the rows themselves (no summary table that could drift), each
answered from indexes alone: memories by `ix_covey_memories_user_recent`, learnings by the
version 7 indexes `ix_covey_learnings_user` and `ix_covey_learnings_kinds`, profiles by their
primary key. The work is proportional to the tenant's rows (one user: to that user's), not to
the whole database. Paging is keyset on the aggregated sort key, like every other listing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, literal, select, type_coerce, union_all
from sqlalchemy.engine import Connection

from covey.db.sql import tables as t
from covey.db.sql.columns import UTCDateTime
from covey.db.sql.pages import after, decode_cursor, encode_cursor, from_micros, micros
from covey.db.sql.scoping import check_scope, visible
from covey.db.sql.store_core import StoreCore
from covey.spec.store import (
    RESERVED_NAMESPACE_PREFIX,
    LearningNamespace,
    MemoryUser,
    Page,
    Scope,
    check_limit,
)

__all__ = ["SqlDirectory", "kinds_statement", "namespaces_statement", "users_statement"]

_USERS = "memory-users"
_NAMESPACES = "learning-namespaces"


def users_statement(scope: Scope, limit: int, cursor: str | None) -> Select[Any, Any, Any]:
    """One page (plus one row) of `list_memory_users`: `user_id`, `memories`, `changed`.

    Raises:
        InvalidInputError: `cursor` is not one of this listing.
    """
    m, p, lt = t.MEMORIES, t.PROFILES, t.LEARNINGS
    # Shared learnings (no user) are nobody's; a user scope's condition already excludes them.
    # Covey's own bookkeeping (eval reports, A2A task snapshots) makes nobody a known user.
    own_learnings = and_(
        visible(lt, scope),
        ~lt.c.namespace.startswith(RESERVED_NAMESPACE_PREFIX, autoescape=True),
    )
    if scope.user_id is None:
        own_learnings = and_(own_learnings, lt.c.user_id.is_not(None))
    # One row per user and table, then one per user: the count of memories and the latest
    # change of any of the three. Grouping comes before the cursor and the limit, so pages
    # are full and a user is never split across pages.
    parts = union_all(
        select(
            m.c.user_id.label("user_id"),
            func.count().label("memories"),
            func.max(m.c.updated_at).label("changed"),
        )
        .where(visible(m, scope))
        .group_by(m.c.user_id),
        select(p.c.user_id, literal(0), p.c.updated_at).where(visible(p, scope)),
        select(lt.c.user_id, literal(0), func.max(lt.c.created_at))
        .where(own_learnings)
        .group_by(lt.c.user_id),
    ).subquery("parts")
    users = (
        select(
            parts.c.user_id.label("user_id"),
            func.sum(parts.c.memories).label("memories"),
            func.max(parts.c.changed).label("changed"),
        )
        .group_by(parts.c.user_id)
        .subquery("users")
    )
    # Typed, so that the cursor's time binds (and results read) as every other timestamp.
    changed: ColumnElement[Any] = type_coerce(users.c.changed, UTCDateTime())
    order = [changed, users.c.user_id]
    query = select(users.c.user_id, users.c.memories, changed.label("changed"))
    if cursor is not None:
        at, user_id = decode_cursor(_USERS, cursor, (int, str))
        assert isinstance(at, int)
        query = query.where(after(order, [from_micros(at), user_id], descending=True))
    return query.order_by(changed.desc(), users.c.user_id.desc()).limit(limit + 1)


def namespaces_statement(scope: Scope, limit: int, cursor: str | None) -> Select[Any, int]:
    """One page (plus one row) of namespaces visible to `scope`: `namespace`, `learnings`.

    Raises:
        InvalidInputError: `cursor` is not one of this listing.
    """
    lt = t.LEARNINGS
    query = select(lt.c.namespace, func.count().label("learnings")).where(
        visible(lt, scope, shared=True)
    )
    if cursor is not None:
        (after_name,) = decode_cursor(_NAMESPACES, cursor, (str,))
        query = query.where(lt.c.namespace > after_name)
    return query.group_by(lt.c.namespace).order_by(lt.c.namespace).limit(limit + 1)


def kinds_statement(scope: Scope, namespaces: Sequence[str]) -> Select[Any, Any]:
    """The distinct `(namespace, kind)` pairs visible to `scope` among `namespaces`."""
    lt = t.LEARNINGS
    return (
        select(lt.c.namespace, lt.c.kind)
        .where(visible(lt, scope, shared=True), lt.c.namespace.in_(list(namespaces)))
        .group_by(lt.c.namespace, lt.c.kind)
        .order_by(lt.c.namespace, lt.c.kind)
    )


class SqlDirectory(StoreCore):
    """The users and the learning namespaces a scope can discover."""

    async def list_memory_users(
        self, scope: Scope, *, limit: int = 50, cursor: str | None = None
    ) -> Page[MemoryUser]:
        """See `Store.list_memory_users`."""
        check_scope(scope)
        check_limit(limit)
        statement = users_statement(scope, limit, cursor)

        def read(c: Connection) -> list[MemoryUser]:
            return [
                MemoryUser(user_id=row.user_id, memories=int(row.memories), updated_at=row.changed)
                for row in c.execute(statement)
            ]

        items = await self._read("list_memory_users", read)
        next_cursor = None
        if len(items) > limit:
            items = items[:limit]
            last = items[-1]
            next_cursor = encode_cursor(_USERS, (micros(last.updated_at), last.user_id))
        return Page[MemoryUser](items=items, next_cursor=next_cursor)

    async def list_learning_namespaces(
        self, scope: Scope, *, limit: int = 50, cursor: str | None = None
    ) -> Page[LearningNamespace]:
        """See `Store.list_learning_namespaces`."""
        check_scope(scope)
        check_limit(limit)
        statement = namespaces_statement(scope, limit, cursor)

        def read(c: Connection) -> list[LearningNamespace]:
            counted = [(str(r.namespace), int(r.learnings)) for r in c.execute(statement)]
            if not counted:
                return []
            kinds: dict[str, list[str]] = {}
            for row in c.execute(kinds_statement(scope, [name for name, _ in counted])):
                kinds.setdefault(str(row.namespace), []).append(str(row.kind))
            return [
                LearningNamespace(namespace=n, learnings=k, kinds=kinds.get(n, []))
                for n, k in counted
            ]

        items = await self._read("list_learning_namespaces", read)
        next_cursor = None
        if len(items) > limit:
            items = items[:limit]
            next_cursor = encode_cursor(_NAMESPACES, (items[-1].namespace,))
        return Page[LearningNamespace](items=items, next_cursor=next_cursor)
