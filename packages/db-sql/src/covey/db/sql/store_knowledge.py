"""The knowledge contents of `SqlStore`: the documents of a knowledge base, their status."""

from __future__ import annotations

from sqlalchemy import delete, select

from covey.db.sql import records
from covey.db.sql import tables as t
from covey.db.sql.pages import micros
from covey.db.sql.scoping import check_scope, check_type, stamp, visible, writable
from covey.db.sql.statements import set_from_excluded
from covey.db.sql.store_core import StoreCore, check_literal, fetch_one
from covey.spec.errors import ConflictError, NotFoundError
from covey.spec.store import KnowledgeContent, KnowledgeStatus, Page, Scope, check_id, utc_now

__all__ = ["SqlKnowledge"]


class SqlKnowledge(StoreCore):
    """Knowledge contents: saved, read, listed by knowledge base (shared ones too), deleted."""

    # --- knowledge contents ----------------------------------------------------------------------

    async def save_knowledge_content(
        self, scope: Scope, content: KnowledgeContent
    ) -> KnowledgeContent:
        """See `Store.save_knowledge_content`."""
        check_scope(scope)
        check_type(content, KnowledgeContent, "content")
        check_id(content.id, "content.id")
        check_id(content.knowledge, "content.knowledge")
        user_id = stamp(scope, content.user_id, "content")
        _, values = self._values(records.KNOWLEDGE, content, "knowledge content")
        values.update(tenant_id=scope.tenant_id, user_id=user_id, updated_at=utc_now())
        k = t.KNOWLEDGE
        insert = self._insert(k).values(**values)
        statement = insert.on_conflict_do_update(
            index_elements=[k.c.tenant_id, k.c.id],
            set_=set_from_excluded(k, insert, keep=("created_at",)),
            where=writable(k, scope),
        ).returning(*k.c)
        saved = await self._write(
            "save_knowledge_content", lambda c: fetch_one(c, statement, records.KNOWLEDGE)
        )
        if saved is None:
            raise ConflictError(
                f"Knowledge content id {content.id!r} is taken by a content this scope "
                "may not write"
            )
        return saved

    async def get_knowledge_content(self, scope: Scope, content_id: str) -> KnowledgeContent | None:
        """See `Store.get_knowledge_content`."""
        check_scope(scope)
        check_id(content_id, "content_id")
        return await self._get(
            "get_knowledge_content", scope, records.KNOWLEDGE, content_id, shared=True
        )

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
        check_scope(scope)
        k = t.KNOWLEDGE
        query = select(k).where(visible(k, scope, shared=True))
        if knowledge is not None:
            query = query.where(k.c.knowledge == check_id(knowledge, "knowledge"))
        if status is not None:
            query = query.where(k.c.status == check_literal("status", status))
        return await self._page(
            "list_knowledge_contents",
            "knowledge",
            records.KNOWLEDGE,
            query,
            [k.c.updated_at, k.c.id],
            lambda x: (micros(x.updated_at), x.id),
            descending=True,
            limit=limit,
            cursor=cursor,
        )

    async def delete_knowledge_content(self, scope: Scope, content_id: str) -> None:
        """See `Store.delete_knowledge_content`."""
        check_scope(scope)
        check_id(content_id, "content_id")
        k = t.KNOWLEDGE
        statement = delete(k).where(writable(k, scope), k.c.id == content_id).returning(k.c.id)
        gone = await self._write("delete_knowledge_content", lambda c: c.execute(statement).first())
        if gone is None:
            raise NotFoundError(f"No knowledge content {content_id!r} this scope may delete")
