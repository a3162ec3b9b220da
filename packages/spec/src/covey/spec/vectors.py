"""The `VectorStore` interface: records, the filter language, queries and hits.

A collection records the name and dimensions of the embedder that filled it and refuses any
other (`EmbedderMismatchError`), so vectors from two models never mix.

Filters are a small AST (`Eq`, `In`, `Range`, `And`, `Or`, `Not`) that each backend compiles to
its own query language. `matches` is the reference semantics every backend must agree with:

- A filter names a top-level metadata key (`field`: letters, digits and `_`, not starting with a
  digit, at most 64 characters), so backends can put it in a query safely.
- Values are JSON scalars. Booleans, numbers and strings never equal one another (`True` is not
  `1`); `1` equals `1.0`.
- `Eq`, `In` and `Range` are false when the field is missing; so `Not(Eq(...))` is true then.
- `Range` compares numbers with numbers and strings with strings (ISO dates sort as strings);
  any other pairing is false.
- A metadata value that is a list or an object never matches `Eq`, `In` or `Range`.

Scores are "higher is better". In `vector` mode the score is the cosine similarity (-1 to 1),
the same on every backend, so `min_score` means the same everywhere; in `text` and `hybrid`
modes only the order is comparable between backends (hybrid fuses the vector and text rankings
with `reciprocal_rank_fusion`).

Unknown collections raise `CollectionNotFoundError`, which is both a `NotFoundError` and a
`VectorStoreError`. Malformed ids, collection names and records raise `InvalidInputError`.
"""

from __future__ import annotations

import math
import re
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from functools import cache
from types import TracebackType
from typing import Annotated, Any, Literal, Self, cast

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator, model_validator

from covey.spec.errors import (
    EmbedderMismatchError,
    InvalidInputError,
    NotFoundError,
    VectorStoreError,
)
from covey.spec.store import check_id

__all__ = [
    "And",
    "CollectionInfo",
    "CollectionNotFoundError",
    "Eq",
    "Filter",
    "In",
    "Not",
    "Or",
    "QueryHit",
    "QueryMode",
    "Range",
    "Record",
    "Scalar",
    "VectorQuery",
    "VectorStore",
    "check_collection_name",
    "check_delete",
    "check_embedder",
    "check_records",
    "filter_adapter",
    "load_filter",
    "matches",
    "reciprocal_rank_fusion",
]

Scalar = bool | int | float | str
"""A JSON scalar a filter compares with (`null` is not one: use `Not(In(...))` patterns)."""

QueryMode = Literal["vector", "text", "hybrid"]

_FIELD = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_COLLECTION = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,62}")


