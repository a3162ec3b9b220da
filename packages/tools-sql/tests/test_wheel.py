"""The built wheel installs alone (with covey-spec only) and `sql:<url>` resolves in it."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from covey.conformance.wheels import build_wheel, fresh_venv

PACKAGE = Path(__file__).resolve().parent.parent
WORKSPACE = PACKAGE.parent.parent

SMOKE = textwrap.dedent(
    """
    import asyncio, sqlite3
    from covey.spec.context import RunContext
    from covey.spec.plugins import resolve_toolset

    path = "wheel.db"  # in the environment's folder, where the code runs
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE t (x)")
        db.execute("INSERT INTO t VALUES (41)")
    db.close()

    async def main():
        ctx = RunContext(run_id="wheel")
        async with resolve_toolset(f"sql:sqlite:///{path}") as tools:
            read = await tools.call_tool("run_query", {"sql": "SELECT x + 1 FROM t"}, ctx)
            write = await tools.call_tool("run_query", {"sql": "DELETE FROM t"}, ctx)
        return type(tools).__name__, read.content["rows"][0][0], write.is_error

    print(*asyncio.run(main()))
    """
)


@pytest.mark.slow
def test_wheel_installs_alone_and_resolves_sql_references(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    wheels = [build_wheel(PACKAGE, dist), build_wheel(WORKSPACE / "packages" / "spec", dist)]
    names = [w.name for w in sorted(dist.glob("*.whl"))]
    assert any(n.startswith("covey_tools_sql-0.1.0-") for n in names), names

    venv = fresh_venv(tmp_path / "venv")
    venv.install(*wheels)

    assert venv.run(SMOKE).strip().splitlines()[-1] == "SQLToolset 42 True"
    covey = {n for n in venv.distributions() if n.startswith("covey-")}
    assert covey == {"covey-tools-sql", "covey-spec"}
