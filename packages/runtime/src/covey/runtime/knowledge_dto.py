"""Wire types of `/v1/knowledge`: what its requests carry and its responses return."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import to_jsonable_python

from covey.runtime.dto import Flag
from covey.spec.knowledge import KnowledgeHit

__all__ = [
    "ContentOut",
    "ContentPage",
    "ContentRequest",
    "ContentsAccepted",
    "HitOut",
    "KnowledgeList",
    "KnowledgeOut",
    "SearchOut",
    "SearchRequest",
    "check_metadata",
]

MAX_QUERY = 4096
MAX_K = 100


class _Wire(BaseModel):
    model_config = ConfigDict(extra="forbid")


def check_metadata(value: Any) -> dict[str, Any]:
    """User metadata: a JSON object whose keys do not start with `_` (those are reserved).

    Raises:
        ValueError: it is not an object, or a key is empty, too long or reserved.
    """
    if not isinstance(value, dict):
        raise ValueError("metadata must be a JSON object")
    for key in value:  # pyright: ignore[reportUnknownVariableType]
        if not isinstance(key, str) or not key or len(key) > 128:
            raise ValueError("metadata keys are 1 to 128 characters")
        if key.startswith("_"):
            raise ValueError(f"metadata key {key[:50]!r}: keys starting with '_' are reserved")
    return dict(value)  # pyright: ignore[reportUnknownArgumentType]


class KnowledgeOut(_Wire):
    """A knowledge base served."""

    name: str
    description: str | None = None
    contents_url: str
    search_url: str


class KnowledgeList(_Wire):
    """The knowledge bases served."""

    items: list[KnowledgeOut]


class ContentRequest(_Wire):
    """Add a document by URL, or as text (files are uploaded as `multipart/form-data`)."""

    url: str | None = Field(
        default=None,
        max_length=2048,
        description="An http(s) URL to fetch; private, loopback and link-local addresses are "
        "refused, on every redirect too.",
    )
    text: str | None = Field(default=None, min_length=1, description="The document's text.")
    name: str | None = Field(
        default=None,
        max_length=200,
        description="The document's file name (required with `text`; its extension, .md or "
        ".txt, chooses the reader).",
    )
    metadata: dict[str, Any] = Field(
        default_factory=dict[str, Any],
        description="Kept on the document and every chunk; filter searches on it. Keys may not "
        "start with '_'.",
    )
    shared: Flag = Field(
        default=False,
        description="Share the document with every user of the tenant (needs 'admin'); "
        "otherwise it is the caller's own.",
    )

    @field_validator("metadata", mode="before")
    @classmethod
    def _metadata(cls, value: Any) -> Any:
        return check_metadata(value)

    @model_validator(mode="after")
    def _one_source(self) -> ContentRequest:
        if (self.url is None) == (self.text is None):
            raise ValueError("send exactly one of url and text")
        if self.url is not None and not self.url.lower().startswith(("http://", "https://")):
            raise ValueError("url must be an http:// or https:// URL")
        if self.text is not None and not self.name:
            raise ValueError("a text document needs a name (e.g. notes.md)")
        return self


class ContentOut(_Wire):
    """A document of a knowledge base, and how its ingestion went."""

    content_id: str
    knowledge: str | None = None
    name: str
    source: str | None = Field(
        default=None, description="Where it came from: its URL, or `upload`."
    )
    content_type: str | None = None
    status: Literal["pending", "processing", "completed", "failed"]
    status_message: str | None = None
    chunk_count: int | None = None
    size: int | None = None
    user_id: str | None = None
    shared: bool = Field(description="Whether every user of the tenant sees it.")
    metadata: dict[str, Any] = Field(default_factory=dict[str, Any])
    created_at: datetime
    updated_at: datetime
    events_url: str

    @classmethod
    def from_dict(cls, kb: str, data: dict[str, Any]) -> ContentOut:
        """The wire form of a content row dumped to JSON (`KnowledgeService.content_dict`)."""
        content_id = str(data["id"])
        return cls(
            content_id=content_id,
            knowledge=data.get("knowledge") or kb,
            name=data["name"],
            source=data.get("source"),
            content_type=data.get("content_type"),
            status=data["status"],
            status_message=data.get("status_message"),
            chunk_count=data.get("chunk_count"),
            size=data.get("size"),
            user_id=data.get("user_id"),
            shared=data.get("user_id") is None,
            metadata=to_jsonable_python(data.get("metadata") or {}, fallback=str),
            created_at=data["created_at"],
            updated_at=data["updated_at"],
            events_url=f"/v1/knowledge/{kb}/contents/{content_id}/events",
        )


class ContentPage(_Wire):
    """One page of documents, most recently updated first."""

    items: list[ContentOut]
    next_cursor: str | None = None


class ContentsAccepted(_Wire):
    """The documents taken: their ingestion goes on in the background (follow `events_url`)."""

    items: list[ContentOut]


class SearchRequest(_Wire):
    """Search a knowledge base."""

    query: str = Field(min_length=1, max_length=MAX_QUERY, description="What to look for.")
    k: int = Field(default=5, ge=1, le=MAX_K, description="How many passages at most.")
    mode: Literal["vector", "text", "hybrid"] = Field(
        default="hybrid",
        description="`vector` (meaning), `text` (words) or `hybrid` (both, fused).",
    )
    filter: dict[str, Any] | None = Field(
        default=None,
        description='A metadata filter in the filter language: {"op": "eq", "field": "team", '
        '"value": "docs"}; ops eq, in, range, and, or, not.',
    )

    @field_validator("query")
    @classmethod
    def _says_something(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the query is blank")
        return value


class HitOut(_Wire):
    """A passage found."""

    id: str
    text: str
    score: float
    knowledge: str | None = None
    content_id: str | None = None
    name: str | None = None
    source: str | None = None
    metadata: dict[str, Any] = Field(
        default_factory=dict[str, Any],
        description="The document's metadata and the chunker's (heading, page...).",
    )

    @classmethod
    def from_hit(cls, hit: KnowledgeHit, *, upload: bool) -> HitOut:
        """The wire form of a hit; `upload`: its source is a kept upload (shown as `upload`)."""
        return cls(
            id=hit.id,
            text=hit.text,
            score=hit.score,
            knowledge=hit.knowledge,
            content_id=hit.content_id,
            name=hit.name,
            source="upload" if upload else hit.source,
            metadata=to_jsonable_python(
                {k: v for k, v in hit.metadata.items() if not k.startswith("_")}, fallback=str
            ),
        )


class SearchOut(_Wire):
    """The passages found, best first."""

    items: list[HitOut]
