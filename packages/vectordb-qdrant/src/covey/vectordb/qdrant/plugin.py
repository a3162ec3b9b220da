"""Entry point `qdrant` in group `covey.vectordb`: `resolve_vector_store("qdrant://...")`."""

from __future__ import annotations

from covey.vectordb.qdrant.store import QdrantVectorStore
from covey.vectordb.qdrant.urls import parse_url

__all__ = ["qdrant_vector_store"]


def qdrant_vector_store(url: str) -> QdrantVectorStore:
    """A `QdrantVectorStore` for a `qdrant://` or `qdrants://` URL.

    `qdrant://host:6333` is a server (`qdrants://` or `?https=true` for TLS; the API key comes
    from `QDRANT_API_KEY`), `qdrant:///rel/path` and `qdrant:////abs/path` are local mode in a
    folder, `qdrant:///:memory:` local mode in memory. Nothing is opened until first use.

    Raises:
        ConfigurationError: the URL is malformed or carries a credential.
    """
    return QdrantVectorStore(parse_url(url))
