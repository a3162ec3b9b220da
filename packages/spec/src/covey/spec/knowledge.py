"""What an agent needs from a knowledge base: `KnowledgeBase.search` returning `KnowledgeHit`s.

`covey-knowledge`'s `Knowledge` implements it (reading, chunking, embedding and storing
documents); so can anything else with a `name` and a `search` method, such as a wrapper around
an existing search service. `Agent(knowledge=...)` takes any of them.

Every search runs in a `Scope`: a hit never comes from another tenant, and with a user in the
scope, only from that user's documents or documents shared with the whole tenant.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from covey.spec.store import Scope
    from covey.spec.vectors import Filter, QueryMode

__all__ = ["KnowledgeBase", "KnowledgeHit"]


class KnowledgeHit(BaseModel):
    """One passage a knowledge base found for a query.

    Attributes:
        id: The chunk's id, stable across re-ingestion of unchanged content.
        text: The passage.
        score: Higher is better; comparable only within one search.
        knowledge: The name of the knowledge base it came from.
        content_id: The `KnowledgeContent` (the document) it belongs to, when known.
        name: The document's name or title, when known.
        source: Where the document came from: a path, a URL, `upload`...
        metadata: The chunk's metadata (the document's, plus chunker fields such as headings).
    """

    model_config = ConfigDict(defer_build=True, extra="forbid")

    id: str
    text: str
    score: float
    knowledge: str | None = None
    content_id: str | None = None
    name: str | None = None
    source: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict[str, Any])

    def reference(self) -> dict[str, Any]:
        """What an answer cites: everything but the passage's text and metadata."""
        return {
            "id": self.id,
            "knowledge": self.knowledge,
            "content_id": self.content_id,
            "name": self.name,
            "source": self.source,
            "score": self.score,
        }


@runtime_checkable
class KnowledgeBase(Protocol):
    """Anything an agent can search for passages.

    `name` identifies it in tool names, events and references (letters, digits, `_` and `-`).
    `description`, when the object has one, tells the model what the knowledge base holds.
    """

    @property
    def name(self) -> str:
        """The knowledge base's name."""
        ...

    async def search(
        self,
        query: str,
        *,
        k: int = 5,
        mode: QueryMode = "hybrid",
        filter: Filter | None = None,
        scope: Scope | None = None,
    ) -> list[KnowledgeHit]:
        """The best `k` passages for `query`, best first.

        Args:
            query: What to look for, in words.
            k: How many passages at most.
            mode: `vector` (meaning), `text` (words) or `hybrid` (both, fused).
            filter: Only passages whose metadata passes it.
            scope: Whose documents to search; `None` is the default scope (tenant `default`,
                every user of it).
        """
        ...
