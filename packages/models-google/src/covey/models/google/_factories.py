"""Entry-point factories: `google:<model>` and `vertex:<model>` in `covey.models` and
`covey.embedders`."""

from __future__ import annotations

from covey.models.google.chat import GoogleModel
from covey.models.google.embeddings import GoogleEmbedder
from covey.models.google.vertex import VertexEmbedder, VertexModel

__all__ = ["google_chat", "google_embedder", "vertex_chat", "vertex_embedder"]


def google_chat(model_name: str) -> GoogleModel:
    """`"google:gemini-2.5-flash"` (or `"gemini:..."`) -> a `GoogleModel` with defaults."""
    return GoogleModel(model_name)


def google_embedder(model_name: str) -> GoogleEmbedder:
    """`"google:gemini-embedding-001"` -> a `GoogleEmbedder`; a trailing `:<n>` sets the
    dimensions (`"google:gemini-embedding-001:768"`), which is the form `GoogleEmbedder.name`
    takes for a reduced size."""
    name, size = _split_dimensions(model_name)
    return GoogleEmbedder(name, dimensions=size)


def vertex_chat(model_name: str) -> VertexModel:
    """`"vertex:gemini-2.5-flash"` -> a `VertexModel`: project, location and credentials from
    the environment (`GOOGLE_CLOUD_PROJECT`, `GOOGLE_CLOUD_LOCATION`, Application Default
    Credentials)."""
    return VertexModel(model_name)


def vertex_embedder(model_name: str) -> VertexEmbedder:
    """`"vertex:text-embedding-005"` (or `"vertex:gemini-embedding-001:768"`, the form
    `VertexEmbedder.name` takes for a reduced size) -> a `VertexEmbedder`."""
    name, size = _split_dimensions(model_name)
    return VertexEmbedder(name, dimensions=size)


def _split_dimensions(model_name: str) -> tuple[str, int | None]:
    name, sep, size = model_name.rpartition(":")
    if sep and name and size.isdigit():
        return name, int(size)
    return model_name, None
