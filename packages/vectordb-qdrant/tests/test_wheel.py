"""The built wheel installs alone (with covey-spec and qdrant-client) and `qdrant://` resolves."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from covey.conformance.wheels import build_wheel, fresh_venv

PACKAGE = Path(__file__).resolve().parent.parent
WORKSPACE = PACKAGE.parent.parent

SMOKE = textwrap.dedent(
    """
    import asyncio, sys
    from covey.spec.plugins import resolve_vector_store
    from covey.spec.vectors import Record, VectorQuery

    async def main():
        store = resolve_vector_store("qdrant:///:memory:")
        lazy = "qdrant_client" not in sys.modules
        async with store:
            await store.ensure_collection("c", embedder_name="t:e", dimensions=2)
            await store.upsert("c", [Record(id="a", vector=[1, 0], text="hello world")])
            [hit] = await store.query("c", VectorQuery(vector=[1, 0], text="hello"))
            return type(store).__name__, lazy, hit.record.id

    print(*asyncio.run(main()))
    """
)


@pytest.mark.slow
def test_wheel_installs_alone_and_resolves_qdrant_urls(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    wheels = [build_wheel(PACKAGE, dist), build_wheel(WORKSPACE / "packages" / "spec", dist)]
    names = [w.name for w in sorted(dist.glob("*.whl"))]
    assert any(n.startswith("covey_vectordb_qdrant-0.1.0-") for n in names), names

    venv = fresh_venv(tmp_path / "venv")
    venv.install(*wheels)

    assert venv.run(SMOKE).strip().splitlines()[-1] == "QdrantVectorStore True a"
    covey = {n for n in venv.distributions() if n.startswith("covey-")}
    assert covey == {"covey-vectordb-qdrant", "covey-spec"}
