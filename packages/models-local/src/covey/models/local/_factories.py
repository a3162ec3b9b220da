"""Entry-point factory: `local:<model>` in `covey.embedders`."""

from __future__ import annotations

from covey.models.local.embeddings import MiniLMEmbedder

__all__ = ["local_embedder"]


def local_embedder(model_name: str) -> MiniLMEmbedder:
    """`"local:all-minilm-l6-v2"` -> a `MiniLMEmbedder` with defaults; an unknown model is a
    `ConfigurationError` that lists the available ones."""
    return MiniLMEmbedder(model_name)
