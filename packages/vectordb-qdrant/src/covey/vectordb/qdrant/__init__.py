"""covey-vectordb-qdrant: Covey's vector store on Qdrant, a server or qdrant-client's local mode.

```python
from covey.vectordb.qdrant import QdrantVectorStore

store = QdrantVectorStore(":memory:")  # or resolve_vector_store("qdrant://localhost:6333")
```
"""

from covey.vectordb.qdrant.bm25 import BM25Params
from covey.vectordb.qdrant.store import QdrantVectorStore

__all__ = ["BM25Params", "QdrantVectorStore"]
