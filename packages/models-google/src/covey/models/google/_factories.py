"""Entry-point factories: `google:<model>` in `covey.models` and `covey.embedders`."""

from __future__ import annotations

from covey.models.google.chat import GoogleModel
from covey.models.google.embeddings import GoogleEmbedder

__all__ = ["google_chat", "google_embedder"]


def google_chat(model_name: str) -> GoogleModel:
    """`"google:gemini-2.5-flash"` (or `"gemini:..."`) -> a `GoogleModel` with defaults."""
    return GoogleModel(model_name)


def google_embedder(model_name: str) -> GoogleEmbedder:
    """`"google:gemini-embedding-001"` -> a `GoogleEmbedder`; a trailing `:<n>` sets the
    dimensions (`"google:gemini-embedding-001:768"`), which is the form `GoogleEmbedder.name`
    takes for a reduced size."""
    name, sep, size = model_name.rpartition(":")
    if sep and name and size.isdigit():
        return GoogleEmbedder(name, dimensions=int(size))
    return GoogleEmbedder(model_name)
