"""`Embedder` defaults and `embed_batched`."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from covey.spec.embeddings import Embedder, InputType, embed_batched
from covey.spec.errors import EmbedderMismatchError, UnexpectedModelBehavior


class Recording(Embedder):
    """Embeds text `i` as `[i, len]`, and records every call."""

    def __init__(self, *, batch: int = 3, extra: int = 0, width: int = 2) -> None:
        self.calls: list[tuple[list[str], InputType]] = []
        self._batch = batch
        self._extra = extra
        self._width = width

    @property
    def model_name(self) -> str:
        return "rec-1"

    @property
    def dimensions(self) -> int:
        return 2

    @property
    def max_batch_size(self) -> int:
        return self._batch

    async def embed(
        self, texts: Sequence[str], *, input_type: InputType = "document"
    ) -> list[list[float]]:
        self.calls.append((list(texts), input_type))
        vectors = [[float(t.split()[-1]), float(len(t))][: self._width] for t in texts]
        return vectors + [[0.0, 0.0]] * self._extra


def test_default_identity() -> None:
    embedder = Recording()
    assert embedder.provider == "Recording"
    assert embedder.name == "Recording:rec-1"
    assert embedder.deterministic is False
    assert repr(embedder) == "Recording(name='Recording:rec-1', dimensions=2)"
    assert Embedder.max_batch_size.fget(embedder) == 96  # pyright: ignore[reportOptionalCall]


async def test_embed_batched_splits_and_keeps_order() -> None:
    embedder = Recording(batch=3)
    texts = [f"text {i}" for i in range(8)]
    vectors = await embed_batched(embedder, texts, input_type="query")
    assert [v[0] for v in vectors] == [float(i) for i in range(8)]
    assert [len(c[0]) for c in embedder.calls] == [3, 3, 2]
    assert {c[1] for c in embedder.calls} == {"query"}


async def test_embed_batched_batch_size_is_capped_by_the_embedder() -> None:
    embedder = Recording(batch=3)
    await embed_batched(embedder, [f"t {i}" for i in range(7)], batch_size=10)
    assert [len(c[0]) for c in embedder.calls] == [3, 3, 1]
    embedder.calls.clear()
    await embed_batched(embedder, [f"t {i}" for i in range(5)], batch_size=2)
    assert [len(c[0]) for c in embedder.calls] == [2, 2, 1]


async def test_embed_batched_reports_progress_sync_and_async() -> None:
    seen: list[tuple[int, int]] = []

    def sync_cb(done: int, total: int) -> None:
        seen.append((done, total))

    await embed_batched(Recording(batch=2), ["a 1", "b 2", "c 3"], on_progress=sync_cb)
    assert seen == [(2, 3), (3, 3)]

    seen_async: list[tuple[int, int]] = []

    async def async_cb(done: int, total: int) -> None:
        seen_async.append((done, total))

    await embed_batched(Recording(batch=2), ["a 1", "b 2", "c 3"], on_progress=async_cb)
    assert seen_async == [(2, 3), (3, 3)]


async def test_embed_batched_empty_input_makes_no_call() -> None:
    embedder = Recording()
    assert await embed_batched(embedder, []) == []
    assert embedder.calls == []


async def test_embed_batched_checks_what_the_embedder_returns() -> None:
    with pytest.raises(UnexpectedModelBehavior, match="returned 2 vectors for 1 texts"):
        await embed_batched(Recording(extra=1), ["a 1"])
    with pytest.raises(EmbedderMismatchError, match="declares 2 dimensions"):
        await embed_batched(Recording(width=1), ["a 1"])
    with pytest.raises(UnexpectedModelBehavior, match="NaN"):
        await embed_batched(Recording(), ["a nan"])
    with pytest.raises(ValueError, match="batch_size"):
        await embed_batched(Recording(), ["a 1"], batch_size=0)
