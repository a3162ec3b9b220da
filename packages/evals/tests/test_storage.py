"""Reports kept in real stores (a SQLite file and the in-memory store) and runs linked to them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from covey.db.memory import MemoryStore
from covey.db.sql import SqlStore
from covey.evals import (
    EVALS_NAMESPACE,
    get_report,
    list_reports,
    parse_suite,
    run_suite,
    save_report,
)
from covey.spec.store import Learning, Scope, Store

from .eval_helpers import weather_agent

SUITE = parse_suite(
    {
        "name": "weather",
        "thresholds": {"reliability": 1},
        "cases": [
            {
                "id": "paris",
                "input": "weather in Paris",
                "tool_calls": [{"name": "get_weather", "args": {"city": "Paris"}}],
            }
        ],
    }
)


@pytest.fixture(params=["sqlite", "memory", pytest.param("postgres", marks=pytest.mark.postgres)])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    if request.param == "sqlite":
        async with SqlStore(f"sqlite:///{tmp_path}/covey.db") as sql:
            yield sql
    elif request.param == "postgres":
        url = request.getfixturevalue("postgres_url")
        async with SqlStore(url) as pg:
            yield pg
    else:
        async with MemoryStore() as memory:
            yield memory


async def test_reports_round_trip_newest_first_and_stay_in_their_scope(store: Store) -> None:
    alice, bob = Scope("acme", "alice"), Scope("acme", "bob")
    agent = weather_agent(store=store)
    first = await run_suite(SUITE, agent, user_id="alice", tenant_id="acme")
    second = await run_suite(SUITE, agent, user_id="alice", tenant_id="acme")
    await save_report(store, alice, first)
    await save_report(store, alice, second)

    assert await get_report(store, alice, first.id) == first
    page = await list_reports(store, alice)
    assert [r.id for r in page.items] == [second.id, first.id]
    assert page.items[0].cases[0].reliability is not None
    # Another user of the tenant sees none of alice's reports; another tenant neither.
    assert (await list_reports(store, bob)).items == []
    assert await get_report(store, bob, first.id) is None
    assert await get_report(store, Scope("other"), first.id) is None
    # The tenant's operators (a tenant-wide scope) see them.
    assert {r.id for r in (await list_reports(store, Scope("acme"))).items} == {first.id, second.id}


async def test_each_case_run_is_an_ordinary_stored_run_tagged_with_its_report(store: Store) -> None:
    report = await run_suite(SUITE, weather_agent(store=store), user_id="alice", tenant_id="acme")
    run_id = report.cases[0].run_id
    assert run_id is not None
    run = await store.get_run(Scope("acme", "alice"), run_id)
    assert run is not None and run.status == "completed"
    assert run.metadata["covey.eval"] == {"report": report.id, "suite": "weather", "case": "paris"}


async def test_a_learning_of_another_namespace_is_not_a_report(store: Store) -> None:
    scope = Scope("acme")
    other = await store.add_learning(scope, Learning(namespace="notes", content="hi"))
    assert await get_report(store, scope, other.id) is None
    assert EVALS_NAMESPACE == "covey.evals"


async def test_long_outputs_are_cut_in_the_stored_copy_only(store: Store) -> None:
    from covey.core import Agent
    from covey.core.testing import FunctionModel
    from covey.evals.storage import MAX_STORED_OUTPUT
    from covey.spec import ModelResponse, TextPart

    long_answer = "x" * (MAX_STORED_OUTPUT * 3)
    agent = Agent(
        name="verbose",
        model=FunctionModel(lambda m, i: ModelResponse(parts=[TextPart(content=long_answer)])),
    )
    suite = parse_suite({"name": "long", "cases": [{"id": "a", "input": "talk"}]})
    report = await run_suite(suite, agent, store=store)
    assert report.cases[0].output == long_answer
    scope = Scope("default")
    await save_report(store, scope, report)
    stored = await get_report(store, scope, report.id)
    assert stored is not None and stored.cases[0].output is not None
    assert stored.cases[0].output.startswith("x" * MAX_STORED_OUTPUT)
    assert stored.cases[0].output.endswith("in the case's run]")
    run = await store.get_run(scope, report.cases[0].run_id or "")
    assert run is not None and run.to_result().output == long_answer
