"""Chunkers: cut documents into the passages that are embedded and searched.

Sizes are in characters (about four per token for English text); the default, 800, keeps a
chunk within the 256-token window of small embedding models such as all-MiniLM-L6-v2.
"""

from __future__ import annotations

from covey.knowledge.chunkers.base import Chunker, TextSplitter
from covey.knowledge.chunkers.fixed import FixedSizeChunker
from covey.knowledge.chunkers.markdown import MarkdownChunker
from covey.knowledge.chunkers.recursive import DEFAULT_SEPARATORS, RecursiveChunker
from covey.knowledge.chunkers.semantic import SemanticChunker

__all__ = [
    "DEFAULT_SEPARATORS",
    "Chunker",
    "FixedSizeChunker",
    "MarkdownChunker",
    "RecursiveChunker",
    "SemanticChunker",
    "TextSplitter",
]