class CollectionNotFoundError(NotFoundError, VectorStoreError):
    """The vector store has no collection of that name; create it with `ensure_collection`."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(
            f"No vector collection named {name!r}. Create it first with "
            "ensure_collection(name, embedder_name=..., dimensions=...)."
        )


class _Model(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="forbid")


class Record(_Model):
    """One item of a collection: an id, its vector, its text and metadata.

    `vector` is required when upserting; `text` is what `text` and `hybrid` queries search.
    `metadata` is JSON-like data; filters look at its top-level keys.
    """

    id: str
    vector: list[float] | None = None
    text: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict[str, Any])


# --- filters -------------------------------------------------------------------------------------


class _Filter(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="forbid", frozen=True)

    def __and__(self, other: Filter) -> And:
        return And(cast("Filter", self), other)

    def __or__(self, other: Filter) -> Or:
        return Or(cast("Filter", self), other)

    def __invert__(self) -> Not:
        return Not(cast("Filter", self))


class _FieldFilter(_Filter):
    field: str
    """A top-level metadata key."""

    @field_validator("field")
    @classmethod
    def _check_field(cls, value: str) -> str:
        if not _FIELD.fullmatch(value):
            raise ValueError(
                f"filter field {value!r} must be 1 to 64 letters, digits or '_', "
                "not starting with a digit"
            )
        return value


class Eq(_FieldFilter):
    """`metadata[field] == value`. Build with `Eq("lang", "en")`."""

    op: Literal["eq"] = "eq"
    value: Scalar

    def __init__(self, field: str | None = None, value: Scalar | None = None, /, **data: Any):
        if field is not None:
            data["field"] = field
        if value is not None:
            data["value"] = value
        super().__init__(**data)


class In(_FieldFilter):
    """`metadata[field]` equals one of `values`. Build with `In("lang", ["en", "fr"])`."""

    op: Literal["in"] = "in"
    values: tuple[Scalar, ...]

    def __init__(
        self, field: str | None = None, values: Sequence[Scalar] | None = None, /, **data: Any
    ):
        if field is not None:
            data["field"] = field
        if values is not None:
            data["values"] = tuple(values)
        super().__init__(**data)


_Bound = int | float | str


class Range(_FieldFilter):
    """`metadata[field]` within the given bounds. Build with `Range("year", gte=2020, lt=2024)`.

    Numbers compare with numbers, strings with strings; give at least one bound, all of one kind.
    """

    op: Literal["range"] = "range"
    gt: _Bound | None = None
    gte: _Bound | None = None
    lt: _Bound | None = None
    lte: _Bound | None = None

    def __init__(
        self,
        field: str | None = None,
        /,
        *,
        gt: _Bound | None = None,
        gte: _Bound | None = None,
        lt: _Bound | None = None,
        lte: _Bound | None = None,
        **data: Any,
    ):
        if field is not None:
            data["field"] = field
        for name, bound in (("gt", gt), ("gte", gte), ("lt", lt), ("lte", lte)):
            if bound is not None:
                data[name] = bound
        super().__init__(**data)

    @field_validator("gt", "gte", "lt", "lte", mode="before")
    @classmethod
    def _no_bool(cls, value: Any) -> Any:
        if isinstance(value, bool):
            raise ValueError("a range bound is a number or a string, not a boolean")
        return value

    @model_validator(mode="after")
    def _check_bounds(self) -> Range:
        bounds = self.bounds()
        if not bounds:
            raise ValueError("give at least one of gt, gte, lt, lte")
        if len({isinstance(b, str) for _, b in bounds}) > 1:
            raise ValueError("range bounds must all be numbers or all be strings")
        return self

    def bounds(self) -> list[tuple[Literal["gt", "gte", "lt", "lte"], _Bound]]:
        """The bounds that are set, as `(operator, value)` pairs."""
        pairs: list[tuple[Literal["gt", "gte", "lt", "lte"], _Bound | None]] = [
            ("gt", self.gt),
            ("gte", self.gte),
            ("lt", self.lt),
            ("lte", self.lte),
        ]
        return [(op, b) for op, b in pairs if b is not None]


class And(_Filter):
    """Every filter matches. Build with `And(Eq("a", 1), Eq("b", 2))`."""

    op: Literal["and"] = "and"
    filters: tuple[Filter, ...] = Field(min_length=1)

    def __init__(self, *filters: Filter, **data: Any):
        if filters:
            data["filters"] = filters
        super().__init__(**data)


class Or(_Filter):
    """At least one filter matches. Build with `Or(Eq("a", 1), Eq("b", 2))`."""

    op: Literal["or"] = "or"
    filters: tuple[Filter, ...] = Field(min_length=1)

    def __init__(self, *filters: Filter, **data: Any):
        if filters:
            data["filters"] = filters
        super().__init__(**data)


class Not(_Filter):
    """The filter does not match (true when its field is missing). Build with `Not(Eq(...))`."""

    op: Literal["not"] = "not"
    filter: Filter

    def __init__(self, filter: Filter | None = None, /, **data: Any):
        if filter is not None:
            data["filter"] = filter
        super().__init__(**data)


Filter = Annotated[Eq | In | Range | And | Or | Not, Field(discriminator="op")]
"""Any filter; the discriminator is `op`. Combine with `&`, `|` and `~` too."""


@cache
def filter_adapter() -> TypeAdapter[Eq | In | Range | And | Or | Not]:
    """The `TypeAdapter` for a `Filter`; built on first use."""
    return TypeAdapter(Filter)


def load_filter(data: str | bytes | Mapping[str, Any]) -> Eq | In | Range | And | Or | Not:
    """A filter from JSON or from already-parsed data (e.g. an HTTP request body)."""
    if isinstance(data, str | bytes):
        return filter_adapter().validate_json(data)
    return filter_adapter().validate_python(data)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _equal(stored: object, wanted: Scalar) -> bool:
    if isinstance(stored, bool) or isinstance(wanted, bool):
        return isinstance(stored, bool) and isinstance(wanted, bool) and stored == wanted
    if _is_number(stored) and _is_number(wanted):
        return stored == wanted
    if isinstance(stored, str) and isinstance(wanted, str):
        return stored == wanted
    return False


def _compare(op: str, a: float, b: float) -> bool:
    if op == "gt":
        return a > b
    if op == "gte":
        return a >= b
    if op == "lt":
        return a < b
    return a <= b


def _in_range(stored: object, flt: Range) -> bool:
    for op, bound in flt.bounds():
        if _is_number(stored) and _is_number(bound):
            ok = _compare(op, float(cast("float", stored)), float(bound))
        elif isinstance(stored, str) and isinstance(bound, str):
            # Strings compare by their order, mapped onto the same four operators.
            ok = _compare(op, (stored > bound) - (stored < bound), 0)
        else:
            return False
        if not ok:
            return False
    return True


def matches(filter: Filter, metadata: Mapping[str, Any]) -> bool:
    """Whether `metadata` passes `filter`: the reference semantics every backend must match.

    See the module documentation for the rules.
    """
    match filter:
        case Eq():
            return filter.field in metadata and _equal(metadata[filter.field], filter.value)
        case In():
            if filter.field not in metadata:
                return False
            stored = metadata[filter.field]
            return any(_equal(stored, v) for v in filter.values)
        case Range():
            return filter.field in metadata and _in_range(metadata[filter.field], filter)
        case And():
            return all(matches(f, metadata) for f in filter.filters)
        case Or():
            return any(matches(f, metadata) for f in filter.filters)
        case Not():
            return not matches(filter.filter, metadata)


# --- queries -------------------------------------------------------------------------------------


class VectorQuery(_Model):
    """What to search for.

    `mode` defaults from what is given: `vector` with only a vector, `text` with only text,
    `hybrid` with both. Give it explicitly to, say, run a pure vector search while also holding
    the query text.
    """

    vector: list[float] | None = None
    text: str | None = None
    mode: QueryMode = "vector"
    k: int = Field(default=10, ge=1, le=1000)
    """How many hits at most."""
    filter: Filter | None = None
    min_score: float | None = None
    """Drop hits scoring below this (see the module documentation for what scores mean)."""
    include_vectors: bool = False
    """Return each hit's vector too (otherwise `hit.record.vector` may be `None`)."""

    @model_validator(mode="after")
    def _infer_mode(self) -> VectorQuery:
        if "mode" not in self.model_fields_set:
            if self.vector is not None and self.text is not None:
                self.mode = "hybrid"
            elif self.text is not None:
                self.mode = "text"
            else:
                self.mode = "vector"
        if self.mode in ("vector", "hybrid") and self.vector is None:
            raise ValueError(f"a {self.mode} query needs a vector")
        if self.mode in ("text", "hybrid") and not (self.text and self.text.strip()):
            raise ValueError(f"a {self.mode} query needs non-blank text")
        return self


