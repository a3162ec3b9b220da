"""`KnowledgeContent` rows as `Knowledge` writes and reads them in the covey `Store`.

The row's fields hold the knowledge base, content hash and chunk count. The one piece of
bookkeeping without a field, `_version` (what the stored chunks were made from: bytes, chunker,
embedder and metadata), lives in the row's metadata under its reserved key; `public` strips
reserved keys before a row is shown.
"""

from __future__ import annotations

from typing import Any

from covey.spec.store import KnowledgeContent, KnowledgeStatus, Page, Scope, Store

__all__ = ["list_rows", "public", "row_version", "with_fields"]

_VERSION = "_version"


def row_version(row: KnowledgeContent) -> str | None:
    """The `_version` of the chunks the row's last completed ingestion wrote."""
    return row.metadata.get(_VERSION)


def with_fields(
    row: KnowledgeContent, *, version: str | None = None, **fields: Any
) -> KnowledgeContent:
    """A copy of `row` with these fields set (`version` into its reserved metadata)."""
    if version is not None:
        fields["metadata"] = {**row.metadata, _VERSION: version}
    return row.model_copy(update=fields)


def public(row: KnowledgeContent) -> KnowledgeContent:
    """The row as users see it: their metadata only."""
    if not any(k.startswith("_") for k in row.metadata):
        return row
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
    return await store.list_knowledge_contents(
        scope, knowledge=knowledge, status=status, limit=limit, cursor=cursor
    )
