"""The memories (with their topics), user profiles and learnings of `SqlStore`."""

from __future__ import annotations

from sqlalchemy import delete, exists, select, update
from sqlalchemy.engine import Connection

from covey.db.sql import records
from covey.db.sql import tables as t
from covey.db.sql.pages import micros
from covey.db.sql.scoping import check_optional, check_scope, check_type, stamp, visible, writable
from covey.db.sql.statements import set_from_excluded
from covey.db.sql.store_core import FIXED_COLUMNS, StoreCore, fetch_one
from covey.spec.errors import ConflictError, InvalidInputError, NotFoundError
from covey.spec.store import Learning, Memory, Page, Scope, UserProfile, check_id, utc_now

__all__ = ["SqlMemories"]


class SqlMemories(StoreCore):
    """Memories with their topics, user profiles, and learnings (per user or shared)."""

    # --- memories --------------------------------------------------------------------------------

    async def add_memory(self, scope: Scope, memory: Memory) -> Memory:
        """See `Store.add_memory`."""
        check_scope(scope)
        check_type(memory, Memory, "memory")
        check_id(memory.id, "memory.id")
        check_id(memory.user_id, "memory.user_id")
        stamp(scope, memory.user_id, "memory")
        copy, values = self._values(records.MEMORY, memory, "memory")
        values.update(tenant_id=scope.tenant_id, updated_at=utc_now())
        m = t.MEMORIES
        statement = (
            self._insert(m)
            .values(**values)
            .on_conflict_do_nothing(index_elements=[m.c.tenant_id, m.c.id])
            .returning(*m.c)
        )

        def add(c: Connection) -> Memory:
            saved = fetch_one(c, statement, records.MEMORY)
            if saved is None:
                raise ConflictError(f"A memory with id {memory.id!r} already exists")
            _add_topics(c, scope, copy)  # a new memory has no topic rows yet
            return saved

        return await self._write("add_memory", add)

    async def get_memory(self, scope: Scope, memory_id: str) -> Memory | None:
        """See `Store.get_memory`."""
        check_scope(scope)
        check_id(memory_id, "memory_id")
        return await self._get("get_memory", scope, records.MEMORY, memory_id)

    async def list_memories(
        self,
        scope: Scope,
        *,
        topic: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[Memory]:
        """See `Store.list_memories`."""
        check_scope(scope)
        if topic is not None:
            check_type(topic, str, "topic")
        m, mt = t.MEMORIES, t.MEMORY_TOPICS
        query = select(m).where(visible(m, scope))
        if topic is not None:
            query = query.where(
                exists().where(
                    mt.c.tenant_id == m.c.tenant_id,
                    mt.c.memory_id == m.c.id,
                    mt.c.topic == topic,
                )
            )
        return await self._page(
            "list_memories",
            "memories",
            records.MEMORY,
            query,
            [m.c.updated_at, m.c.id],
            lambda x: (micros(x.updated_at), x.id),
            descending=True,
            limit=limit,
            cursor=cursor,
        )

    async def update_memory(self, scope: Scope, memory: Memory) -> Memory:
        """See `Store.update_memory`."""
        check_scope(scope)
        check_type(memory, Memory, "memory")
        check_id(memory.id, "memory.id")
        check_id(memory.user_id, "memory.user_id")
        copy, values = self._values(records.MEMORY, memory, "memory")
        m, mt = t.MEMORIES, t.MEMORY_TOPICS
        changes = {k: v for k, v in values.items() if k not in FIXED_COLUMNS}
        changes["updated_at"] = utc_now()
        # The owner check is part of the update: a memory never moves to another user.
        statement = (
            update(m)
            .where(visible(m, scope), m.c.id == memory.id, m.c.user_id == memory.user_id)
            .values(**changes)
            .returning(*m.c)
        )

        def change(c: Connection) -> Memory:
            saved = fetch_one(c, statement, records.MEMORY)
            if saved is None:
                existing = c.execute(
                    select(m.c.user_id).where(visible(m, scope), m.c.id == memory.id)
                ).first()
                if existing is None:
                    raise NotFoundError(f"No memory {memory.id!r} in this scope")
                raise InvalidInputError(
                    f"memory {memory.id!r} belongs to user {existing.user_id!r}; it cannot be "
                    f"moved to {memory.user_id!r}"
                )
            c.execute(
                delete(mt).where(mt.c.tenant_id == scope.tenant_id, mt.c.memory_id == memory.id)
            )
            _add_topics(c, scope, copy)
            return saved

        return await self._write("update_memory", change)

    async def delete_memory(self, scope: Scope, memory_id: str) -> None:
        """See `Store.delete_memory`."""
        check_scope(scope)
        check_id(memory_id, "memory_id")
        m, mt = t.MEMORIES, t.MEMORY_TOPICS

        def remove(c: Connection) -> None:
            gone = c.execute(
                delete(m).where(visible(m, scope), m.c.id == memory_id).returning(m.c.id)
            )
            if gone.first() is None:
                raise NotFoundError(f"No memory {memory_id!r} in this scope")
            c.execute(
                delete(mt).where(mt.c.tenant_id == scope.tenant_id, mt.c.memory_id == memory_id)
            )

        await self._write("delete_memory", remove)

    # --- user profiles ---------------------------------------------------------------------------

    async def get_user_profile(self, scope: Scope, user_id: str) -> UserProfile | None:
        """See `Store.get_user_profile`."""
        check_scope(scope)
        check_id(user_id, "user_id")
        return await self._get(
            "get_user_profile", scope, records.PROFILE, user_id, column="user_id"
        )

    async def save_user_profile(self, scope: Scope, profile: UserProfile) -> UserProfile:
        """See `Store.save_user_profile`."""
        check_scope(scope)
        check_type(profile, UserProfile, "profile")
        check_id(profile.user_id, "profile.user_id")
        stamp(scope, profile.user_id, "profile")
        _, values = self._values(records.PROFILE, profile, "profile")
        values.update(tenant_id=scope.tenant_id, updated_at=utc_now())
        p = t.PROFILES
        insert = self._insert(p).values(**values)
        statement = insert.on_conflict_do_update(
            index_elements=[p.c.tenant_id, p.c.user_id],
            set_=set_from_excluded(p, insert, keep=("user_id",)),
        ).returning(*p.c)
        saved = await self._write(
            "save_user_profile", lambda c: fetch_one(c, statement, records.PROFILE)
        )
        assert saved is not None  # an upsert without a condition always returns its row
        return saved

    async def delete_user_profile(self, scope: Scope, user_id: str) -> None:
        """See `Store.delete_user_profile`."""
        check_scope(scope)
        check_id(user_id, "user_id")
        p = t.PROFILES
        statement = (
            delete(p).where(visible(p, scope), p.c.user_id == user_id).returning(p.c.user_id)
        )
        if await self._write("delete_user_profile", lambda c: c.execute(statement).first()) is None:
            raise NotFoundError(f"No profile for user {user_id!r} in this scope")

    # --- learnings -------------------------------------------------------------------------------

    async def add_learning(self, scope: Scope, learning: Learning) -> Learning:
        """See `Store.add_learning`."""
        check_scope(scope)
        check_type(learning, Learning, "learning")
        check_id(learning.id, "learning.id")
        check_id(learning.namespace, "learning.namespace")
        check_id(learning.kind, "learning.kind")
        user_id = stamp(scope, learning.user_id, "learning")
        _, values = self._values(records.LEARNING, learning, "learning")
        values.update(tenant_id=scope.tenant_id, user_id=user_id)
        lt = t.LEARNINGS
        statement = (
            self._insert(lt)
            .values(**values)
            .on_conflict_do_nothing(index_elements=[lt.c.tenant_id, lt.c.id])
            .returning(*lt.c)
        )
        saved = await self._write(
            "add_learning", lambda c: fetch_one(c, statement, records.LEARNING)
        )
        if saved is None:
            raise ConflictError(f"A learning with id {learning.id!r} already exists")
        return saved

    async def get_learning(self, scope: Scope, learning_id: str) -> Learning | None:
        """See `Store.get_learning`."""
        check_scope(scope)
        check_id(learning_id, "learning_id")
        return await self._get("get_learning", scope, records.LEARNING, learning_id, shared=True)

    async def list_learnings(
        self,
        scope: Scope,
        namespace: str,
        *,
        kind: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[Learning]:
        """See `Store.list_learnings`."""
        check_scope(scope)
        check_id(namespace, "namespace")
        check_optional(kind, "kind")
        lt = t.LEARNINGS
        query = select(lt).where(visible(lt, scope, shared=True), lt.c.namespace == namespace)
        if kind is not None:
            query = query.where(lt.c.kind == kind)
        return await self._page(
            "list_learnings",
            f"learnings:{namespace}",
            records.LEARNING,
            query,
            [lt.c.created_at, lt.c.id],
            lambda x: (micros(x.created_at), x.id),
            descending=True,
            limit=limit,
            cursor=cursor,
        )

    async def delete_learning(self, scope: Scope, learning_id: str) -> None:
        """See `Store.delete_learning`."""
        check_scope(scope)
        check_id(learning_id, "learning_id")
        lt = t.LEARNINGS
        statement = delete(lt).where(writable(lt, scope), lt.c.id == learning_id).returning(lt.c.id)
        if await self._write("delete_learning", lambda c: c.execute(statement).first()) is None:
            raise NotFoundError(f"No learning {learning_id!r} that this scope may delete")


def _add_topics(c: Connection, scope: Scope, memory: Memory) -> None:
    """The topic rows of `memory` (whose old ones are gone)."""
    topics = list(dict.fromkeys(memory.topics))
    if topics:
        c.execute(
            t.MEMORY_TOPICS.insert(),
            [
                {
                    "tenant_id": scope.tenant_id,
                    "memory_id": memory.id,
                    "topic": topic,
                    "user_id": memory.user_id,
                }
                for topic in topics
            ],
        )
