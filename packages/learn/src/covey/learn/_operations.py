"""The operations a memory model may ask for, and what an update reports back.

The schema the model sees is the strict one (`MemoryOperations`); validation is per operation,
so one malformed operation is skipped (and reported) without losing the valid ones next to it.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter

from covey.spec.store import Memory
from covey.spec.usage import Usage

__all__ = [
    "MAX_MEMORY_CHARS",
    "MAX_TOPICS",
    "CreateMemory",
    "DeleteMemory",
    "MemoryOperation",
    "MemoryOperations",
    "MemoryUpdate",
    "NoChange",
    "SkippedOperation",
    "UpdateMemory",
]

MAX_MEMORY_CHARS = 1000
"""The longest memory text kept; a memory is a short fact, not a transcript."""
MAX_TOPICS = 8
MAX_TOPIC_CHARS = 64

MemoryText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_MEMORY_CHARS)
]
Topic = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, to_lower=True, min_length=1, max_length=MAX_TOPIC_CHARS
    ),
]
Topics = Annotated[list[Topic], Field(max_length=MAX_TOPICS)]


def _op_required(schema: dict[str, Any]) -> None:
    # `op` has a default so code can build an operation without it, but the schema a model sees
    # requires it: grammar-constrained decoders (llama.cpp, vLLM) otherwise leave it out, and an
    # operation without its tag cannot be told apart.
    required: list[str] = schema.setdefault("required", [])
    if "op" in schema.get("properties", {}) and "op" not in required:
        required.insert(0, "op")


class Operation(BaseModel):
    """Base of the operations a learning model sends: unknown fields refused, `op` required in
    the JSON schema."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_op_required)


class CreateMemory(Operation):
    """Remember a new fact about the user."""

    op: Literal["create"] = "create"
    memory: MemoryText
    topics: Topics = Field(default_factory=list[str])


class UpdateMemory(Operation):
    """Replace one of the user's memories (by its id) with a corrected or extended fact."""

    op: Literal["update"] = "update"
    id: str = Field(min_length=1, max_length=255)
    memory: MemoryText
    topics: Topics | None = None


class DeleteMemory(Operation):
    """Forget one of the user's memories (by its id): it is wrong or the user asked."""

    op: Literal["delete"] = "delete"
    id: str = Field(min_length=1, max_length=255)


class NoChange(Operation):
    """Nothing in the exchange is worth remembering."""

    op: Literal["none"] = "none"


MemoryOperation = Annotated[
    CreateMemory | UpdateMemory | DeleteMemory | NoChange, Field(discriminator="op")
]
OPERATION_ADAPTER: TypeAdapter[MemoryOperation] = TypeAdapter(MemoryOperation)


class MemoryOperations(BaseModel):
    """The changes to make to the user's memories, in order. An empty list changes nothing."""

    model_config = ConfigDict(extra="forbid")

    operations: list[MemoryOperation]


class SkippedOperation(BaseModel):
    """An operation the manager did not apply, and why."""

    model_config = ConfigDict(extra="forbid")

    operation: dict[str, Any]
    """The operation as the model sent it (trimmed to its known fields)."""
    reason: str


class MemoryUpdate(BaseModel):
    """What one `MemoryManager.update` changed. `error` is set when it gave up.

    An update never raises for a failing model or store: read `error`.
    """

    model_config = ConfigDict(extra="forbid")

    run_id: str
    created: list[Memory] = Field(default_factory=list[Memory])
    updated: list[Memory] = Field(default_factory=list[Memory])
    deleted: list[str] = Field(default_factory=list[str])
    """Ids of the memories deleted."""
    skipped: list[SkippedOperation] = Field(default_factory=list[SkippedOperation])
    model_calls: int = 0
    usage: Usage = Field(default_factory=Usage)
    error: str | None = None

    @property
    def changed(self) -> bool:
        """Whether any memory was created, updated or deleted."""
        return bool(self.created or self.updated or self.deleted)
