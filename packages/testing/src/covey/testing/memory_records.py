"""Memories, user profiles, learnings and knowledge contents of `InMemoryStore`."""

from __future__ import annotations

from datetime import datetime

from covey.spec.errors import ConflictError, InvalidInputError, NotFoundError
from covey.spec.store import (
    RESERVED_NAMESPACE_PREFIX,
    KnowledgeContent,
    KnowledgeStatus,
    Learning,
    LearningNamespace,
    Memory,
    MemoryUser,
    Page,
    Scope,
    UserProfile,
    check_id,
    utc_now,
)
from covey.testing.memory_tables import (
    InMemoryTables,
    copy_row,
    micros,
    page_of,
    stamp,
    visible,
    writable,
)

__all__ = ["InMemoryRecords"]


class InMemoryRecords(InMemoryTables):
    """The memories, user profiles, learnings and knowledge contents of `InMemoryStore`."""

    # --- memories --------------------------------------------------------------------------------

    async def add_memory(self, scope: Scope, memory: Memory) -> Memory:
        """See `Store.add_memory`."""
        check_id(memory.id, "memory.id")
        check_id(memory.user_id, "memory.user_id")
        stamp(scope, memory.user_id, "memory")
        async with self._lock:
            key = (scope.tenant_id, memory.id)
            if key in self._memories:
                raise ConflictError(f"A memory with id {memory.id!r} already exists")
            stored = copy_row(memory).model_copy(update={"updated_at": utc_now()})
            self._memories[key] = stored
            return copy_row(stored)

    async def get_memory(self, scope: Scope, memory_id: str) -> Memory | None:
        """See `Store.get_memory`."""
        check_id(memory_id, "memory_id")
        async with self._lock:
            row = self._memories.get((scope.tenant_id, memory_id))
            if row is None or not visible(scope, row.user_id):
                return None
            return copy_row(row)

    async def list_memories(
        self,
        scope: Scope,
        *,
        topic: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[Memory]:
        """See `Store.list_memories`."""
        async with self._lock:
            rows = [
                r
                for (tenant, _), r in self._memories.items()
                if tenant == scope.tenant_id
                and visible(scope, r.user_id)
                and (topic is None or topic in r.topics)
            ]
            return page_of(
                "memories",
                rows,
                lambda r: (micros(r.updated_at), r.id),
                descending=True,
                limit=limit,
                cursor=cursor,
            )

    async def update_memory(self, scope: Scope, memory: Memory) -> Memory:
        """See `Store.update_memory`."""
        check_id(memory.id, "memory.id")
        check_id(memory.user_id, "memory.user_id")
        async with self._lock:
            key = (scope.tenant_id, memory.id)
            existing = self._memories.get(key)
            if existing is None or not visible(scope, existing.user_id):
                raise NotFoundError(f"No memory {memory.id!r} in this scope")
            if memory.user_id != existing.user_id:
                raise InvalidInputError(
                    f"memory {memory.id!r} belongs to user {existing.user_id!r}; it cannot be "
                    f"moved to {memory.user_id!r}"
                )
            stored = copy_row(memory).model_copy(
                update={"created_at": existing.created_at, "updated_at": utc_now()}
            )
            self._memories[key] = stored
            return copy_row(stored)

    async def delete_memory(self, scope: Scope, memory_id: str) -> None:
        """See `Store.delete_memory`."""
        check_id(memory_id, "memory_id")
        async with self._lock:
            key = (scope.tenant_id, memory_id)
            row = self._memories.get(key)
            if row is None or not visible(scope, row.user_id):
                raise NotFoundError(f"No memory {memory_id!r} in this scope")
            del self._memories[key]

    async def list_memory_users(
        self, scope: Scope, *, limit: int = 50, cursor: str | None = None
    ) -> Page[MemoryUser]:
        """See `Store.list_memory_users`."""
        async with self._lock:
            counts: dict[str, int] = {}
            latest: dict[str, datetime] = {}

            def seen(user_id: str | None, at: datetime, memories: int) -> None:
                if user_id is None or not visible(scope, user_id):
                    return
                counts[user_id] = counts.get(user_id, 0) + memories
                if user_id not in latest or at > latest[user_id]:
                    latest[user_id] = at

            for (tenant, _), memory in self._memories.items():
                if tenant == scope.tenant_id:
                    seen(memory.user_id, memory.updated_at, 1)
            for (tenant, _), profile in self._profiles.items():
                if tenant == scope.tenant_id:
                    seen(profile.user_id, profile.updated_at, 0)
            for (tenant, _), learning in self._learnings.items():
                if tenant == scope.tenant_id and not learning.namespace.startswith(
                    RESERVED_NAMESPACE_PREFIX
                ):
                    seen(learning.user_id, learning.created_at, 0)
            rows = [MemoryUser(user_id=u, memories=counts[u], updated_at=latest[u]) for u in counts]
            return page_of(
                "memory-users",
                rows,
                lambda r: (micros(r.updated_at), r.user_id),
                descending=True,
                limit=limit,
                cursor=cursor,
            )

    # --- user profiles ---------------------------------------------------------------------------

    async def get_user_profile(self, scope: Scope, user_id: str) -> UserProfile | None:
        """See `Store.get_user_profile`."""
        check_id(user_id, "user_id")
        async with self._lock:
            row = self._profiles.get((scope.tenant_id, user_id))
            if row is None or not visible(scope, row.user_id):
                return None
            return copy_row(row)

    async def save_user_profile(self, scope: Scope, profile: UserProfile) -> UserProfile:
        """See `Store.save_user_profile`."""
        check_id(profile.user_id, "profile.user_id")
        stamp(scope, profile.user_id, "profile")
        async with self._lock:
            stored = copy_row(profile).model_copy(update={"updated_at": utc_now()})
            self._profiles[(scope.tenant_id, profile.user_id)] = stored
            return copy_row(stored)

    async def delete_user_profile(self, scope: Scope, user_id: str) -> None:
        """See `Store.delete_user_profile`."""
        check_id(user_id, "user_id")
        async with self._lock:
            key = (scope.tenant_id, user_id)
            row = self._profiles.get(key)
            if row is None or not visible(scope, row.user_id):
                raise NotFoundError(f"No profile for user {user_id!r} in this scope")
            del self._profiles[key]

    # --- learnings -------------------------------------------------------------------------------

    async def add_learning(self, scope: Scope, learning: Learning) -> Learning:
        """See `Store.add_learning`."""
        check_id(learning.id, "learning.id")
        check_id(learning.namespace, "learning.namespace")
        check_id(learning.kind, "learning.kind")
        user_id = stamp(scope, learning.user_id, "learning")
        async with self._lock:
            key = (scope.tenant_id, learning.id)
            if key in self._learnings:
                raise ConflictError(f"A learning with id {learning.id!r} already exists")
            stored = copy_row(learning).model_copy(update={"user_id": user_id})
            self._learnings[key] = stored
            return copy_row(stored)

    async def get_learning(self, scope: Scope, learning_id: str) -> Learning | None:
        """See `Store.get_learning`."""
        check_id(learning_id, "learning_id")
        async with self._lock:
            row = self._learnings.get((scope.tenant_id, learning_id))
            if row is None or not visible(scope, row.user_id, shared=True):
                return None
            return copy_row(row)

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
        check_id(namespace, "namespace")
        async with self._lock:
            rows = [
                r
                for (tenant, _), r in self._learnings.items()
                if tenant == scope.tenant_id
                and r.namespace == namespace
                and visible(scope, r.user_id, shared=True)
                and (kind is None or r.kind == kind)
            ]
            return page_of(
                f"learnings:{namespace}",
                rows,
                lambda r: (micros(r.created_at), r.id),
                descending=True,
                limit=limit,
                cursor=cursor,
            )

    async def list_learning_namespaces(
        self, scope: Scope, *, limit: int = 50, cursor: str | None = None
    ) -> Page[LearningNamespace]:
        """See `Store.list_learning_namespaces`."""
        async with self._lock:
            counts: dict[str, int] = {}
            kinds: dict[str, set[str]] = {}
            for (tenant, _), r in self._learnings.items():
                if tenant == scope.tenant_id and visible(scope, r.user_id, shared=True):
                    counts[r.namespace] = counts.get(r.namespace, 0) + 1
                    kinds.setdefault(r.namespace, set()).add(r.kind)
            rows = [
                LearningNamespace(namespace=n, learnings=c, kinds=sorted(kinds[n]))
                for n, c in counts.items()
            ]
            return page_of(
                "learning-namespaces",
                rows,
                lambda r: (r.namespace,),
                descending=False,
                limit=limit,
                cursor=cursor,
            )

    async def delete_learning(self, scope: Scope, learning_id: str) -> None:
        """See `Store.delete_learning`."""
        check_id(learning_id, "learning_id")
        async with self._lock:
            key = (scope.tenant_id, learning_id)
            row = self._learnings.get(key)
            if row is None or not writable(scope, row.user_id):
                raise NotFoundError(f"No learning {learning_id!r} that this scope may delete")
            del self._learnings[key]

    # --- knowledge contents ----------------------------------------------------------------------

    async def save_knowledge_content(
        self, scope: Scope, content: KnowledgeContent
    ) -> KnowledgeContent:
        """See `Store.save_knowledge_content`."""
        check_id(content.id, "content.id")
        check_id(content.knowledge, "content.knowledge")
        user_id = stamp(scope, content.user_id, "content")
        async with self._lock:
            key = (scope.tenant_id, content.id)
            existing = self._knowledge.get(key)
            if existing is not None and not writable(scope, existing.user_id):
                raise ConflictError(
                    f"Knowledge content id {content.id!r} is taken by a content this scope "
                    "may not write"
                )
            stored = copy_row(content).model_copy(
                update={
                    "user_id": user_id,
                    "created_at": existing.created_at if existing else content.created_at,
                    "updated_at": utc_now(),
                }
            )
            self._knowledge[key] = stored
            return copy_row(stored)

    async def get_knowledge_content(self, scope: Scope, content_id: str) -> KnowledgeContent | None:
        """See `Store.get_knowledge_content`."""
        check_id(content_id, "content_id")
        async with self._lock:
            row = self._knowledge.get((scope.tenant_id, content_id))
            if row is None or not visible(scope, row.user_id, shared=True):
                return None
            return copy_row(row)

    async def list_knowledge_contents(
        self,
        scope: Scope,
        *,
        knowledge: str | None = None,
        status: KnowledgeStatus | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[KnowledgeContent]:
        """See `Store.list_knowledge_contents`."""
        if knowledge is not None:
            check_id(knowledge, "knowledge")
        async with self._lock:
            rows = [
                r
                for (tenant, _), r in self._knowledge.items()
                if tenant == scope.tenant_id
                and visible(scope, r.user_id, shared=True)
                and (knowledge is None or r.knowledge == knowledge)
                and (status is None or r.status == status)
            ]
            return page_of(
                "knowledge",
                rows,
                lambda r: (micros(r.updated_at), r.id),
                descending=True,
                limit=limit,
                cursor=cursor,
            )

    async def delete_knowledge_content(self, scope: Scope, content_id: str) -> None:
        """See `Store.delete_knowledge_content`."""
        check_id(content_id, "content_id")
        async with self._lock:
            key = (scope.tenant_id, content_id)
            row = self._knowledge.get(key)
            if row is None or not writable(scope, row.user_id):
                raise NotFoundError(f"No knowledge content {content_id!r} this scope may delete")
            del self._knowledge[key]
