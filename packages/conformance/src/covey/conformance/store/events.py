"""The run events tests of `StoreSuite`.

Typed round trips, ordering by seq, atomic batches, concurrent appends.
"""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from covey.conformance.store.common import StoreScopes, rich_messages, text_deltas
from covey.spec.errors import ConflictError, InvalidInputError, NotFoundError
from covey.spec.events import (
    BaseEvent,
    ModelRequestCompleted,
    RequirementCreated,
    RunCompleted,
    RunStarted,
    TextDelta,
    ToolCallCompleted,
    ToolCallStarted,
)
from covey.spec.messages import ModelResponse
from covey.spec.runs import Requirement, RunResult, RunStatus
from covey.spec.store import Run, Store


class EventTests:
    """A part of `StoreSuite`: its tests run through `StoreSuite`, in every store's tests."""

    # --- run events ------------------------------------------------------------------------------

    @pytest.mark.asyncio
    async def test_events_round_trip_as_typed_events(
        self, store: Store, conformance_scopes: StoreScopes
    ) -> None:
        """Events come back as their own classes, equal to what was appended.

        If this fails: store each event's JSON (`event.model_dump_json()`) and read it back
        with `covey.spec.events.load_event`.
        """
        scope = conformance_scopes.alice
        await store.save_run(scope, Run(id="r1"))
        result = RunResult[Any](
            run_id="r1", status=RunStatus.COMPLETED, output={"a": 1}, messages=rich_messages("r1")
        )
        response = rich_messages("r1")[1]
        assert isinstance(response, ModelResponse)
        events: list[BaseEvent] = [
            RunStarted(run_id="r1", seq=1, session_id="s1", input={"q": "hi"}),
            ModelRequestCompleted(
                run_id="r1",
                seq=2,
                model_name="m",
                step=1,
                response=response,
                usage=response.usage,
            ),
            ToolCallStarted(run_id="r1", seq=3, tool_call_id="c1", tool_name="zoom", args={"x": 1}),
            ToolCallCompleted(run_id="r1", seq=4, tool_call_id="c1", tool_name="zoom", result=[1]),
            RequirementCreated(
                run_id="r1",
                seq=5,
                requirement=Requirement(tool_call_id="c2", tool_name="pay", kind="approval"),
            ),
            TextDelta(run_id="r1", seq=6, delta="A cat. 🐈", parent_run_id="parent"),
            RunCompleted(run_id="r1", seq=7, result=result),
        ]
        await store.append_events(scope, "r1", events)
        got = await store.list_events(scope, "r1")
        assert [type(e) for e in got] == [type(e) for e in events]
        assert got == events

    @pytest.mark.asyncio
    async def test_events_ordered_by_seq_with_after_and_limit(
        self, store: Store, conformance_scopes: StoreScopes
    ) -> None:
        """Events list by `seq` whatever the append order; `after_seq` and `limit` page them.

        If this fails: `ORDER BY seq`, filter `seq > after_seq`, and apply `limit`.
        """
        scope = conformance_scopes.alice
        await store.save_run(scope, Run(id="r1"))
        await store.append_events(scope, "r1", text_deltas("r1", [3, 1]))
        await store.append_events(scope, "r1", text_deltas("r1", [2, 5, 4]))
        await store.append_events(scope, "r1", [])
        assert [e.seq for e in await store.list_events(scope, "r1")] == [1, 2, 3, 4, 5]
        assert [e.seq for e in await store.list_events(scope, "r1", after_seq=2)] == [3, 4, 5]
        assert [e.seq for e in await store.list_events(scope, "r1", after_seq=1, limit=2)] == [
            2,
            3,
        ]
        assert await store.list_events(scope, "r1", after_seq=5) == []
        got = await store.list_events(scope, "r1")
        assert [e.delta for e in got if isinstance(e, TextDelta)] == [
            f"chunk {i} " for i in range(1, 6)
        ]

    @pytest.mark.asyncio
    async def test_save_run_and_events_keeps_record_and_log(
        self, store: Store, conformance_scopes: StoreScopes
    ) -> None:
        """`save_run_and_events` saves the record and appends the events, for a new run (its
        start) and for an existing one (its end); a refused batch raises like `append_events`.

        If this fails: save the run, then append the events (or the events first when the run
        exists), or do both in one transaction.
        """
        scope = conformance_scopes.alice
        await store.save_run_and_events(scope, Run(id="r0"), [])  # a new run, no events yet
        assert await store.get_run(scope, "r0") is not None
        await store.save_run_and_events(
            scope, Run(id="r1", input="hi"), [RunStarted(run_id="r1", seq=1, input="hi")]
        )
        stored = await store.get_run(scope, "r1")
        assert stored is not None
        assert stored.status is RunStatus.RUNNING
        assert stored.input == "hi"
        done = Run(id="r1", input="hi", status=RunStatus.COMPLETED, output="bye")
        await store.save_run_and_events(scope, done, text_deltas("r1", [2, 3]))
        stored = await store.get_run(scope, "r1")
        assert stored is not None
        assert stored.status is RunStatus.COMPLETED
        assert stored.output == "bye"
        assert [e.seq for e in await store.list_events(scope, "r1")] == [1, 2, 3]
        with pytest.raises(ConflictError):
            await store.save_run_and_events(scope, done, text_deltas("r1", [3]))
        assert [e.seq for e in await store.list_events(scope, "r1")] == [1, 2, 3]
        await store.save_run_and_events(scope, done.model_copy(update={"output": "again"}), [])
        stored = await store.get_run(scope, "r1")
        assert stored is not None
        assert stored.output == "again"

    @pytest.mark.asyncio
    async def test_duplicate_seq_rejects_the_whole_batch(
        self, store: Store, conformance_scopes: StoreScopes
    ) -> None:
        """A seq already in the log, or twice in a batch, raises `ConflictError`; none is written.

        If this fails: make `(tenant, run_id, seq)` unique and insert the batch in one
        transaction, rolling back on the violation.
        """
        scope = conformance_scopes.alice
        await store.save_run(scope, Run(id="r1"))
        await store.append_events(scope, "r1", text_deltas("r1", [1, 2]))
        with pytest.raises(ConflictError):
            await store.append_events(scope, "r1", text_deltas("r1", [3, 2]))
        with pytest.raises(ConflictError):
            await store.append_events(scope, "r1", text_deltas("r1", [4, 4]))
        assert [e.seq for e in await store.list_events(scope, "r1")] == [1, 2]

    @pytest.mark.asyncio
    async def test_concurrent_appends_keep_every_event_once(
        self, store: Store, conformance_scopes: StoreScopes
    ) -> None:
        """Many tasks appending distinct seqs to one run store each event once, in seq order.

        If this fails: appends from concurrent tasks must not lose, duplicate or reorder rows;
        check connection-pool use and transaction isolation.
        """
        scope = conformance_scopes.alice
        await store.save_run(scope, Run(id="r1"))
        batches = [[i] for i in range(1, 31)] + [[i, i + 1] for i in range(31, 51, 2)]

        async with anyio.create_task_group() as tg:
            for batch in reversed(batches):
                tg.start_soon(store.append_events, scope, "r1", text_deltas("r1", batch))
        got = await store.list_events(scope, "r1")
        assert [e.seq for e in got] == list(range(1, 51))
        assert [e.delta for e in got if isinstance(e, TextDelta)] == [
            f"chunk {i} " for i in range(1, 51)
        ]

    @pytest.mark.asyncio
    async def test_concurrent_duplicate_seq_only_one_wins(
        self, store: Store, conformance_scopes: StoreScopes
    ) -> None:
        """When tasks race to append the same seq, exactly one succeeds.

        If this fails: enforce uniqueness of `(tenant, run_id, seq)` in the database, not by
        reading first and writing after.
        """
        scope = conformance_scopes.alice
        await store.save_run(scope, Run(id="r1"))
        outcomes: list[str] = []

        async def append(i: int) -> None:
            try:
                await store.append_events(
                    scope, "r1", [TextDelta(run_id="r1", seq=1, delta=f"writer {i}")]
                )
                outcomes.append("ok")
            except ConflictError:
                outcomes.append("conflict")

        async with anyio.create_task_group() as tg:
            for i in range(8):
                tg.start_soon(append, i)
        assert sorted(outcomes) == ["conflict"] * 7 + ["ok"]
        assert len(await store.list_events(scope, "r1")) == 1

    @pytest.mark.asyncio
    async def test_events_need_a_visible_run_and_a_valid_seq(
        self, store: Store, conformance_scopes: StoreScopes
    ) -> None:
        """Appending to an unknown run raises `NotFoundError`; seq below 1 `InvalidInputError`.

        If this fails: look the run up in the scope before appending (save the run first), and
        refuse `seq < 1`. `list_events` of an unknown run returns an empty list.
        """
        scope = conformance_scopes.alice
        with pytest.raises(NotFoundError):
            await store.append_events(scope, "missing", text_deltas("missing", [1]))
        assert await store.list_events(scope, "missing") == []
        await store.save_run(scope, Run(id="r1"))
        for seq in (0, -3):
            with pytest.raises(InvalidInputError):
                await store.append_events(scope, "r1", text_deltas("r1", [seq]))
        with pytest.raises(InvalidInputError):
            await store.append_events(
                scope,
                "r1",
                [*text_deltas("r1", [1]), BaseEvent(type="made.up", run_id="r1", seq=2)],
            )
        assert await store.list_events(scope, "r1") == []
