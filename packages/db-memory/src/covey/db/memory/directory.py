"""Who has memories and where agents filed learnings: `Store.list_memory_users` and
`Store.list_learning_namespaces` of `MemoryStore`.

Both are summaries built from the rows at call time (nothing extra is kept that could drift
from them), then paged like every other listing.
"""

from __future__ import annotations

from datetime import datetime
from typing import TypeVar

from covey.db.memory.pages import micros, page_of
from covey.db.memory.scoping import check_scope, visible
from covey.db.memory.tables import Tables
from covey.spec.store import RESERVED_NAMESPACE_PREFIX, LearningNamespace, MemoryUser, Page, Scope

__all__ = ["DirectoryMethods"]

R = TypeVar("R")


def _fresh(row: R) -> R:
    # The rows are built for this call and shared with no one: no copy needed.
    return row


class DirectoryMethods(Tables):
    """The users and the learning namespaces a scope can discover."""

    async def list_memory_users(
        self, scope: Scope, *, limit: int = 50, cursor: str | None = None
    ) -> Page[MemoryUser]:
        """See `Store.list_memory_users`."""
        check_scope(scope)
        counts: dict[str, int] = {}
        latest: dict[str, datetime] = {}

        def seen(user_id: str | None, at: datetime, memories: int) -> None:
            if user_id is None or not visible(scope, user_id):
                return
            counts[user_id] = counts.get(user_id, 0) + memories
            if user_id not in latest or at > latest[user_id]:
                latest[user_id] = at

        with self._lock:
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
        rows = [MemoryUser(user_id=u, memories=n, updated_at=latest[u]) for u, n in counts.items()]
        return page_of(
            "memory-users",
            rows,
            lambda r: (micros(r.updated_at), r.user_id),
            (int, str),
            descending=True,
            limit=limit,
            cursor=cursor,
            copy=_fresh,
        )

    async def list_learning_namespaces(
        self, scope: Scope, *, limit: int = 50, cursor: str | None = None
    ) -> Page[LearningNamespace]:
        """See `Store.list_learning_namespaces`."""
        check_scope(scope)
        counts: dict[str, int] = {}
        kinds: dict[str, set[str]] = {}
        with self._lock:
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
            (str,),
            descending=False,
            limit=limit,
            cursor=cursor,
            copy=_fresh,
        )
