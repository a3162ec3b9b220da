"""The knowledge contents tests of `StoreSuite`.

Lifecycle, listing by knowledge base, shared contents.
"""

from __future__ import annotations

import anyio
import pytest

from covey.conformance.store.common import T0, StoreScopes, all_pages, ids_of
from covey.spec.errors import ConflictError, InvalidInputError, NotFoundError
from covey.spec.store import KnowledgeContent, Store, utc_now


class KnowledgeTests:
    """A part of `StoreSuite`: its tests run through `StoreSuite`, in every store's tests."""

    # --- knowledge contents ----------------------------------------------------------------------

    @pytest.mark.asyncio
    async def test_knowledge_content_lifecycle(
        self, store: Store, conformance_scopes: StoreScopes
    ) -> None:
        """Knowledge contents are saved (upserted), read, listed by status and deleted.

        If this fails: upsert by `(tenant, id)` keeping `created_at`, order lists by
        `(updated_at DESC, id DESC)`, and raise `NotFoundError` on deleting a missing content.
        """
        scope = conformance_scopes.alice
        first = await store.save_knowledge_content(
            scope,
            KnowledgeContent(
                id="k1",
                name="handbook.pdf",
                source="upload",
                content_type="application/pdf",
                size=1234,
                metadata={"pages": 10},
                created_at=T0,
            ),
        )
        assert (first.status, first.user_id, first.created_at) == ("pending", "alice", T0)
        await store.save_knowledge_content(scope, KnowledgeContent(id="k2", name="b.txt"))
        await anyio.sleep(0.01)
        done = await store.save_knowledge_content(
            scope, first.model_copy(update={"status": "completed", "created_at": utc_now()})
        )
        assert done.created_at == T0
        assert done.updated_at > first.updated_at
        assert await store.get_knowledge_content(scope, "k1") == done
        assert ids_of(await store.list_knowledge_contents(scope)) == ["k1", "k2"]
        assert ids_of(await store.list_knowledge_contents(scope, status="completed")) == ["k1"]
        assert ids_of(await store.list_knowledge_contents(scope, status="pending")) == ["k2"]
        pages = await all_pages(lambda c: store.list_knowledge_contents(scope, limit=1, cursor=c))
        assert pages == [["k1"], ["k2"]]
        await store.delete_knowledge_content(scope, "k1")
        assert await store.get_knowledge_content(scope, "k1") is None
        with pytest.raises(NotFoundError):
            await store.delete_knowledge_content(scope, "k1")

    @pytest.mark.asyncio
    async def test_knowledge_contents_by_knowledge_base(
        self, store: Store, conformance_scopes: StoreScopes
    ) -> None:
        """Contents belong to a knowledge base, listed by its name, with hash and chunk count.

        If this fails: store `knowledge`, `content_hash` and `chunk_count`, and filter
        `list_knowledge_contents(knowledge=...)` on the knowledge base's name.
        """
        scope = conformance_scopes.alice
        await store.save_knowledge_content(
            scope,
            KnowledgeContent(
                id="d1", knowledge="docs", name="a.md", content_hash="sha256:ab", chunk_count=7
            ),
        )
        await store.save_knowledge_content(
            scope, KnowledgeContent(id="f1", knowledge="faq", name="q.md")
        )
        await store.save_knowledge_content(scope, KnowledgeContent(id="n1", name="plain.txt"))
        got = await store.get_knowledge_content(scope, "d1")
        assert got is not None
        assert (got.knowledge, got.content_hash, got.chunk_count) == ("docs", "sha256:ab", 7)
        assert ids_of(await store.list_knowledge_contents(scope, knowledge="docs")) == ["d1"]
        assert ids_of(await store.list_knowledge_contents(scope, knowledge="faq")) == ["f1"]
        assert ids_of(await store.list_knowledge_contents(scope, knowledge="default")) == ["n1"]
        assert ids_of(await store.list_knowledge_contents(scope, knowledge="none")) == []
        with pytest.raises(InvalidInputError):
            await store.list_knowledge_contents(scope, knowledge="")
        with pytest.raises(InvalidInputError):
            await store.save_knowledge_content(
                scope, KnowledgeContent(id="bad", knowledge="a\x00b", name="x")
            )
        assert await store.get_knowledge_content(scope, "bad") is None

    @pytest.mark.asyncio
    async def test_shared_knowledge_contents(
        self, store: Store, conformance_scopes: StoreScopes
    ) -> None:
        """A content with `user_id=None` is read by every user, written only tenant-wide.

        If this fails: user scopes read `user_id = :user OR user_id IS NULL`, but write and
        delete only their own rows; a user saving a shared content's id gets `ConflictError`.
        """
        s = conformance_scopes
        await store.save_knowledge_content(s.tenant, KnowledgeContent(id="kb", name="shared"))
        await store.save_knowledge_content(s.alice, KnowledgeContent(id="ka", name="alice's"))
        assert sorted(ids_of(await store.list_knowledge_contents(s.bob))) == ["kb"]
        assert sorted(ids_of(await store.list_knowledge_contents(s.alice))) == ["ka", "kb"]
        with pytest.raises(ConflictError):
            await store.save_knowledge_content(s.bob, KnowledgeContent(id="kb", name="hijack"))
        with pytest.raises(NotFoundError):
            await store.delete_knowledge_content(s.bob, "kb")
        got = await store.get_knowledge_content(s.alice, "kb")
        assert got is not None
        assert (got.name, got.user_id) == ("shared", None)
