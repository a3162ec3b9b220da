"""Bad input raises `InvalidInputError` and writes nothing, as a database store would."""

from __future__ import annotations

from typing import Any

import pytest

from covey.db.memory import MemoryStore
from covey.spec.errors import InvalidInputError
from covey.spec.events import BaseEvent, TextDelta
from covey.spec.store import Run, Scope, Session

SCOPE = Scope("t", "alice")


class _Opaque:
    pass


async def test_state_that_is_not_json_is_refused() -> None:
    store = MemoryStore()
    with pytest.raises(InvalidInputError, match="JSON"):
        await store.save_session(SCOPE, Session(id="s", state={"x": _Opaque()}), expected_version=0)
    assert await store.get_session(SCOPE, "s") is None
    with pytest.raises(InvalidInputError):
        await store.save_run(SCOPE, Run(id="r", output=_Opaque()))
    assert await store.get_run(SCOPE, "r") is None


async def test_wrong_types_are_refused() -> None:
    store = MemoryStore()
    bad: Any = {"id": "s"}
    with pytest.raises(InvalidInputError, match="Session"):
        await store.save_session(SCOPE, bad, expected_version=0)
    with pytest.raises(InvalidInputError, match="expected_version"):
        await store.save_session(SCOPE, Session(id="s"), expected_version=-1)
    with pytest.raises(InvalidInputError, match="scope"):
        await store.get_session(bad, "s")
    assert (await store.list_sessions(SCOPE)).items == []


async def test_an_unknown_event_refuses_the_whole_batch() -> None:
    store = MemoryStore()
    await store.save_run(SCOPE, Run(id="r"))
    with pytest.raises(InvalidInputError):
        await store.append_events(
            SCOPE,
            "r",
            [TextDelta(run_id="r", seq=1, delta="x"), BaseEvent(type="made.up", run_id="r", seq=2)],
        )
    with pytest.raises(InvalidInputError):
        await store.append_events(SCOPE, "r", "not a list")  # type: ignore[arg-type]
    assert await store.list_events(SCOPE, "r") == []


async def test_malformed_cursors_are_refused() -> None:
    store = MemoryStore()
    for cursor in ("garbage", "eyJsIjoicnVucyIsImsiOlsieCJdfQ"):
        with pytest.raises(InvalidInputError, match="cursor"):
            await store.list_runs(SCOPE, cursor=cursor)
