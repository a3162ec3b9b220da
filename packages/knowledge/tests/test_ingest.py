"""Re-ingestion: unchanged writes nothing, changed replaces exactly its chunks, gone is removed."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

import pytest

from covey.db.memory import MemoryStore
from covey.knowledge import Knowledge, ProgressEvent, RecursiveChunker
from covey.spec.errors import InvalidInputError, NotFoundError, VectorStoreError
from covey.spec.store import KnowledgeContent, Scope
from covey.spec.vectors import Eq, Filter, Record, VectorQuery
from covey.testing import HashEmbedder, InMemoryVectorStore


class CountingVectors(InMemoryVectorStore):
    def __init__(self) -> None:
        super().__init__()
        self.upserted: list[str] = []
        self.deletes = 0

    async def upsert(self, collection: str, records: Sequence[Record]) -> None:
        self.upserted.extend(r.id for r in records)
        await super().upsert(collection, records)

    async def delete(
        self, collection: str, *, ids: Sequence[str] | None = None, filter: Filter | None = None
    ) -> int:
        self.deletes += 1
        return await super().delete(collection, ids=ids, filter=filter)


class CountingStore(MemoryStore):
    def __init__(self) -> None:
        super().__init__()
        self.saves = 0

    async def save_knowledge_content(
        self, scope: Scope, content: KnowledgeContent
    ) -> KnowledgeContent:
        self.saves += 1
        return await super().save_knowledge_content(scope, content)


@pytest.fixture
def parts() -> tuple[CountingVectors, CountingStore, HashEmbedder]:
    return CountingVectors(), CountingStore(), HashEmbedder(dimensions=128)


@pytest.fixture
async def counted(parts: tuple[CountingVectors, CountingStore, HashEmbedder]) -> Knowledge:
    vectors, store, embedder = parts
    # Small chunks, so one paragraph is one chunk and an edit touches exactly one.
    return Knowledge(
        "docs",
        vector_store=vectors,
        store=store,
        embedder=embedder,
        chunker=RecursiveChunker(size=40),
    )


PARAGRAPHS = ["Alpha paragraph one.", "Beta paragraph two.", "Gamma paragraph three."]


async def chunk_texts(vectors: InMemoryVectorStore, content_id: str) -> list[str]:
    hits = await vectors.query(
        "docs",
        VectorQuery(vector=[0.0] * 127 + [1.0], k=100, filter=Eq("_content_id", content_id)),
    )
    ordered = sorted(hits, key=lambda h: h.record.metadata["_chunk"])
    return [h.record.text or "" for h in ordered]


async def test_reingesting_unchanged_content_writes_nothing(
    counted: Knowledge, parts: tuple[CountingVectors, CountingStore, HashEmbedder], tmp_path: Path
) -> None:
    vectors, store, embedder = parts
    (tmp_path / "a.txt").write_text("\n\n".join(PARAGRAPHS))
    [first] = await counted.ingest(tmp_path / "a.txt")
    assert first.status == "completed"
    written, saves, batches = list(vectors.upserted), store.saves, list(embedder.batch_sizes)
    assert len(written) == 3

    [again] = await counted.ingest(tmp_path / "a.txt")

    assert again == first
    assert vectors.upserted == written
    assert vectors.deletes == 0
    assert store.saves == saves
    assert embedder.batch_sizes == batches  # nothing embedded either


async def test_changed_content_replaces_exactly_its_old_chunks(
    counted: Knowledge, parts: tuple[CountingVectors, CountingStore, HashEmbedder], tmp_path: Path
) -> None:
    vectors, _, embedder = parts
    path = tmp_path / "a.txt"
    path.write_text("\n\n".join(PARAGRAPHS))
    [first] = await counted.ingest(path)
    other = await counted.ingest_text("Delta is another document.", name="other.txt")
    ids_before = set(vectors.upserted)

    path.write_text("\n\n".join([PARAGRAPHS[0], "Beta paragraph EDITED."]))
    embedder.batch_sizes.clear()
    [second] = await counted.ingest(path)

    assert second.id == first.id
    assert await chunk_texts(vectors, first.id) == [PARAGRAPHS[0], "Beta paragraph EDITED."]
    # Only the edited chunk was embedded: the unchanged one kept its id and vector.
    assert embedder.batch_sizes == [1]
    assert await chunk_texts(vectors, other.id) == ["Delta is another document."]
    assert await vectors.count("docs") == 3
    new_ids = set(vectors.upserted) - ids_before
    assert len(new_ids) == 1


async def test_a_folder_reingested_removes_the_contents_of_files_that_are_gone(
    counted: Knowledge, parts: tuple[CountingVectors, CountingStore, HashEmbedder], tmp_path: Path
) -> None:
    vectors, _, _ = parts
    folder = tmp_path / "docs"
    (folder / "sub").mkdir(parents=True)
    (folder / "keep.md").write_text("# Keep\n\nThis stays.")
    (folder / "sub" / "drop.txt").write_text("This goes away.")
    (folder / ".hidden").write_text("never read")
    outside = tmp_path / "outside.txt"
    outside.write_text("Not in the folder.")
    [outside_content] = await counted.ingest(outside)

    contents = await counted.ingest(folder)
    assert sorted(c.name for c in contents) == ["drop.txt", "keep.md"]
    dropped = next(c for c in contents if c.name == "drop.txt")

    (folder / "sub" / "drop.txt").unlink()
    again = await counted.ingest(folder)

    assert [c.name for c in again] == ["keep.md"]
    assert await counted.get_content(dropped.id) is None
    assert await vectors.count("docs", Eq("_content_id", dropped.id)) == 0
    assert await counted.get_content(outside_content.id) is not None
    names = sorted(c.name for c in (await counted.list_contents()).items)
    assert names == ["keep.md", "outside.txt"]


async def test_a_glob_ingests_the_matching_files(counted: Knowledge, tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("a")
    (tmp_path / "b.md").write_text("b")
    (tmp_path / "c.txt").write_text("c")

    contents = await counted.ingest(str(tmp_path / "*.md"))

    assert sorted(c.name for c in contents) == ["a.md", "b.md"]


async def test_remove_deletes_the_content_and_its_chunks(
    counted: Knowledge, parts: tuple[CountingVectors, CountingStore, HashEmbedder]
) -> None:
    vectors, _, _ = parts
    content = await counted.ingest_text("\n\n".join(PARAGRAPHS), name="a.txt")
    assert await vectors.count("docs") == 3

    await counted.remove(content.id)

    assert await vectors.count("docs") == 0
    assert await counted.get_content(content.id) is None
    with pytest.raises(NotFoundError):
        await counted.remove(content.id)


async def test_ids_are_deterministic_across_knowledge_instances(tmp_path: Path) -> None:
    async def ingest() -> tuple[str, list[str]]:
        vectors = InMemoryVectorStore()
        kb = Knowledge(
            "docs",
            vector_store=vectors,
            embedder=HashEmbedder(),
            store=MemoryStore(),
            chunker=RecursiveChunker(size=40),
        )
        content = await kb.ingest_text("\n\n".join(PARAGRAPHS), name="a.txt")
        records = await vectors.query(
            "docs",
            VectorQuery(vector=[1.0] * 64, k=10),
        )
        return content.id, sorted(h.record.id for h in records)

    assert await ingest() == await ingest()


async def test_progress_reports_each_stage(counted: Knowledge) -> None:
    events: list[ProgressEvent] = []

    async def on_progress(event: ProgressEvent) -> None:
        events.append(event)

    [content] = await counted.ingest(
        "\n\n".join(PARAGRAPHS).encode(), name="a.txt", on_progress=on_progress
    )

    stages = [e.stage for e in events]
    assert stages[0] == "reading"
    assert stages[-1] == "done"
    assert {"chunking", "embedding", "storing"} <= set(stages)
    assert events[-1].chunks_total == events[-1].chunks_done == 3
    assert all(e.content_id == content.id for e in events)


async def test_an_unreadable_document_is_saved_as_failed_and_raised(counted: Knowledge) -> None:
    with pytest.raises(InvalidInputError, match="Cannot tell how to read"):
        await counted.ingest(b"\x00\x01\x02binary", name="blob.bin")

    [row] = (await counted.list_contents()).items
    assert row.status == "failed"
    assert row.status_message is not None and "Cannot tell how to read" in row.status_message


async def test_in_a_folder_a_bad_file_fails_alone(counted: Knowledge, tmp_path: Path) -> None:
    (tmp_path / "good.txt").write_text("fine")
    (tmp_path / "bad.json").write_text("{not json")

    contents = await counted.ingest(tmp_path)

    assert {c.name: c.status for c in contents} == {"bad.json": "failed", "good.txt": "completed"}


@pytest.mark.parametrize("metadata", [{"_tenant": "other"}, {"": 1}, {"x": object()}])
async def test_reserved_or_invalid_metadata_is_refused(
    counted: Knowledge, parts: tuple[CountingVectors, CountingStore, HashEmbedder], metadata: dict
) -> None:
    vectors, store, _ = parts
    with pytest.raises(InvalidInputError):
        await counted.ingest_text("text", name="a.txt", metadata=metadata)
    assert store.saves == 0
    assert vectors.upserted == []


async def test_a_missing_path_is_not_found(counted: Knowledge, tmp_path: Path) -> None:
    with pytest.raises(NotFoundError):
        await counted.ingest(tmp_path / "nope.txt")
    with pytest.raises(NotFoundError):
        await counted.ingest(str(tmp_path / "*.nothing"))


async def test_a_source_over_max_bytes_is_refused(tmp_path: Path) -> None:
    kb = Knowledge(
        "docs", vector_store=InMemoryVectorStore(), embedder=HashEmbedder(), max_bytes=10
    )
    (tmp_path / "big.txt").write_text("x" * 11)
    with pytest.raises(InvalidInputError, match="over the limit"):
        await kb.ingest(tmp_path / "big.txt")
    with pytest.raises(InvalidInputError, match="over the limit"):
        await kb.ingest(b"y" * 11, name="big.txt")


async def test_a_folder_lists_every_new_file_as_pending_before_reading_any(
    counted: Knowledge, tmp_path: Path
) -> None:
    (tmp_path / "a.txt").write_text("first")
    (tmp_path / "b.txt").write_text("second")
    seen: list[tuple[str, str]] = []

    async def on_progress(event: ProgressEvent) -> None:
        if not seen:
            seen.extend((c.name, c.status) for c in (await counted.list_contents()).items)

    await counted.ingest(tmp_path, on_progress=on_progress)

    assert sorted(seen) == [("a.txt", "pending"), ("b.txt", "pending")]


async def test_concurrent_ingests_of_one_source_leave_one_consistent_version(
    counted: Knowledge, parts: tuple[CountingVectors, CountingStore, HashEmbedder]
) -> None:
    vectors, _, _ = parts
    contents = await asyncio.gather(
        *(
            counted.ingest_text(
                f"Version {i} is written here.\n\nThe shared tail stays.", name="same.txt"
            )
            for i in range(5)
        )
    )

    assert len({c.id for c in contents}) == 1
    texts = await chunk_texts(vectors, contents[0].id)
    assert len(texts) == 2
    assert texts[1] == "The shared tail stays."
    assert texts[0] in {f"Version {i} is written here." for i in range(5)}


async def test_use_store_puts_rows_in_the_hosts_store_unless_one_was_given() -> None:
    host = MemoryStore()
    kb = Knowledge("docs", vector_store=InMemoryVectorStore(), embedder=HashEmbedder())
    kb.use_store(host)
    content = await kb.ingest_text("hello", name="a.txt")
    assert (await host.get_knowledge_content(Scope(), content.id)) is not None

    own = MemoryStore()
    pinned = Knowledge(
        "docs", vector_store=InMemoryVectorStore(), embedder=HashEmbedder(), store=own
    )
    pinned.use_store(MemoryStore())
    content = await pinned.ingest_text("hello", name="a.txt")
    assert (await own.get_knowledge_content(Scope(), content.id)) is not None


@pytest.mark.parametrize("url", ["ftp://example.com/a.txt", "file:///etc/passwd"])
async def test_other_url_schemes_are_refused(counted: Knowledge, url: str) -> None:
    with pytest.raises(InvalidInputError, match="Only http"):
        await counted.ingest(url)


async def test_a_folder_of_small_files_is_embedded_and_stored_in_few_large_batches(
    counted: Knowledge, parts: tuple[CountingVectors, CountingStore, HashEmbedder], tmp_path: Path
) -> None:
    vectors, _, embedder = parts
    calls: list[int] = []
    upsert = vectors.upsert

    async def counting_upsert(collection: str, records: Sequence[Record]) -> None:
        calls.append(len(records))
        await upsert(collection, records)

    vectors.upsert = counting_upsert  # type: ignore[method-assign]
    for i in range(40):
        (tmp_path / f"note{i}.txt").write_text(f"Note number {i} is short.")

    contents = await counted.ingest(tmp_path)

    assert len(contents) == 40
    assert {c.status for c in contents} == {"completed"}
    assert calls == [40]  # one write for the whole folder, not one per file
    assert embedder.batch_sizes == [40]  # one full batch (HashEmbedder takes up to 96)
    for i in (0, 39):
        [hit] = await counted.search(f"note number {i}", k=1, mode="text")
        assert hit.name == f"note{i}.txt"


async def test_a_failed_batch_marks_each_of_its_documents_failed(
    counted: Knowledge, parts: tuple[CountingVectors, CountingStore, HashEmbedder], tmp_path: Path
) -> None:
    vectors, _, _ = parts

    async def broken_upsert(collection: str, records: Sequence[Record]) -> None:
        raise VectorStoreError("the disk is full")

    vectors.upsert = broken_upsert  # type: ignore[method-assign]
    for name in ("a.txt", "b.txt"):
        (tmp_path / name).write_text(f"text of {name}")

    contents = await counted.ingest(tmp_path)

    assert {(c.name, c.status, c.status_message) for c in contents} == {
        ("a.txt", "failed", "the disk is full"),
        ("b.txt", "failed", "the disk is full"),
    }
    assert {c.status for c in (await counted.list_contents()).items} == {"failed"}
