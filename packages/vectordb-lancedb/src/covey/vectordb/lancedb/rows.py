"""Rows of a collection's Lance table: its schema, records to Arrow and back, predicates."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from covey.spec.errors import InvalidInputError
from covey.spec.vectors import Filter, Record
from covey.vectordb.lancedb.filters import compile_filter, filter_columns, sql_string

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "DIMENSIONS_KEY",
    "EMBEDDER_KEY",
    "FORMAT",
    "FORMAT_KEY",
    "arrow_records",
    "columns",
    "id_predicates",
    "table_schema",
    "to_record",
    "where_clause",
]

EMBEDDER_KEY = b"covey.embedder_name"
DIMENSIONS_KEY = b"covey.dimensions"
# The table layout this code reads and writes; a table of another layout is refused, not misread.
FORMAT_KEY = b"covey.format"
FORMAT = b"1"
# Ids per `id IN (...)` predicate, to keep one SQL string bounded.
_IDS_PER_QUERY = 500


def table_schema(embedder_name: str, dimensions: int) -> pa.Schema:
    """The Arrow schema of a collection's table, its embedder and layout in the metadata."""
    import pyarrow as pa

    return pa.schema(
        [
            pa.field("id", pa.string(), nullable=False),
            pa.field("vector", pa.list_(pa.float32(), dimensions), nullable=False),
            pa.field("text", pa.string()),
            pa.field("metadata", pa.string(), nullable=False),
            pa.field("meta_pairs", pa.string(), nullable=False),
            pa.field("meta_num", pa.json_(pa.string()), nullable=False),
            pa.field("meta_str", pa.json_(pa.string()), nullable=False),
        ],
        metadata={
            EMBEDDER_KEY: embedder_name.encode(),
            DIMENSIONS_KEY: str(dimensions).encode(),
            FORMAT_KEY: FORMAT,
        },
    )


def where_clause(flt: Filter | None) -> str | None:
    """The SQL predicate for `flt` (None for no filter).

    Raises:
        InvalidInputError: a value cannot be used safely (NUL character, non-finite number).
    """
    if flt is None:
        return None
    try:
        return compile_filter(flt)
    except ValueError as e:
        raise InvalidInputError(f"Filter cannot be used: {e}") from e


def id_predicates(ids: Sequence[str], where: str | None) -> Iterable[str]:
    """`id IN (...)` predicates over bounded chunks of `ids` (deduplicated), ANDed with `where`."""
    unique = list(dict.fromkeys(ids))
    for start in range(0, len(unique), _IDS_PER_QUERY):
        chunk = unique[start : start + _IDS_PER_QUERY]
        predicate = "id IN (" + ", ".join(sql_string(i) for i in chunk) + ")"
        yield predicate if where is None else f"({predicate}) AND {where}"


def _json(value: object) -> str:
    return json.dumps(value, allow_nan=False, ensure_ascii=False, separators=(",", ":"))


def arrow_records(records: Sequence[Record], schema: pa.Schema, dimensions: int) -> pa.Table:
    """Checked records as an Arrow table of `schema`, filter columns filled in.

    Raises:
        InvalidInputError: metadata is not JSON (NaN, objects), or a string cannot be UTF-8.
    """
    import pyarrow as pa

    metadata: list[str] = []
    pairs: list[str] = []
    numbers: list[str] = []
    strings: list[str] = []
    try:
        for record in records:
            metadata.append(_json(record.metadata))
            row_pairs, row_numbers, row_strings = filter_columns(record.metadata)
            pairs.append(row_pairs)
            numbers.append(row_numbers)
            strings.append(row_strings)
        ids = pa.array([r.id for r in records], type=pa.string())
        text = pa.array([r.text for r in records], type=pa.string())
        utf8 = [pa.array(column, type=pa.string()) for column in (metadata, pairs)]
        json_columns = [pa.array(c, type=pa.json_(pa.string())) for c in (numbers, strings)]
    except (TypeError, ValueError) as e:  # ArrowInvalid is a ValueError (e.g. lone surrogates)
        raise InvalidInputError(f"Record id, text or metadata cannot be stored: {e}") from e
    vectors = pa.array([r.vector for r in records], type=pa.list_(pa.float32(), dimensions))
    return pa.Table.from_arrays(
        [
            ids,
            vectors,
            text,
            *utf8,
            *json_columns,
        ],
        schema=schema,
    )


def columns(with_vectors: bool) -> list[str]:
    """The columns a read selects to build `Record`s."""
    return ["id", "text", "metadata", "vector"] if with_vectors else ["id", "text", "metadata"]


def to_record(row: dict[str, Any]) -> Record:
    """A `Record` from a row read with `columns` (its vector only if selected)."""
    return Record(
        id=row["id"],
        vector=row.get("vector"),
        text=row["text"],
        metadata=json.loads(row["metadata"]),
    )
