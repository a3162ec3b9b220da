"""Agno's `Knowledge` with Agno's `LanceDb`, the counterpart of bench_knowledge.py, on the same
embedding model as Covey's: `OnnxMiniLM` below runs the same ONNX file with the same tokenizer,
truncation (256 word pieces), padding per batch, mean pooling, normalisation, batch size and
onnxruntime threads as `covey.models.local.MiniLMEmbedder`. Runs in Agno's own venv; prints
one JSON object.

Run: `python knowledge.py CONFIG.json` (bench_knowledge.py writes the config: model files,
threads, the folder to ingest, the query tiers, the labelled set).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
from agno.knowledge.chunking.recursive import RecursiveChunking
from agno.knowledge.document import Document
from agno.knowledge.embedder.base import Embedder
from agno.knowledge.knowledge import Knowledge
from agno.knowledge.reader.text_reader import TextReader
from agno.vectordb.lancedb import LanceDb
from tokenizers import Tokenizer

sys.path.insert(0, str(Path(__file__).parent.parent))  # bench/: timing.py (standard library)
from timing import percentiles

MODES = {"vector": "vector", "text": "keyword", "hybrid": "hybrid"}
# One loaded model per process and configuration, as Covey's embedder keeps it.
_LOADED: dict[tuple[str, str, int, int], tuple[Any, Any]] = {}


@dataclass
class OnnxMiniLM(Embedder):
    """all-MiniLM-L6-v2 through onnxruntime: sentence-transformers' pooling, no torch."""

    model_path: str = ""
    tokenizer_path: str = ""
    threads: int = 1
    max_tokens: int = 256
    dimensions: int | None = 384
    enable_batch: bool = True
    batch_size: int = 32
    _session: Any = field(default=None, repr=False)
    _tokenizer: Any = field(default=None, repr=False)

    def _load(self) -> None:
        key = (self.model_path, self.tokenizer_path, self.threads, self.max_tokens)
        if key in _LOADED:
            self._session, self._tokenizer = _LOADED[key]
            return
        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        self._session = ort.InferenceSession(
            self.model_path, options, providers=["CPUExecutionProvider"]
        )
        tokenizer = Tokenizer.from_file(self.tokenizer_path)
        tokenizer.enable_truncation(self.max_tokens)
        tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        self._tokenizer = tokenizer
        _LOADED[key] = (self._session, tokenizer)

    def _embed(self, texts: list[str]) -> list[list[float]]:
        if self._session is None:
            self._load()
        out: list[list[float]] = []
        for start in range(0, len(texts), self.batch_size):
            encoded = self._tokenizer.encode_batch(texts[start : start + self.batch_size])
            ids = np.array([e.ids for e in encoded], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encoded], dtype=np.int64)
            types = np.array([e.type_ids for e in encoded], dtype=np.int64)
            hidden = self._session.run(
                None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
            )[0]
            weights = mask[:, :, None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
            norms = np.linalg.norm(pooled, axis=1, keepdims=True)
            out.extend((pooled / np.clip(norms, 1e-12, None)).tolist())
        return out

    def get_embedding(self, text: str) -> list[float]:
        return self._embed([text])[0]

    def get_embedding_and_usage(self, text: str) -> tuple[list[float], dict | None]:
        return self.get_embedding(text), None

    async def async_get_embedding(self, text: str) -> list[float]:
        return (await asyncio.to_thread(self._embed, [text]))[0]

    async def async_get_embedding_and_usage(self, text: str) -> tuple[list[float], dict | None]:
        return await self.async_get_embedding(text), None

    async def async_get_embeddings_batch_and_usage(
        self, texts: list[str]
    ) -> tuple[list[list[float]], list[dict | None]]:
        vectors = await asyncio.to_thread(self._embed, texts)
        return vectors, [None] * len(vectors)


def _embedder(config: dict[str, Any]) -> OnnxMiniLM:
    return OnnxMiniLM(
        model_path=config["model"],
        tokenizer_path=config["tokenizer"],
        threads=config["threads"],
        batch_size=config["batch_size"],
    )


def _knowledge(path: Path, table: str, config: dict[str, Any]) -> Knowledge:
    db = LanceDb(uri=str(path), table_name=table, embedder=_embedder(config))
    return Knowledge(name=table, vector_db=db, contents_db=None, max_results=5)


async def ingest(config: dict[str, Any], work: Path) -> dict[str, float]:
    """Read, chunk, embed and store one folder of text files, end to end. A small text is
    ingested first into another table, so imports and first-use set-up are not measured."""
    reader = TextReader(chunking_strategy=RecursiveChunking(chunk_size=config["chunk_size"]))
    warm = _knowledge(work / "ingest", "warm", config)
    await warm.ainsert(name="warm", text_content="A first document. " * 50, reader=reader)
    knowledge = _knowledge(work / "ingest", "ingest", config)
    wall, cpu = time.perf_counter(), time.process_time()
    await knowledge.ainsert(path=config["ingest_dir"], reader=reader)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    chunks = knowledge.vector_db.get_count()
    return {"seconds": wall, "cpu_seconds": cpu, "chunks": chunks}


def _load_tier(knowledge: Knowledge, tier: dict[str, Any]) -> float:
    """Agno's own `LanceDb.insert`, with the tier's vectors already on the documents."""
    vectors = np.load(tier["vectors"])
    texts = json.loads(Path(tier["texts"]).read_text())
    started = time.perf_counter()
    batch = 2000
    for start in range(0, len(texts), batch):
        documents = [
            Document(
                content=texts[i],
                name=f"chunk-{i}",
                id=f"chunk-{i}",
                embedding=vectors[i].tolist(),
            )
            for i in range(start, min(start + batch, len(texts)))
        ]
        knowledge.vector_db.insert(f"tier-{start}", documents)
    return time.perf_counter() - started


async def latency(config: dict[str, Any], work: Path) -> dict[str, Any]:
    out: dict[str, Any] = {}
    queries: list[str] = config["queries"]
    for tier in config["tiers"]:
        knowledge = _knowledge(work / "tiers", f"tier_{tier['name']}", config)
        load = _load_tier(knowledge, tier)
        rows: dict[str, Any] = {"load_seconds": load, "count": knowledge.vector_db.get_count()}
        for mode, agno_mode in MODES.items():
            samples: list[float] = []
            began = time.perf_counter()
            for i in range(config["warm"] + config["runs"]):
                query = queries[i % len(queries)]
                started = time.perf_counter()
                hits = await knowledge.asearch(query, max_results=5, search_type=agno_mode)
                if i >= config["warm"]:
                    samples.append((time.perf_counter() - started) * 1000)
                if mode != "text" and not hits:  # words may match nothing; a vector always does
                    raise RuntimeError(f"Agno {mode} search found nothing for {query!r}")
                if time.perf_counter() - began > config["mode_seconds"] and len(samples) >= 5:
                    break
            rows[mode] = [*percentiles(samples), len(samples)]
        out[tier["name"]] = rows
        knowledge.vector_db.drop()
    return out


def _jsonl(path: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line]


async def recall(config: dict[str, Any], work: Path) -> dict[str, float]:
    """recall@5 on the labelled set: each passage one document named by its id."""
    labelled = config["labelled"]
    passages, queries = _jsonl(labelled["passages"]), _jsonl(labelled["queries"])
    knowledge = _knowledge(work / "labelled", "labelled", config)
    reader = TextReader(chunking_strategy=RecursiveChunking(chunk_size=config["chunk_size"]))
    for passage in passages:
        await knowledge.ainsert(
            name=passage["id"], text_content=passage["text"], reader=reader, upsert=True
        )
    out: dict[str, float] = {}
    for mode, agno_mode in MODES.items():
        found = 0
        for query in queries:
            hits = await knowledge.asearch(query["query"], max_results=5, search_type=agno_mode)
            names = {hit.name for hit in hits[:5]}
            found += bool(names & set(query["relevant"]))
        out[mode] = found / len(queries)
    return out


async def main(config: dict[str, Any]) -> None:
    work = Path(config["work"])
    # The embedder's first use loads the model; both sides pay it outside the measurements.
    warm = _embedder(config)
    await warm.async_get_embeddings_batch_and_usage(["warm up"])
    result: dict[str, Any] = {}
    if config.get("ingest_dir"):
        result["ingest"] = await ingest(config, work)
    if config.get("tiers"):
        result["latency"] = await latency(config, work)
    if config.get("labelled"):
        result["recall"] = await recall(config, work)
    print(json.dumps(result))


if __name__ == "__main__":
    asyncio.run(main(json.loads(Path(sys.argv[1]).read_text())))