class QueryHit(_Model):
    """One result of a query."""

    record: Record
    score: float
    """Higher is better; see the module documentation."""


class CollectionInfo(_Model):
    """A collection, the embedder it belongs to and how many records it holds."""

    name: str
    embedder_name: str
    """`Embedder.name` of the embedder whose vectors the collection holds."""
    dimensions: int
    count: int = 0


def reciprocal_rank_fusion(
    rankings: Sequence[Sequence[str]], k: int = 60
) -> list[tuple[str, float]]:
    """Fuse rankings of ids into one: each id scores the sum of `1 / (k + rank)`.

    Ranks count from 1; an id repeated within one ranking counts once, at its best rank. Equal
    scores keep the order in which the ids were first seen.

    Args:
        rankings: Lists of ids, best first.
        k: Damping constant; 60 is the value from the original paper.

    Returns:
        `(id, score)` pairs, best first.
    """
    if k < 0:
        raise ValueError(f"k must not be negative, got {k}")
    scores: dict[str, float] = {}
    for ranking in rankings:
        seen: set[str] = set()
        for rank, item in enumerate(ranking, start=1):
            if item in seen:
                continue
            seen.add(item)
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
    return sorted(scores.items(), key=lambda pair: -pair[1])


# --- helpers for implementations -----------------------------------------------------------------


def check_delete(ids: Sequence[str] | None, filter: Filter | None) -> None:
    """Check `VectorStore.delete`'s arguments: ids, a filter or both, every id valid; else
    raise `InvalidInputError` (emptying a collection is `drop_collection`)."""
    if ids is None and filter is None:
        raise InvalidInputError(
            "delete needs ids, a filter or both; to empty a collection, drop it"
        )
    for record_id in ids or ():
        check_id(record_id, "record id")


def check_collection_name(name: object) -> str:
    """Return `name` if it is a valid collection name, else raise `InvalidInputError`.

    A valid name is 1 to 63 letters, digits, `_` or `-`, starting with a letter or digit: what
    every supported backend accepts as a table or collection name.
    """
    if not isinstance(name, str) or not _COLLECTION.fullmatch(name):
        raise InvalidInputError(
            f"Collection name {name!r} is not valid: use 1 to 63 letters, digits, '_' or '-', "
            "starting with a letter or digit."
        )
    return name


