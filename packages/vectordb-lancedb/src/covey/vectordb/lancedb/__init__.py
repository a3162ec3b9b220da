"""covey-vectordb-lancedb: Covey's embedded vector store, on LanceDB in a local folder.

```python
from covey.vectordb.lancedb import LanceDBVectorStore

store = LanceDBVectorStore(".covey/lancedb")  # or resolve_vector_store("lancedb:///.covey/lancedb")
```
"""

from covey.vectordb.lancedb.store import LanceDBVectorStore

__all__ = ["LanceDBVectorStore"]
