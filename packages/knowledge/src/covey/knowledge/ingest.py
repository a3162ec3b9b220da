"""Ids, hashes, scope filters and chunk records: the bookkeeping of ingestion, no I/O.

Ids are deterministic, so re-ingesting a source finds its previous content and chunks:

- content id: hash of (tenant, owning user or `""`, knowledge base, source key);
- chunk id: hash of (content id, position, hash of the chunk's text);
- a chunk's `_version`: hash of (the document bytes, chunker, embedder, metadata). Re-ingesting
  changed content upserts the new chunks (same ids where position and text are unchanged), then
  deletes the content's chunks whose `_version` is not the new one: exactly the old leftovers.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from covey.spec.errors import InvalidInputError
from covey.spec.store import KnowledgeContent, Scope
from covey.spec.vectors import And, Eq, Filter, In, Record

__all__ = [
    "RESERVED_KEYS",
    "ProgressEvent",
    "Stage",
    "check_metadata",
    "chunk_id",
    "content_id",
    "hash_bytes",
    "hit_metadata",
    "owner_scope",
    "scope_filter",
    "version_of",
]

RESERVED_KEYS = (
    "_knowledge",
    "_content_id",
    "_tenant",
    "_user",
    "_source",
    "_name",
    "_chunk",
    "_version",
)
"""Metadata keys `Knowledge` writes on every chunk; user metadata may not start with `_`."""

Stage = Literal["reading", "chunking", "embedding", "storing", "done", "failed"]


@dataclass(frozen=True, slots=True)
class ProgressEvent:
    """How far the ingestion of one content has got.

    Attributes:
        content_id: The `KnowledgeContent` being ingested.
        name: Its name.
        stage: `reading`, `chunking`, `embedding`, `storing`, then `done` or `failed`.
        chunks_total: Chunks the content has (0 until chunked).
        chunks_done: Chunks embedded (in `embedding`) or stored (in `storing` and `done`).
        message: Why it failed, for `failed`; `unchanged` when nothing had to be written.
    """

    content_id: str
    name: str
    stage: Stage
    chunks_total: int = 0
    chunks_done: int = 0
    message: str | None = None


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:32]


def hash_bytes(data: bytes) -> str:
    """The SHA-256 of a document's bytes, hex."""
    return hashlib.sha256(data).hexdigest()


def content_id(scope: Scope, knowledge: str, source_key: str) -> str:
    """The id of the content from `source_key` written in `scope` to knowledge base `knowledge`."""
    return _digest("content", scope.tenant_id, scope.user_id or "", knowledge, source_key)


def chunk_id(content: str, position: int, text: str) -> str:
    """The id of the chunk at `position` of content `content` with this text."""
    return _digest("chunk", content, str(position), hashlib.sha256(text.encode()).hexdigest())


def version_of(data_hash: str, chunker: str, embedder: str, metadata: Mapping[str, Any]) -> str:
    """What makes a content's chunks current: its bytes, chunker, embedder and metadata."""
    return _digest(data_hash, chunker, embedder, json.dumps(metadata, sort_keys=True, default=str))


def check_metadata(metadata: Mapping[str, Any] | None) -> dict[str, Any]:
    """User metadata, checked: string keys not starting with `_`, JSON values.

    Raises:
        InvalidInputError: a key is reserved or not a string, or a value is not JSON.
    """
    if metadata is None:
        return {}
    if not isinstance(metadata, Mapping):  # pyright: ignore[reportUnnecessaryIsInstance]
        raise InvalidInputError(f"metadata must be a mapping, got {type(metadata).__name__}")
    for key in metadata:
        if not isinstance(key, str) or not key or key.startswith("_"):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise InvalidInputError(
                f"Metadata key {key!r} is not allowed: keys are non-empty strings and keys "
                "starting with '_' are reserved for Covey."
            )
    try:
        json.dumps(dict(metadata), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"metadata must be JSON data: {exc}") from None
    return dict(metadata)


def owner_scope(scope: Scope, content: KnowledgeContent) -> Scope:
    """The scope that owns `content`: its user's, or the tenant's for shared content."""
    return Scope(scope.tenant_id, content.user_id)


def scope_filter(scope: Scope) -> Filter:
    """What a search in `scope` may see: its tenant, and its user's or shared chunks."""
    tenant = Eq("_tenant", scope.tenant_id)
    if scope.user_id is None:
        return tenant
    return And(tenant, In("_user", [scope.user_id, ""]))


def chunk_metadata(
    *,
    chunk: Mapping[str, Any],
    knowledge: str,
    content: KnowledgeContent,
    scope: Scope,
    position: int,
    version: str,
) -> dict[str, Any]:
    """A stored chunk's metadata: the chunk's (document + user + chunker) and the reserved keys."""
    return {
        **chunk,
        "_knowledge": knowledge,
        "_content_id": content.id,
        "_tenant": scope.tenant_id,
        "_user": content.user_id or "",
        "_source": content.source or "",
        "_name": content.name,
        "_chunk": position,
        "_version": version,
    }


def hit_metadata(record: Record) -> dict[str, Any]:
    """A record's metadata without the reserved keys, as a hit shows it."""
    return {k: v for k, v in record.metadata.items() if not k.startswith("_")}