def check_embedder(info: CollectionInfo, embedder_name: str, dimensions: int) -> None:
    """Raise `EmbedderMismatchError` unless `info` was made for this embedder and dimension."""
    if info.embedder_name != embedder_name or info.dimensions != dimensions:
        raise EmbedderMismatchError(
            f"Collection {info.name!r} holds vectors of embedder {info.embedder_name!r} "
            f"({info.dimensions} dimensions); it cannot take embedder {embedder_name!r} "
            f"({dimensions} dimensions). Use the original embedder, or another collection (drop "
            "this one and re-embed to switch)."
        )


def check_records(records: Sequence[Record], info: CollectionInfo) -> None:
    """Check records before an upsert into the collection `info`, raising on the first problem.

    Raises:
        InvalidInputError: an id is malformed or repeated, a vector is missing, or a value is
            not finite.
        EmbedderMismatchError: a vector's length is not the collection's dimensions.
    """
    seen: set[str] = set()
    for record in records:
        check_id(record.id, "record id")
        if record.id in seen:
            raise InvalidInputError(f"Record id {record.id!r} appears twice in one upsert")
        seen.add(record.id)
        if record.vector is None:
            raise InvalidInputError(
                f"Record {record.id!r} has no vector; embed its text before upserting"
            )
        if len(record.vector) != info.dimensions:
            raise EmbedderMismatchError(
                f"Record {record.id!r} has a {len(record.vector)}-dimensional vector, but "
                f"collection {info.name!r} holds {info.dimensions}-dimensional vectors of "
                f"embedder {info.embedder_name!r}. Embed with that embedder."
            )
        if not all(math.isfinite(x) for x in record.vector):
            raise InvalidInputError(f"Record {record.id!r} has a NaN or infinite vector value")


# --- the interface -------------------------------------------------------------------------------


class VectorStore(ABC):
    """A store of embedded records, searched by vector, text or both.

    Used as an async context manager (or closed with `close`); must be safe to share between
    concurrent tasks. See the module documentation for filters, scores and errors;
    `covey-conformance`'s `VectorStoreSuite` checks all of it.
    """

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Release connections. Safe to call more than once."""
        return None

    @abstractmethod
    async def ensure_collection(
        self, name: str, *, embedder_name: str, dimensions: int
    ) -> CollectionInfo:
        """Create the collection, or check that the existing one has this embedder.

        Raises:
            EmbedderMismatchError: the collection exists with another embedder name or
                dimension; the message names both.
            InvalidInputError: the name is not valid (`check_collection_name`) or
                `dimensions` is below 1.
        """

    @abstractmethod
    async def list_collections(self) -> list[CollectionInfo]:
        """Every collection, by name."""

    @abstractmethod
    async def drop_collection(self, name: str) -> bool:
        """Delete a collection and its records.

        Returns:
            Whether it existed.
        """

    @abstractmethod
    async def upsert(self, collection: str, records: Sequence[Record]) -> None:
        """Insert records, replacing any with the same id. All or nothing.

        Raises:
            CollectionNotFoundError: no such collection.
            EmbedderMismatchError: a vector's length is not the collection's dimensions.
            InvalidInputError: see `check_records`.
        """

    @abstractmethod
    async def query(self, collection: str, query: VectorQuery) -> list[QueryHit]:
        """The best `query.k` records for the query that pass its filter, best first.

        Raises:
            CollectionNotFoundError: no such collection.
            EmbedderMismatchError: the query vector's length is not the collection's dimensions.
        """

    @abstractmethod
    async def get(self, collection: str, ids: Sequence[str]) -> list[Record]:
        """The records with these ids, vectors included, in the order asked; missing ids skipped.

        Raises:
            CollectionNotFoundError: no such collection.
        """

    @abstractmethod
    async def delete(
        self,
        collection: str,
        *,
        ids: Sequence[str] | None = None,
        filter: Filter | None = None,
    ) -> int:
        """Delete records by id, by filter, or both (records matching both).

        Returns:
            How many records were deleted.

        Raises:
            CollectionNotFoundError: no such collection.
            InvalidInputError: neither `ids` nor `filter` is given (to empty a collection,
                drop it).
        """

    @abstractmethod
    async def count(self, collection: str, filter: Filter | None = None) -> int:
        """How many records pass `filter` (all of them without one).

        Raises:
            CollectionNotFoundError: no such collection.
        """
