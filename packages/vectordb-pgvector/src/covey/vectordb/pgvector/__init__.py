"""Covey's PostgreSQL vector store: pgvector HNSW cosine search, full text and hybrid search.

```python
from covey.vectordb.pgvector import PgVectorStore

store = PgVectorStore("postgresql+pgvector://user:password@localhost:5432/covey")
```

or `covey.spec.plugins.resolve_vector_store("postgresql+pgvector://...")`.
"""

from covey.vectordb.pgvector.errors import PgVectorUnavailableError
from covey.vectordb.pgvector.store import PgVectorStore, hybrid_depth

__all__ = ["PgVectorStore", "PgVectorUnavailableError", "hybrid_depth"]
