"""Wire types of `/v1/memories`, `/v1/users/{id}/profile` and `/v1/learnings`.

What a user may see, correct and delete of what the agents know about them. The store's
`Memory`, `UserProfile` and `Learning` stay domain types; each response has a `from_*`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from covey.runtime.dto import Id
from covey.runtime.knowledge_dto import check_metadata
from covey.spec.store import Learning, LearningNamespace, Memory, MemoryUser, UserProfile

__all__ = [
    "MAX_MEMORY_CHARS",
    "MAX_TOPICS",
    "LearningNamespaceOut",
    "LearningNamespacePage",
    "LearningOut",
    "LearningPage",
    "MemoryIn",
    "MemoryOut",
    "MemoryPage",
    "MemoryPatch",
    "MemoryUserOut",
    "MemoryUserPage",
    "ProfileIn",
    "ProfileOut",
    "ProfilePatch",
]

MAX_MEMORY_CHARS = 10_000
"""The longest memory text accepted: a memory is a short fact, not a document."""

MAX_TOPICS = 32
"""The most topics one memory may carry."""

Topic = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[^\x00-\x1f\x7f]+$")]
"""A topic: 1 to 100 characters, no control characters."""


class _Wire(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _not_blank(value: Any) -> Any:
    if isinstance(value, str) and not value.strip():
        raise ValueError("the memory is empty; say what should be remembered")
    return value


def _profile_data(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError("data must be a JSON object")
    for key in value:  # pyright: ignore[reportUnknownVariableType]
        if not isinstance(key, str) or not key or len(key) > 128:
            raise ValueError("profile field names are 1 to 128 characters")
    return dict(value)  # pyright: ignore[reportUnknownArgumentType]


# --- memories ------------------------------------------------------------------------------------


class MemoryIn(_Wire):
    """Remember something about a user."""

    memory: str = Field(
        min_length=1, max_length=MAX_MEMORY_CHARS, description="The fact, in a sentence or two."
    )
    topics: list[Topic] = Field(
        default_factory=list[str], max_length=MAX_TOPICS, description="What it is about."
    )
    metadata: dict[str, Any] = Field(
        default_factory=dict[str, Any],
        description="Your own fields; keys starting with `_` are reserved.",
    )
    user_id: Id | None = Field(
        default=None,
        description="Whose memory: only an admin (or a server with auth off, where it is "
        "required) may name a user; other callers' memories are always their own.",
    )

    @field_validator("memory")
    @classmethod
    def _says_something(cls, value: Any) -> Any:
        return _not_blank(value)

    @field_validator("metadata", mode="before")
    @classmethod
    def _check_metadata(cls, value: Any) -> Any:
        return check_metadata(value)


class MemoryPatch(_Wire):
    """Correct a memory: the fields given replace the stored ones."""

    memory: str | None = Field(default=None, min_length=1, max_length=MAX_MEMORY_CHARS)
    topics: list[Topic] | None = Field(default=None, max_length=MAX_TOPICS)
    metadata: dict[str, Any] | None = None

    @field_validator("memory")
    @classmethod
    def _says_something(cls, value: Any) -> Any:
        return _not_blank(value)

    @field_validator("metadata", mode="before")
    @classmethod
    def _check_metadata(cls, value: Any) -> Any:
        return None if value is None else check_metadata(value)

    @model_validator(mode="after")
    def _changes_something(self) -> MemoryPatch:
        if self.memory is None and self.topics is None and self.metadata is None:
            raise ValueError("nothing to change: give memory, topics or metadata")
        return self


class MemoryOut(_Wire):
    """A memory about a user."""

    id: str
    user_id: str
    memory: str
    topics: list[str]
    metadata: dict[str, Any]
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_memory(cls, memory: Memory) -> MemoryOut:
        """The wire form of a stored memory."""
        return cls(
            id=memory.id,
            user_id=memory.user_id,
            memory=memory.memory,
            topics=list(memory.topics),
            metadata=dict(memory.metadata),
            created_at=memory.created_at,
            updated_at=memory.updated_at,
        )


class MemoryPage(_Wire):
    """One page of memories, most recently updated first."""

    items: list[MemoryOut]
    next_cursor: str | None = None


class MemoryUserOut(_Wire):
    """A user the agents know something about: memories, a profile or learnings."""

    user_id: str
    memories: int = Field(description="How many memories the user has.")
    updated_at: datetime = Field(
        description="The latest change to the user's memories, profile or own learnings."
    )

    @classmethod
    def from_user(cls, user: MemoryUser) -> MemoryUserOut:
        """The wire form of a listed user."""
        return cls(user_id=user.user_id, memories=user.memories, updated_at=user.updated_at)


class MemoryUserPage(_Wire):
    """One page of users, the most recently changed first."""

    items: list[MemoryUserOut]
    next_cursor: str | None = None


# --- profiles ------------------------------------------------------------------------------------


class ProfileIn(_Wire):
    """A user's profile, replaced whole."""

    data: dict[str, Any] = Field(description="The structured fields known about the user.")

    @field_validator("data", mode="before")
    @classmethod
    def _check_data(cls, value: Any) -> Any:
        return _profile_data(value)


class ProfilePatch(_Wire):
    """Correct some fields of a profile: a field set to `null` is removed (JSON merge patch,
    one level deep)."""

    data: dict[str, Any] = Field(min_length=1, description="The fields to set or remove.")

    @field_validator("data", mode="before")
    @classmethod
    def _check_data(cls, value: Any) -> Any:
        return _profile_data(value)


class ProfileOut(_Wire):
    """What is known about a user as structured data."""

    user_id: str
    data: dict[str, Any]
    updated_at: datetime

    @classmethod
    def from_profile(cls, profile: UserProfile) -> ProfileOut:
        """The wire form of a stored profile."""
        return cls(user_id=profile.user_id, data=dict(profile.data), updated_at=profile.updated_at)


# --- learnings -----------------------------------------------------------------------------------


class LearningOut(_Wire):
    """Something an agent learned; `user_id` is `null` for one shared by the tenant."""

    id: str
    user_id: str | None
    namespace: str
    kind: str
    content: str
    metadata: dict[str, Any]
    created_at: datetime

    @classmethod
    def from_learning(cls, learning: Learning) -> LearningOut:
        """The wire form of a stored learning."""
        return cls(
            id=learning.id,
            user_id=learning.user_id,
            namespace=learning.namespace,
            kind=learning.kind,
            content=learning.content,
            metadata=dict(learning.metadata),
            created_at=learning.created_at,
        )


class LearningPage(_Wire):
    """One page of learnings, newest first."""

    items: list[LearningOut]
    next_cursor: str | None = None


class LearningNamespaceOut(_Wire):
    """A namespace agents filed learnings under, as the caller sees it."""

    namespace: str
    learnings: int = Field(description="How many learnings of it the caller can read.")
    kinds: list[str] = Field(description="The distinct kinds among them, sorted.")

    @classmethod
    def from_namespace(cls, namespace: LearningNamespace) -> LearningNamespaceOut:
        """The wire form of a listed namespace."""
        return cls(
            namespace=namespace.namespace,
            learnings=namespace.learnings,
            kinds=list(namespace.kinds),
        )


class LearningNamespacePage(_Wire):
    """One page of learning namespaces, by name."""

    items: list[LearningNamespaceOut]
    next_cursor: str | None = None
