"""Covey's knowledge pipeline: read, chunk, embed, store and search documents.

```python
from covey.knowledge import Knowledge

kb = Knowledge("docs")  # local MiniLM embedder + LanceDB under .covey/, resolved on first use
```
"""

from __future__ import annotations

from covey.knowledge.chunkers import (
    Chunker,
    FixedSizeChunker,
    MarkdownChunker,
    RecursiveChunker,
    SemanticChunker,
    TextSplitter,
)
from covey.knowledge.documents import Chunk, Document
from covey.knowledge.fetch import Fetched, FetchError, UnsafeURLError, fetch_url
from covey.knowledge.ingest import RESERVED_KEYS, ProgressEvent
from covey.knowledge.knowledge import (
    DEFAULT_EMBEDDER,
    DEFAULT_VECTOR_STORE,
    Knowledge,
    ProgressCallback,
)
from covey.knowledge.readers import (
    CsvReader,
    DocxReader,
    HtmlReader,
    JsonReader,
    MarkdownReader,
    PdfReader,
    Reader,
    TextReader,
    pick_reader,
)
from covey.knowledge.rerank import CohereReranker, MMRReranker, Reranker, RerankVectors

__all__ = [
    "DEFAULT_EMBEDDER",
    "DEFAULT_VECTOR_STORE",
    "RESERVED_KEYS",
    "Chunk",
    "Chunker",
    "CohereReranker",
    "CsvReader",
    "Document",
    "DocxReader",
    "FetchError",
    "Fetched",
    "FixedSizeChunker",
    "HtmlReader",
    "JsonReader",
    "Knowledge",
    "MMRReranker",
    "MarkdownChunker",
    "MarkdownReader",
    "PdfReader",
    "ProgressCallback",
    "ProgressEvent",
    "Reader",
    "RecursiveChunker",
    "RerankVectors",
    "Reranker",
    "SemanticChunker",
    "TextReader",
    "TextSplitter",
    "UnsafeURLError",
    "fetch_url",
    "pick_reader",
]
