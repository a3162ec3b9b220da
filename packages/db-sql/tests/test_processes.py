"""Several Python processes on one database: migrations run once, updates are never lost."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from covey.db.sql import LATEST_VERSION, SqlStore
from covey.spec.store import Scope

MIGRATE = textwrap.dedent(
    """
    import asyncio, json, os, sys, time
    from covey.db.sql import SqlStore

    url, go, ready = sys.argv[1], sys.argv[2], sys.argv[3]
    open(ready, "w").close()
    while not os.path.exists(go):  # start together
        time.sleep(0.002)

    async def main():
        async with SqlStore(url) as store:
            applied = await store.migrate()
            print(json.dumps({"applied": applied, "version": await store.schema_version()}))

    asyncio.run(main())
    """
)

INCREMENT = textwrap.dedent(
    """
    import asyncio, os, sys, time
    from covey.db.sql import SqlStore
    from covey.spec.errors import ConflictError
    from covey.spec.store import Scope, Session

    url, go, ready, name, count = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
    open(ready, "w").close()
    while not os.path.exists(go):
        time.sleep(0.002)

    async def main():
        scope = Scope("t")
        async with SqlStore(url) as store:
            for _ in range(count):
                while True:
                    current = await store.get_session(scope, "shared")
                    state = dict(current.state) if current else {}
                    state["total"] = state.get("total", 0) + 1
                    state[name] = state.get(name, 0) + 1
                    try:
                        await store.save_session(
                            scope,
                            (current or Session(id="shared")).model_copy(update={"state": state}),
                            expected_version=current.version if current else 0,
                        )
                        break
                    except ConflictError:
                        await asyncio.sleep(0)

    asyncio.run(main())
    """
)


def _run_together(script: str, tmp_path: Path, argv: list[list[str]]) -> list[str]:
    path = tmp_path / "child.py"
    path.write_text(script)
    go = tmp_path / "go"
    ready = [tmp_path / f"ready-{i}" for i in range(len(argv))]
    children = [
        subprocess.Popen(
            [sys.executable, str(path), args[0], str(go), str(flag), *args[1:]],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for args, flag in zip(argv, ready, strict=True)
    ]
    deadline = time.monotonic() + 60
    while not all(flag.exists() for flag in ready):  # every child imported, at the line
        assert time.monotonic() < deadline, "the child processes did not start"
        assert all(c.poll() is None for c in children), "a child process died early"
        time.sleep(0.005)
    go.touch()
    outputs: list[str] = []
    for child in children:
        out, err = child.communicate(timeout=120)
        assert child.returncode == 0, err
        outputs.append(out)
    return outputs


def test_two_processes_migrating_a_fresh_database_apply_each_step_once(
    db_url: str, tmp_path: Path
) -> None:
    outputs = [json.loads(o) for o in _run_together(MIGRATE, tmp_path, [[db_url], [db_url]])]
    assert [o["version"] for o in outputs] == [LATEST_VERSION, LATEST_VERSION]
    applied = sorted(v for o in outputs for v in o["applied"])
    assert applied == list(range(1, LATEST_VERSION + 1)), outputs


async def test_two_processes_updating_one_session_lose_nothing(db_url: str, tmp_path: Path) -> None:
    async with SqlStore(db_url) as store:
        await store.migrate()  # so the race is about the session, not the schema
    per_process = 25
    _run_together(
        INCREMENT, tmp_path, [[db_url, "a", str(per_process)], [db_url, "b", str(per_process)]]
    )
    async with SqlStore(db_url) as store:
        session = await store.get_session(Scope("t"), "shared")
    assert session is not None
    assert session.state == {"total": 2 * per_process, "a": per_process, "b": per_process}
    assert session.version == 2 * per_process
