"""What `LanceDBVectorStore` adds to the conformance suite: URLs, hostile values, reopening a
folder, fresh rows in text search, lazy imports, foreign tables and several processes."""

from __future__ import annotations

import math
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from functools import partial
from pathlib import Path

import anyio
import lancedb
import pyarrow as pa
import pytest

from covey.spec.errors import (
    ConfigurationError,
    EmbedderMismatchError,
    InvalidInputError,
    VectorStoreError,
)
from covey.spec.plugins import resolve_vector_store
from covey.spec.vectors import Eq, In, Not, Range, Record, VectorQuery, matches
from covey.vectordb.lancedb import LanceDBVectorStore
from covey.vectordb.lancedb.filters import sql_string
from covey.vectordb.lancedb.plugin import parse_url

EMBEDDER = "test:fixed"


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[LanceDBVectorStore]:
    async with LanceDBVectorStore(tmp_path / "db") as opened:
        yield opened


def _vector(i: int) -> list[float]:
    return [1.0, i / 10, (i % 3) / 3, 0.5]


# --- URLs ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "path", "interval"),
    [
        ("lancedb:///.covey/lancedb", ".covey/lancedb", None),
        ("lancedb:///data", "data", None),
        ("lancedb:////var/lib/kb", "/var/lib/kb", None),
        ("LanceDB:////tmp/with%20space", "/tmp/with space", None),
        ("lancedb:///kb?read_consistency_interval=2.5", "kb", 2.5),
        ("lancedb:///kb?read_consistency_interval=0", "kb", 0.0),
    ],
)
def test_parse_url(url: str, path: str, interval: float | None) -> None:
    assert parse_url(url) == (path, interval)


