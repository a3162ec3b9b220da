"""The tables: one registry of collections, and one table per collection.

A table per collection, because a `vector(n)` column and its HNSW index need one fixed
dimension, and collections of different embedders have different ones; a drop is then one
`DROP TABLE`. The collection's name (case and `-` included) lives in the registry beside its
table's name, which is random: a safe identifier whatever the collection is called, and a new
one each time a collection is made again, so a statement cached for a dropped table never meets
its successor.

Each collection table has `id`, `embedding vector(n)`, `text`, `metadata jsonb` and a generated
`tsv tsvector` (from `text`, in the collection's text search configuration), with an HNSW index
(`vector_cosine_ops`) on `embedding`, a GIN index on `tsv` and a GIN index
(`jsonb_path_ops`) on `metadata`.
"""

from __future__ import annotations

import uuid

__all__ = [
    "HNSW_MAX_DIMENSIONS",
    "LOCK_KEY",
    "MAX_DIMENSIONS",
    "REGISTRY",
    "create_collection_statements",
    "create_registry_statement",
    "new_table_name",
]

REGISTRY = "covey_vector_collections"
"""The registry table: name, table name, embedder name, dimensions, text search config."""

MAX_DIMENSIONS = 16000
"""The most dimensions a pgvector `vector` column holds."""

HNSW_MAX_DIMENSIONS = 2000
"""The most dimensions pgvector's HNSW index takes; wider collections are searched exactly."""

LOCK_KEY = 0x636F766579  # "covey": one advisory lock serialises creating and dropping tables


def new_table_name() -> str:
    """A fresh table name for a new collection (recorded in the registry)."""
    return f"covey_vectors_{uuid.uuid4().hex[:24]}"


def create_registry_statement() -> str:
    """`CREATE TABLE IF NOT EXISTS` for the registry of collections."""
    return (
        f"CREATE TABLE IF NOT EXISTS {REGISTRY} ("
        " name text PRIMARY KEY,"
        " table_name text NOT NULL UNIQUE,"
        " embedder_name text NOT NULL,"
        " dimensions integer NOT NULL CHECK (dimensions > 0),"
        " text_search_config text NOT NULL,"
        " created_at timestamptz NOT NULL DEFAULT now())"
    )


def create_collection_statements(table: str, dimensions: int, config: str) -> list[str]:
    """The DDL creating one collection's table and indexes.

    `table` comes from `table_name`, `dimensions` is a checked integer and `config` a checked
    identifier that names an existing text search configuration: nothing here is user text.
    """
    statements = [
        f'CREATE TABLE "{table}" ('
        " id text PRIMARY KEY,"
        f" embedding vector({int(dimensions)}) NOT NULL,"
        " text text,"
        " metadata jsonb NOT NULL DEFAULT '{}'::jsonb,"
        f" tsv tsvector GENERATED ALWAYS AS (to_tsvector('{config}'::regconfig,"
        " coalesce(text, ''))) STORED)",
        f'CREATE INDEX "{table}_tsv" ON "{table}" USING gin (tsv)',
        f'CREATE INDEX "{table}_metadata" ON "{table}" USING gin (metadata jsonb_path_ops)',
    ]
    if dimensions <= HNSW_MAX_DIMENSIONS:
        statements.append(
            f'CREATE INDEX "{table}_embedding" ON "{table}" '
            "USING hnsw (embedding vector_cosine_ops)"
        )
    return statements
