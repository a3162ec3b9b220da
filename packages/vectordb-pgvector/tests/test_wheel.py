"""The built wheel installs alone (with covey-spec only) and works against a real server."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from covey.conformance.wheels import build_wheel, fresh_venv

PACKAGE = Path(__file__).resolve().parent.parent
WORKSPACE = PACKAGE.parent.parent

SMOKE = textwrap.dedent(
    """
    import asyncio, json, sys
    from covey.spec.plugins import resolve_vector_store
    from covey.spec.vectors import Record, VectorQuery

    async def main(url):
        async with resolve_vector_store(url) as store:
            await store.ensure_collection("wheel", embedder_name="test:e", dimensions=2)
            await store.upsert("wheel", [Record(id="a", vector=[1, 0], text="hello world")])
            hits = await store.query("wheel", VectorQuery(vector=[1, 0], text="hello"))
            return type(store).__name__, [h.record.id for h in hits]

    print(json.dumps(asyncio.run(main(URL))))
    """
)


@pytest.mark.slow
@pytest.mark.postgres
def test_wheel_installs_alone_and_searches(tmp_path: Path, pgvector_url: str) -> None:
    dist = tmp_path / "dist"
    wheels = [build_wheel(PACKAGE, dist), build_wheel(WORKSPACE / "packages" / "spec", dist)]
    names = [w.name for w in sorted(dist.glob("*.whl"))]
    assert any(n.startswith("covey_vectordb_pgvector-0.1.0-") for n in names), names

    venv = fresh_venv(tmp_path / "venv")
    venv.install(*wheels)

    out = venv.run(f"URL = {pgvector_url!r}\n{SMOKE}")
    assert json.loads(out.strip().splitlines()[-1]) == ["PgVectorStore", ["a"]]
    covey = {n for n in venv.distributions() if n.startswith("covey-")}
    assert covey == {"covey-vectordb-pgvector", "covey-spec"}
    assert "pgserver" not in venv.distributions()
