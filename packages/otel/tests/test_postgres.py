"""On PostgreSQL: two tracing processes (two stores, two pools) write one database; each run's
trace is read back whole from the other, and a team's trace holds its member's spans."""

from __future__ import annotations

import pytest

from covey.core import Agent, RunStatus, Team
from covey.core.testing import TestModel
from covey.db.sql import SqlStore
from covey.otel import Tracing, TracingConfig
from covey.spec.store import Scope

pytestmark = pytest.mark.postgres


async def test_traces_written_by_one_process_are_read_by_another(postgres_url: str) -> None:
    writer = Agent(name="writer", model=TestModel(custom_output_text="a haiku"))
    team = Team(name="desk", members=[writer], model=TestModel(call_tools="all"))
    scope = Scope("acme", "ada")
    async with SqlStore(postgres_url) as one, SqlStore(postgres_url) as two:
        migrate = getattr(one, "migrate", None)
        if migrate is not None:
            await migrate()
        async with Tracing(TracingConfig(), store=one) as tracing:
            result = await team.run("write", tenant_id="acme", user_id="ada")
            await tracing.flush()
        assert result.status is RunStatus.COMPLETED
        spans = await two.list_spans(scope, result.run_id)
        runs = [s for s in spans if s.name.startswith("invoke_agent")]
        assert sorted(s.name for s in runs) == ["invoke_agent desk", "invoke_agent writer"]
        root = next(s for s in runs if s.parent_span_id is None)
        member = next(s for s in runs if s.name == "invoke_agent writer")
        assert member.parent_span_id == root.span_id
        assert member.attributes["covey.run.parent_id"] == result.run_id
        assert await two.list_spans(Scope("acme", "bob"), result.run_id) == []
