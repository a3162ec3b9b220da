"""The built wheel installs alone (with covey-spec only) and `memory://` resolves in it."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from covey.conformance.wheels import build_wheel, fresh_venv

PACKAGE = Path(__file__).resolve().parent.parent
WORKSPACE = PACKAGE.parent.parent

SMOKE = textwrap.dedent(
    """
    import asyncio
    from covey.spec.plugins import resolve_store
    from covey.spec.store import Scope, Session

    async def main():
        async with resolve_store("memory://?max_runs=10") as store:
            saved = await store.save_session(Scope(), Session(id="s"), expected_version=0)
            return type(store).__name__, saved.version, store.retention.max_runs

    print(*asyncio.run(main()))
    """
)


@pytest.mark.slow
def test_wheel_installs_alone_and_resolves_memory_urls(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    wheels = [build_wheel(PACKAGE, dist), build_wheel(WORKSPACE / "packages" / "spec", dist)]
    names = [w.name for w in sorted(dist.glob("*.whl"))]
    assert any(n.startswith("covey_db_memory-0.1.0-") for n in names), names

    venv = fresh_venv(tmp_path / "venv")
    venv.install(*wheels)

    assert venv.run(SMOKE).strip().splitlines()[-1] == "MemoryStore 1 10"
    covey = {n for n in venv.distributions() if n.startswith("covey-")}
    assert covey == {"covey-db-memory", "covey-spec"}
