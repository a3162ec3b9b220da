"""`KnowledgeContent` rows as `Knowledge` writes and reads them in the covey `Store`.

Bookkeeping the row has no field for lives in its metadata under reserved (`_`) keys, which
`public` strips before a row is shown.
"""

from __future__ import annotations

from typing import Any

from covey.spec.store import KnowledgeContent, KnowledgeStatus, Page, Scope, Store

__all__ = ["list_rows", "public", "row_knowledge", "row_version", "with_fields"]


def row_knowledge(row: KnowledgeContent) -> str | None:
    """The knowledge base the row belongs to."""
    return row.metadata.get("_knowledge")


def row_version(row: KnowledgeContent) -> str | None:
    """The `_version` of the chunks the row's last completed ingestion wrote."""
    return row.metadata.get("_version")


def with_fields(
    row: KnowledgeContent,
    *,
    knowledge: str,
    chunk_count: int | None = None,
    content_hash: str | None = None,
    version: str | None = None,
    **fields: Any,
) -> KnowledgeContent:
    """A copy of `row` with these fields set (bookkeeping into its reserved metadata)."""
    metadata = dict(row.metadata)
    metadata["_knowledge"] = knowledge
    if chunk_count is not None:
        metadata["_chunk_count"] = chunk_count
    if content_hash is not None:
        metadata["_content_hash"] = content_hash
    if version is not None:
        metadata["_version"] = version
    return row.model_copy(update={**fields, "metadata": metadata})


def public(row: KnowledgeContent) -> KnowledgeContent:
    """The row as users see it: their metadata only."""
    metadata = {k: v for k, v in row.metadata.items() if not k.startswith("_")}
    return row.model_copy(update={"metadata": metadata})


async def list_rows(
    store: Store,
    scope: Scope,
    *,
    knowledge: str,
    status: KnowledgeStatus | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> Page[KnowledgeContent]:
    """One page of the rows of knowledge base `knowledge` visible to `scope`."""
    items: list[KnowledgeContent] = []
    while True:
        page = await store.list_knowledge_contents(scope, status=status, limit=limit, cursor=cursor)
        items.extend(r for r in page.items if row_knowledge(r) == knowledge)
        cursor = page.next_cursor
        if len(items) >= limit or cursor is None:
            return Page[KnowledgeContent](items=items[:limit], next_cursor=cursor)
