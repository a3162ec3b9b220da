"""What a server needs to run a suite in the background: a known report id, a callback per
finished case, its own way to start runs, and a stored report replaced in place."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from covey.db.sql import SqlStore
from covey.evals import (
    CaseResult,
    EvalProgress,
    EvalReport,
    get_report,
    list_reports,
    parse_suite,
    replace_report,
    run_suite,
    save_report,
)
from covey.spec.runs import RunResult
from covey.spec.store import Scope, Store

from .eval_helpers import weather_agent

SUITE = parse_suite(
    {
        "name": "two",
        "thresholds": {"reliability": 1},
        "cases": [
            {"id": "paris", "input": "weather in Paris", "tool_calls": [{"name": "get_weather"}]},
            {"id": "oslo", "input": "weather in Oslo", "tool_calls": [{"name": "get_weather"}]},
        ],
    }
)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    async with SqlStore(f"sqlite:///{tmp_path}/covey.db") as sql:
        yield sql


async def test_hooks_see_each_case_and_start_each_run(store: Store) -> None:
    agent = weather_agent(store=store)
    finished: list[str] = []
    started: list[dict[str, Any]] = []

    async def on_case(case: CaseResult) -> None:
        finished.append(case.id)

    async def run(text: str, metadata: dict[str, Any]) -> RunResult[Any]:
        started.append(metadata["covey.eval"])
        return await agent.run(text, metadata=metadata, store=store, tenant_id="acme")

    report = await run_suite(
        SUITE, agent, report_id="rep-fixed", run=run, on_case=on_case, concurrency=1
    )
    assert report.id == "rep-fixed" and report.passed and report.status == "completed"
    assert finished == ["paris", "oslo"]
    assert [s["case"] for s in started] == ["paris", "oslo"]
    assert {s["report"] for s in started} == {"rep-fixed"}
    run_record = await store.get_run(Scope("acme"), report.cases[0].run_id or "")
    assert run_record is not None and run_record.metadata["covey.eval"]["report"] == "rep-fixed"


async def test_a_running_report_is_replaced_in_place(store: Store) -> None:
    alice, ops = Scope("acme", "alice"), Scope("acme")
    agent = weather_agent(store=store)
    older = await run_suite(SUITE, agent)
    await save_report(store, alice, older)
    done = await run_suite(SUITE, agent)
    running = EvalReport(
        id=done.id,
        suite=done.suite,
        started_at=done.started_at,
        status="running",
        progress=EvalProgress(done=0, total=2),
        cases=[],
        pass_rate=0,
        passed=False,
    )
    await replace_report(store, alice, running)  # the first write: nothing to replace
    newer = older.model_copy(update={"id": "newer", "started_at": done.started_at + timedelta(1)})
    await save_report(store, alice, newer)

    progressed = running.model_copy(
        update={"cases": done.cases[:1], "progress": EvalProgress(done=1, total=2)}
    )
    await replace_report(store, ops, progressed)  # the tenant's scope keeps alice as owner
    got = await get_report(store, alice, done.id)
    assert got is not None and got.status == "running" and got.progress == progressed.progress
    await replace_report(store, alice, done)
    assert await get_report(store, alice, done.id) == done
    # Still alice's, still in its place (by when it started), once.
    listed = [r.id for r in (await list_reports(store, alice)).items]
    assert listed == ["newer", done.id, older.id]
    assert await get_report(store, Scope("acme", "bob"), done.id) is None


async def test_reports_stored_before_statuses_read_as_completed(store: Store) -> None:
    report = await run_suite(SUITE, weather_agent(store=store))
    old = report.model_dump(mode="json")
    for key in ("status", "progress", "error", "heartbeat_at", "cancel_requested"):
        del old[key]
    again = EvalReport.model_validate(old)
    assert again.status == "completed" and again.finished_at == report.finished_at
    summary = report.model_copy(update={"status": "failed", "error": "interrupted"}).summary()
    assert summary.startswith("suite two: FAILED") and "interrupted" in summary


async def test_a_write_racing_another_process_is_tried_again(store: Store) -> None:
    """Another process's add lands between this one's delete and add (the race of two
    processes replacing one report): the replace tries again instead of failing."""
    done = await run_suite(SUITE, weather_agent(store=store))
    alice = Scope("acme", "alice")
    await save_report(store, alice, done)
    theirs = done.model_copy(update={"status": "running", "cancel_requested": True})
    ours = done.model_copy(update={"status": "running", "progress": EvalProgress(done=1, total=2)})
    delete = store.delete_learning
    raced: list[bool] = []

    async def delete_then_they_write(scope: Scope, learning_id: str) -> None:
        await delete(scope, learning_id)
        if not raced:
            raced.append(True)
            await save_report(store, alice, theirs)  # the other process's add

    store.delete_learning = delete_then_they_write  # type: ignore[method-assign]
    await replace_report(store, alice, ours)
    assert raced == [True]
    assert await get_report(store, alice, done.id) == ours
    assert [r.id for r in (await list_reports(store, alice)).items] == [done.id]