@pytest.mark.parametrize(
    "url",
    [
        "lancedb://",
        "lancedb:///",
        "lancedb://host/path",
        "lancedb://user:secret@host/path",
        "qdrant:///path",
        "lancedb:///kb?unknown=1",
        "lancedb:///kb?read_consistency_interval=-1",
        "lancedb:///kb?read_consistency_interval=soon",
        "lancedb:///kb?read_consistency_interval=nan",
        "lancedb:///kb?read_consistency_interval=1&read_consistency_interval=2",
        "lancedb:///kb#fragment",
    ],
)
def test_bad_urls_raise_configuration_error(url: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        parse_url(url)
    assert "secret" not in str(caught.value)


async def test_resolve_vector_store_takes_relative_paths_from_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    async with resolve_vector_store("lancedb:///.covey/lancedb") as store:
        assert isinstance(store, LanceDBVectorStore)
        assert store.path == tmp_path / ".covey" / "lancedb"
        assert not store.path.exists(), "construction must not touch the disk"
        await store.ensure_collection("docs", embedder_name=EMBEDDER, dimensions=4)
        assert store.path.is_dir()
        assert repr(store) == f"LanceDBVectorStore(path={str(store.path)!r})"
    absolute = f"lancedb:///{tmp_path}/abs"
    assert absolute.startswith("lancedb:////")
    async with resolve_vector_store(absolute) as store:
        assert isinstance(store, LanceDBVectorStore)
        assert store.path == tmp_path / "abs"


def test_import_and_construction_load_neither_lancedb_nor_pyarrow(tmp_path: Path) -> None:
    code = textwrap.dedent(
        f"""
        import sys
        from covey.spec.plugins import resolve_vector_store
        store = resolve_vector_store("lancedb:///{tmp_path}/never")
        heavy = sorted(m for m in ("lancedb", "pyarrow", "numpy") if m in sys.modules)
        assert not heavy, heavy
        """
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    assert not (tmp_path / "never").exists()


# --- hostile values ------------------------------------------------------------------------------

HOSTILE = [
    "it's",
    "''",
    "' OR TRUE --",
    "back\\slash",
    "\\'",
    'double "quote"',
    "100%",
    "under_score",
    "new\nline",
    "tab\tand\rreturn",
    "ünïcödé ✓ 😀",
    "json_get_string(meta_str, 'x')",
    "",
    # The separators of the meta_pairs column, in a value: they must not forge a pair.
    '\x1f"v"\x1e"x"\x1f',
    "x\x1f",
    "true",
    "2023",
]


def test_sql_string_doubles_quotes_only() -> None:
    assert sql_string("it's") == "'it''s'"
    assert sql_string("a\\b%_") == "'a\\b%_'"
    with pytest.raises(ValueError, match="NUL"):
        sql_string("a\x00b")


async def test_hostile_filter_values_match_exactly_their_record(
    store: LanceDBVectorStore,
) -> None:
    await store.ensure_collection("hostile", embedder_name=EMBEDDER, dimensions=4)
    records = [
        Record(id=f"h{i}", vector=_vector(i), text=f"hostile {i}", metadata={"v": value})
        for i, value in enumerate(HOSTILE)
    ]
    records.append(Record(id="plain", vector=_vector(99), text="hostile", metadata={"v": "x"}))
    await store.upsert("hostile", records)
    query = VectorQuery(vector=[1, 0, 0, 0], k=100)
    for i, value in enumerate(HOSTILE):
        hits = await store.query("hostile", query.model_copy(update={"filter": Eq("v", value)}))
        assert [h.record.id for h in hits] == [f"h{i}"], value
        assert await store.count("hostile", Not(Eq("v", value))) == len(records) - 1
    forged = {'x\x1f"v"\x1e"forged"': "y", "w": '\x1f"v"\x1e"forged"\x1f', "b": "\x1ftrue"}
    await store.upsert("hostile", [Record(id="forger", vector=_vector(7), metadata=forged)])
    for flt in (Eq("v", "forged"), Eq("b", True), Eq("w", "forged")):
        assert await store.count("hostile", flt) == 0, flt
    await store.delete("hostile", ids=["forger"])
    everything = await store.query("hostile", query.model_copy(update={"filter": In("v", HOSTILE)}))
    assert len(everything) == len(HOSTILE)
    # String ranges order by code point, as Python's `<` does.
    for bound in ("'", "\\", "new", "ü"):
        flt = Range("v", gte=bound)
        expected = sorted(r.id for r in records if matches(flt, r.metadata))
        hits = await store.query("hostile", query.model_copy(update={"filter": flt}))
        assert sorted(h.record.id for h in hits) == expected, bound
    # Hostile ids are values too.
    odd_ids = ["it's", "a'); DROP TABLE hostile; --", "back\\slash", "%"]
    await store.upsert("hostile", [Record(id=i, vector=_vector(1)) for i in odd_ids])
    assert [r.id for r in await store.get("hostile", odd_ids)] == odd_ids
    assert await store.delete("hostile", ids=odd_ids[:2]) == 2
    assert [r.id for r in await store.get("hostile", odd_ids)] == odd_ids[2:]
    assert await store.count("hostile") == len(records) + 2


async def test_unsafe_values_are_refused_and_nothing_is_written(
    store: LanceDBVectorStore,
) -> None:
    await store.ensure_collection("c", embedder_name=EMBEDDER, dimensions=4)
    with pytest.raises(InvalidInputError):
        await store.query("c", VectorQuery(vector=[1, 0, 0, 0], filter=Eq("v", "nul\x00byte")))
    with pytest.raises(InvalidInputError):
        await store.count("c", Eq("v", math.inf))
    ok = Record(id="ok", vector=_vector(1))
    for bad in (
        Record(id="nan", vector=_vector(2), metadata={"x": math.nan}),
        Record(id="surrogate", vector=_vector(2), text="lone \ud800 surrogate"),
        Record(id="surrogate-key", vector=_vector(2), metadata={"\udfff": "x"}),
    ):
        with pytest.raises(InvalidInputError):
            await store.upsert("c", [ok, bad])
    assert await store.count("c") == 0


# --- persistence and freshness -------------------------------------------------------------------


async def test_a_reopened_folder_keeps_records_embedder_and_text_index(tmp_path: Path) -> None:
    folder = tmp_path / "db"
    async with LanceDBVectorStore(folder) as first:
        await first.ensure_collection("kb", embedder_name=EMBEDDER, dimensions=4)
        await first.upsert(
            "kb",
            [
                Record(id="a", vector=[1, 0, 0, 0], text="solar panels", metadata={"n": 1}),
                Record(id="b", vector=[0, 1, 0, 0], text="wind turbines", metadata={"n": 2}),
            ],
        )
    async with LanceDBVectorStore(folder) as second:
        [info] = await second.list_collections()
        assert (info.name, info.embedder_name, info.dimensions, info.count) == (
            "kb",
            EMBEDDER,
            4,
            2,
        )
        with pytest.raises(EmbedderMismatchError, match="other:model"):
            await second.ensure_collection("kb", embedder_name="other:model", dimensions=4)
        [a] = await second.get("kb", ["a"])
        assert (a.text, a.metadata) == ("solar panels", {"n": 1})
        hits = await second.query("kb", VectorQuery(text="turbines"))
        assert [h.record.id for h in hits] == ["b"]
        hybrid = await second.query("kb", VectorQuery(vector=[1, 0, 0, 0], text="solar"))
        assert hybrid[0].record.id == "a"


async def test_text_search_sees_rows_written_after_the_index(tmp_path: Path) -> None:
    """The FTS index is built by `optimize`; rows upserted since are found, replaced and
    deleted ones are not."""
    async with LanceDBVectorStore(tmp_path / "db", optimize_after_rows=3) as store:
        await store.ensure_collection("kb", embedder_name=EMBEDDER, dimensions=4)
        await store.upsert(
            "kb", [Record(id=f"old{i}", vector=_vector(i), text=f"bread {i}") for i in range(3)]
        )  # the third row triggers an optimize: these three are in the index now
        await store.upsert("kb", [Record(id="fresh", vector=_vector(5), text="fresh sourdough")])
        hits = await store.query("kb", VectorQuery(text="sourdough"))
        assert [h.record.id for h in hits] == ["fresh"]
        await store.upsert("kb", [Record(id="old0", vector=_vector(0), text="rye loaf")])
        assert sorted(h.record.id for h in await store.query("kb", VectorQuery(text="bread"))) == [
            "old1",
            "old2",
        ]
        assert [h.record.id for h in await store.query("kb", VectorQuery(text="rye"))] == ["old0"]
        await store.delete("kb", ids=["fresh"])
        assert await store.query("kb", VectorQuery(text="sourdough")) == []
        await store.optimize("kb")
        assert [h.record.id for h in await store.query("kb", VectorQuery(text="rye"))] == ["old0"]


async def test_a_large_batch_is_checked_and_written_whole(store: LanceDBVectorStore) -> None:
    """Batches past the inline limit are prepared in a worker thread: same rules, same result."""
    await store.ensure_collection("big", embedder_name=EMBEDDER, dimensions=4)
    batch = [
        Record(id=f"r{i}", vector=_vector(i), text=f"row {i}", metadata={"i": i})
        for i in range(1000)
    ]
    with pytest.raises(EmbedderMismatchError):
        await store.upsert("big", [*batch, Record(id="short", vector=[1, 0])])
    assert await store.count("big") == 0
    await store.upsert("big", batch)
    assert await store.count("big", Range("i", gte=990)) == 10


async def test_zero_query_vector_scores_zero_like_the_reference(
    store: LanceDBVectorStore,
) -> None:
    await store.ensure_collection("c", embedder_name=EMBEDDER, dimensions=4)
    await store.upsert("c", [Record(id=f"r{i}", vector=_vector(i)) for i in range(3)])
    hits = await store.query("c", VectorQuery(vector=[0, 0, 0, 0], k=2, include_vectors=True))
    assert len(hits) == 2
    assert all(h.score == 0.0 and h.record.vector is not None for h in hits)


# --- foreign tables, closing ---------------------------------------------------------------------


async def test_tables_made_by_other_tools_are_left_alone(tmp_path: Path) -> None:
    folder = tmp_path / "db"
    db = await lancedb.connect_async(folder)
    await db.create_table("foreign", data=pa.table({"x": [1, 2]}))
    db.close()
    async with LanceDBVectorStore(folder) as store:
        await store.ensure_collection("mine", embedder_name=EMBEDDER, dimensions=4)
        assert [c.name for c in await store.list_collections()] == ["mine"]
        with pytest.raises(VectorStoreError, match="not made by covey"):
            await store.ensure_collection("foreign", embedder_name=EMBEDDER, dimensions=4)
        with pytest.raises(VectorStoreError, match="not made by covey"):
            await store.count("foreign")


async def test_a_table_of_another_layout_is_refused_not_misread(tmp_path: Path) -> None:
    folder = tmp_path / "db"
    db = await lancedb.connect_async(folder)
    schema = pa.schema(
        [pa.field("id", pa.string())],
        metadata={"covey.embedder_name": EMBEDDER, "covey.dimensions": "4", "covey.format": "0"},
    )
    await db.create_table("old", schema=schema)
    db.close()
    async with LanceDBVectorStore(folder) as store:
        with pytest.raises(VectorStoreError, match="layout '0'"):
            await store.ensure_collection("old", embedder_name=EMBEDDER, dimensions=4)
        assert await store.list_collections() == []


async def test_a_closed_store_refuses_work(tmp_path: Path) -> None:
    store = LanceDBVectorStore(tmp_path / "db")
    await store.ensure_collection("c", embedder_name=EMBEDDER, dimensions=4)
    await store.close()
    await store.close()
    with pytest.raises(VectorStoreError, match="closed"):
        await store.count("c")


def test_bad_constructor_arguments() -> None:
    with pytest.raises(ConfigurationError):
        LanceDBVectorStore("x", read_consistency_interval=-1)
    with pytest.raises(ConfigurationError):
        LanceDBVectorStore("x", optimize_after_rows=0)


# --- several processes ---------------------------------------------------------------------------


async def test_a_store_sees_another_writers_changes_unless_told_not_to(tmp_path: Path) -> None:
    """Two stores on one folder stand for two processes (each has its own connection)."""
    folder = tmp_path / "db"
    async with (
        LanceDBVectorStore(folder) as reader,
        LanceDBVectorStore(folder) as writer,
        LanceDBVectorStore(folder, read_consistency_interval=None) as stale,
    ):
        await reader.ensure_collection("c", embedder_name=EMBEDDER, dimensions=4)
        await reader.upsert("c", [Record(id="a", vector=_vector(1), text="hello")])
        assert await stale.count("c") == 1
        await writer.upsert("c", [Record(id="b", vector=_vector(2), text="world peace")])
        assert await reader.count("c") == 2
        hits = await reader.query("c", VectorQuery(text="peace"))
        assert [h.record.id for h in hits] == ["b"]
        await writer.delete("c", ids=["a"])
        assert await reader.count("c") == 1
        assert await stale.count("c") == 1  # still its first view: a and nothing since
        assert [r.id for r in await stale.get("c", ["a", "b"])] == ["a"]


_WRITER = """
import asyncio, sys
from covey.spec.vectors import Record
from covey.vectordb.lancedb import LanceDBVectorStore

async def main(folder: str, who: str) -> None:
    async with LanceDBVectorStore(folder) as store:
        await store.ensure_collection("shared", embedder_name="test:fixed", dimensions=4)
        for i in range(15):
            await store.upsert(
                "shared", [Record(id=f"{who}-{i}", vector=[1.0, i, 0.0, 1.0], text=who)]
            )

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


@pytest.mark.slow
async def test_two_processes_writing_one_collection_lose_nothing(tmp_path: Path) -> None:
    folder = tmp_path / "db"
    async with anyio.create_task_group() as tg:
        for who in ("a", "b"):
            # check=True: a writer that fails (e.g. on a commit conflict) fails the test.
            tg.start_soon(
                partial(anyio.run_process, [sys.executable, "-c", _WRITER, str(folder), who])
            )
    async with LanceDBVectorStore(folder) as store:
        assert await store.count("shared") == 30
        hits = await store.query("shared", VectorQuery(text="b", k=100))
        assert len(hits) == 15
