"""Entry point `pgvector` in group `covey.vectordb`.

`covey.spec.plugins.resolve_vector_store("postgresql+pgvector://...")` finds this plugin by the
URL's driver and calls it with the whole URL.
"""

from __future__ import annotations

from covey.vectordb.pgvector.store import PgVectorStore

__all__ = ["pgvector_store"]


def pgvector_store(url: str) -> PgVectorStore:
    """A `PgVectorStore` for `url` with default options (the factory behind the entry point).

    Args:
        url: `postgresql+pgvector://user:password@host:5432/database` or `pgvector://...`.
    """
    return PgVectorStore(url)
