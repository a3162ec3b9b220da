"""Concurrent tasks (and threads) see each call happen at once; compare-and-sets are exact."""

from __future__ import annotations

import asyncio
import threading

from covey.db.memory import MemoryStore
from covey.spec.errors import ConflictError
from covey.spec.events import TextDelta
from covey.spec.runs import RunStatus
from covey.spec.store import Run, Scope, Session

SCOPE = Scope("t", "alice")


async def _outcomes(calls: list[asyncio.Future[object]]) -> tuple[int, int]:
    results = await asyncio.gather(*calls, return_exceptions=True)
    unexpected = [
        r for r in results if isinstance(r, BaseException) and not isinstance(r, ConflictError)
    ]
    assert not unexpected, unexpected
    conflicts = sum(isinstance(r, ConflictError) for r in results)
    return len(results) - conflicts, conflicts


async def test_concurrent_session_saves_with_one_version_one_wins() -> None:
    store = MemoryStore()
    base = await store.save_session(SCOPE, Session(id="s"), expected_version=0)
    calls = [
        asyncio.ensure_future(
            store.save_session(
                SCOPE, Session(id="s", summary=str(i)), expected_version=base.version
            )
        )
        for i in range(50)
    ]
    assert await _outcomes(calls) == (1, 49)
    final = await store.get_session(SCOPE, "s")
    assert final is not None and final.version == 2


async def test_concurrent_claims_of_a_paused_run_one_wins() -> None:
    store = MemoryStore()
    await store.save_run(SCOPE, Run(id="r", status=RunStatus.PAUSED))
    calls = [
        asyncio.ensure_future(
            store.save_run(
                SCOPE,
                Run(id="r", status=RunStatus.RUNNING, metadata={"by": i}),
                expected_status=RunStatus.PAUSED,
            )
        )
        for i in range(50)
    ]
    assert await _outcomes(calls) == (1, 49)


def test_threads_appending_and_saving_keep_every_write() -> None:
    store = MemoryStore()
    asyncio.run(store.save_run(SCOPE, Run(id="r")))
    asyncio.run(store.save_session(SCOPE, Session(id="s"), expected_version=0))
    wins: list[int] = []

    def worker(n: int) -> None:
        async def work() -> None:
            for k in range(50):
                seq = n * 1000 + k + 1
                await store.append_events(SCOPE, "r", [TextDelta(run_id="r", seq=seq, delta="x")])
                while True:
                    current = await store.get_session(SCOPE, "s")
                    assert current is not None
                    try:
                        await store.save_session(
                            SCOPE,
                            current.model_copy(
                                update={"state": {"n": current.state.get("n", 0) + 1}}
                            ),
                            expected_version=current.version,
                        )
                    except ConflictError:
                        continue
                    wins.append(1)
                    break

        asyncio.run(work())

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    events = asyncio.run(store.list_events(SCOPE, "r"))
    assert len(events) == 200
    final = asyncio.run(store.get_session(SCOPE, "s"))
    assert final is not None
    # Every increment landed exactly once: no lost update between threads.
    assert final.state == {"n": 200}
    assert final.version == 201
