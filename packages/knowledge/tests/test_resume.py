"""A crash mid-ingestion leaves a known state on the content row, and `resume` finishes it."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from covey.db.memory import MemoryStore
from covey.knowledge import Knowledge
from covey.spec.vectors import Record
from covey.testing import HashEmbedder, InMemoryVectorStore


class Crash(BaseException):
    """Stands for the process dying: not an `Exception`, so nothing records a failure."""


class CrashingVectors(InMemoryVectorStore):
    def __init__(self) -> None:
        super().__init__()
        self.crash = True

    async def upsert(self, collection: str, records: Sequence[Record]) -> None:
        if self.crash:
            raise Crash
        await super().upsert(collection, records)


async def test_resume_reingests_a_file_left_processing(tmp_path: Path) -> None:
    store, vectors, embedder = MemoryStore(), CrashingVectors(), HashEmbedder()
    path = tmp_path / "notes.txt"
    path.write_text("Kettles boil water.")
    first = Knowledge("docs", vector_store=vectors, embedder=embedder, store=store)
    with pytest.raises(Crash):
        await first.ingest(path, metadata={"shelf": "kitchen"})
    [stuck] = (await first.list_contents()).items
    assert stuck.status == "processing"
    assert stuck.metadata == {"shelf": "kitchen"}

    vectors.crash = False
    restarted = Knowledge("docs", vector_store=vectors, embedder=embedder, store=store)
    [resumed] = await restarted.resume()

    assert resumed.id == stuck.id
    assert resumed.status == "completed"
    [hit] = await restarted.search("kettles", k=1)
    assert hit.content_id == stuck.id
    assert hit.metadata == {"shelf": "kitchen"}
    assert await restarted.resume() == []


async def test_resume_fails_an_upload_whose_bytes_are_gone() -> None:
    store, vectors = MemoryStore(), CrashingVectors()
    first = Knowledge("docs", vector_store=vectors, embedder=HashEmbedder(), store=store)
    with pytest.raises(Crash):
        await first.ingest(b"uploaded text", name="upload.txt")

    vectors.crash = False
    [row] = await first.resume()

    assert row.status == "failed"
    assert row.status_message is not None and "upload the document again" in row.status_message
