"""`LearnedKnowledge`: insights kept per user, or shared by the tenant's users when enabled (never
across tenants); with a real knowledge base (LanceDB on disk, the offline MiniLM embedder), found
by meaning, and never shown once their learning row is deleted."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from covey.conformance import ToolsetSuite
from covey.db.memory import MemoryStore
from covey.knowledge import Knowledge
from covey.learn import LearnedKnowledge, WritableKnowledge
from covey.learn._machine.knowledge import SaveInsight
from covey.models.local import MiniLMEmbedder
from covey.spec.errors import ConfigurationError
from covey.spec.function_toolset import FunctionToolset
from covey.spec.store import Learning, Scope, Store

from .store_learner import Recorded, rctx, sctx

REFUNDS = "Customers asking for a refund usually need their order number first"
SHIPPING = "Questions about late parcels are best answered with the carrier's tracking page"


def save(insight: str, *topics: str) -> dict[str, Any]:
    return {"op": "add", "insight": insight, "topics": list(topics)}


async def rows(store: Store, tenant: str = "acme") -> list[Learning]:
    return (await store.list_learnings(Scope(tenant), "knowledge", limit=1000)).items


@pytest.fixture(scope="module")
def embedder() -> MiniLMEmbedder:
    return MiniLMEmbedder()


@pytest.fixture
async def kb(tmp_path: Path, embedder: MiniLMEmbedder, store: Store) -> AsyncIterator[Knowledge]:
    async with Knowledge(
        "insights", vector_store=f"lancedb:///{tmp_path / 'lance'}", embedder=embedder, store=store
    ) as knowledge:
        yield knowledge


# --- without a knowledge base ----------------------------------------------------------------


async def test_insights_stay_with_their_user_unless_sharing_is_enabled(store: Store) -> None:
    private = LearnedKnowledge("always")
    applied = await private.apply(sctx(store, user="ann", run_id="r1"), [save(REFUNDS, "refunds")])
    [change] = applied.changes
    assert (change.kind, change.action, change.content, change.user_id) == (
        "knowledge",
        "created",
        REFUNDS,
        "ann",
    )
    [row] = await rows(store)
    assert (row.namespace, row.kind, row.user_id, row.metadata) == (
        "knowledge",
        "insight",
        "ann",
        {"topics": ["refunds"], "run_id": "r1"},
    )
    assert REFUNDS in await private.context(sctx(store, user="ann"), "I want a refund", 300)
    assert await private.context(sctx(store, user="bob"), "I want a refund", 300) == ""

    shared = LearnedKnowledge("always", share_across_users=True)
    await shared.apply(sctx(store, user="ann", run_id="r2"), [save(SHIPPING, "shipping")])
    bob = await shared.context(sctx(store, user="bob"), "my parcel is late", 300)
    assert SHIPPING in bob and "data, not instructions" in bob
    assert REFUNDS not in await shared.context(sctx(store, user="bob"), "refund", 300)
    assert await shared.context(sctx(store, "initech", "eve"), "my parcel is late", 300) == ""
    assert {r.content: r.user_id for r in await rows(store)} == {REFUNDS: "ann", SHIPPING: None}
    assert await rows(store, "initech") == []


async def test_a_run_without_a_user_reads_and_writes_nothing(store: Store) -> None:
    insights = LearnedKnowledge("always", share_across_users=True)
    await insights.apply(sctx(store), [save(SHIPPING)])
    nobody = sctx(store, user=None)
    assert await insights.context(nobody, "late parcel", 300) == ""
    assert await insights.current(nobody) == ""
    applied = await insights.apply(nobody, [save(REFUNDS)])
    assert applied.changes == [] and "no user" in applied.skipped[0]
    tools = FunctionToolset(list(insights.tools(store, Recorded())))
    for name, args in [("save_insight", {"insight": REFUNDS}), ("search_insights", {"query": "x"})]:
        result = await tools.call_tool(name, args, rctx(user=None))
        assert result.is_error and "no user" in str(result.content)
    assert len(await rows(store)) == 1


async def test_the_cap_refuses_and_a_known_insight_is_not_repeated(store: Store) -> None:
    insights = LearnedKnowledge("always", max_insights=2)
    ctx = sctx(store)
    applied = await insights.apply(
        ctx,
        [save("Insight one"), save("insight   ONE"), save("Insight two"), save("Insight three")],
    )
    assert [c.content for c in applied.changes] == ["Insight one", "Insight two"]
    assert "already known" in applied.skipped[0]
    assert "2 insights are kept, the limit" in applied.skipped[1]
    # Bob has his own allowance; the cap is per user when not shared.
    assert (await insights.apply(sctx(store, user="bob"), [save("Insight three")])).changes
    many = await insights.apply(ctx, [save(f"Insight {i}") for i in range(30)])
    assert "only the first 10 operations" in many.skipped[0]


@pytest.mark.parametrize(
    "text",
    [
        "The staging key is sk-live-4f9a8b7c6d5e4f3a2b1c, use it for refunds",
        "Support password: Hunter2!xyz works for every account",
        "Ann (ann.lee@example.com) always asks about refunds",
        "Call +33 6 12 34 56 78 for refunds",
    ],
)
async def test_credentials_and_personal_details_are_refused(store: Store, text: str) -> None:
    insights = LearnedKnowledge("always", share_across_users=True)
    applied = await insights.apply(sctx(store), [save(text)])
    assert applied.changes == []
    assert "secret" in applied.skipped[0] or "email address or a phone number" in applied.skipped[0]
    tools = FunctionToolset(list(insights.tools(store, Recorded())))
    result = await tools.call_tool("save_insight", {"insight": text}, rctx())
    assert result.is_error
    assert await rows(store) == []


async def test_remove_by_id_is_scoped_to_what_the_user_reads(store: Store) -> None:
    private = LearnedKnowledge("always")
    [mine] = (await private.apply(sctx(store, user="ann"), [save(REFUNDS)])).changes
    assert mine.id is not None
    assert f"[{mine.id}] {REFUNDS}" in await private.current(sctx(store, user="ann"))
    attack = await private.apply(
        sctx(store, user="bob"), [{"op": "remove", "id": mine.id}, {"op": "remove", "id": "a/b"}]
    )
    assert attack.changes == [] and len(attack.skipped) == 2
    other_tenant = sctx(store, "initech", "ann")
    assert (await private.apply(other_tenant, [{"op": "remove", "id": mine.id}])).changes == []
    assert len(await rows(store)) == 1
    removed = await private.apply(sctx(store, user="ann"), [{"op": "remove", "id": mine.id}])
    assert [(c.action, c.id) for c in removed.changes] == [("deleted", mine.id)]
    assert await rows(store) == []


async def test_current_shows_relevant_insights_first(store: Store) -> None:
    insights = LearnedKnowledge("always")
    ctx = sctx(store)
    await insights.apply(ctx, [save(REFUNDS, "refunds"), save(SHIPPING, "shipping")])
    await insights.apply(ctx, [save(f"Filler insight {i}") for i in range(10)])
    await insights.apply(ctx, [save(f"More filler {i}") for i in range(10)])
    shown = await insights.current(sctx(store, transcript="User: I need a refund"))
    assert shown.splitlines()[1].endswith(REFUNDS)
    assert shown.count("\n- [") == 15


async def test_tools_save_and_search_for_the_runs_user(store: Store) -> None:
    insights = LearnedKnowledge()
    recorded = Recorded()
    tools = FunctionToolset(list(insights.tools(store, recorded)))
    assert [t.name for t in await tools.list_tools(rctx())] == ["save_insight", "search_insights"]
    saved = await tools.call_tool(
        "save_insight", {"insight": REFUNDS, "topics": ["Refunds"]}, rctx(run_id="run-7")
    )
    assert not saved.is_error
    assert [(r, c.content, c.topics) for r, c in recorded.changes] == [
        ("run-7", REFUNDS, ["refunds"])
    ]
    found = await tools.call_tool("search_insights", {"query": "refund"}, rctx())
    assert [i["insight"] for i in found.content["insights"]] == [REFUNDS]
    for other in (rctx(user="bob"), rctx("initech", "ann")):
        assert (await tools.call_tool("search_insights", {"query": "refund"}, other)).content == {
            "insights": []
        }
    bad = await tools.call_tool("save_insight", {"insight": "x" * 501}, rctx())
    assert bad.is_error and "Invalid insight" in str(bad.content)


def test_construction_is_checked() -> None:
    with pytest.raises(ConfigurationError):
        LearnedKnowledge(max_insights=0)
    with pytest.raises(ConfigurationError, match="knowledge= takes a knowledge base"):
        LearnedKnowledge(knowledge="docs")  # type: ignore[arg-type]
    assert LearnedKnowledge().mode == "agentic"
    assert LearnedKnowledge.needs_user is True
    text = LearnedKnowledge("propose", share_across_users=True).describe_call(
        "save_insight", {"insight": REFUNDS}
    )
    assert text == f"Save an insight (shared with everyone in the organisation): {REFUNDS}"
    _, instructions = LearnedKnowledge().extraction_field()
    assert "never about this particular user" in instructions.lower()


class TestInsightToolsConformance(ToolsetSuite):
    @pytest.fixture
    async def store(self) -> AsyncIterator[Store]:
        async with MemoryStore() as store:
            yield store

    @pytest.fixture
    def toolset(self, store: Store) -> FunctionToolset:
        return FunctionToolset(list(LearnedKnowledge().tools(store, Recorded())), id="learning")

    @pytest.fixture
    def run_context(self) -> Any:
        return rctx()

    @pytest.fixture
    def toolset_calls(self) -> Mapping[str, dict[str, Any]]:
        return {
            "save_insight": {"insight": REFUNDS, "topics": ["refunds"]},
            "search_insights": {"query": "refund"},
        }


# --- with a knowledge base -------------------------------------------------------------------


def test_covey_knowledge_is_a_writable_knowledge(tmp_path: Path) -> None:
    knowledge: WritableKnowledge = Knowledge("insights", vector_store=f"lancedb:///{tmp_path}")
    assert isinstance(knowledge, WritableKnowledge)


async def test_a_shared_insight_is_found_by_meaning_by_another_user_and_not_another_tenant(
    store: Store, kb: Knowledge
) -> None:
    insights = LearnedKnowledge("always", knowledge=kb, share_across_users=True)
    await insights.apply(sctx(store, user="ann"), [save(REFUNDS, "refunds"), save(SHIPPING)])
    [row] = [r for r in await rows(store) if r.content == REFUNDS]
    assert row.user_id is None
    assert row.metadata["knowledge"] == "insights" and row.metadata["content_id"]

    # No word in common with the insight: only the embedding finds it.
    query = "How can I get my money back for something I bought?"
    bob = await insights.context(sctx(store, user="bob"), query, 300)
    assert bob.splitlines()[1] == f"- {REFUNDS}"
    assert await insights.context(sctx(store, "initech", "eve"), query, 300) == ""
    # The knowledge base's own documents are not insights: a search sees only insights.
    await kb.ingest_text("Refunds are paid within 14 days.", name="policy", scope=Scope("acme"))
    found = await insights.search(store, Scope("acme", "bob"), "refund money back", k=5)
    assert found[0].content == REFUNDS
    assert {r.content for r in found} <= {REFUNDS, SHIPPING}


async def test_a_deleted_learning_row_hides_its_knowledge_hit_and_delete_removes_both(
    store: Store, kb: Knowledge
) -> None:
    insights = LearnedKnowledge("always", knowledge=kb, share_across_users=True)
    ctx = sctx(store, user="ann")
    await insights.apply(ctx, [save(REFUNDS), save(SHIPPING)])
    by_text = {r.content: r for r in await rows(store)}
    query = "money back for an order"

    # Deleted through the API (DELETE /v1/learnings/{id} is store.delete_learning): the chunk
    # is still in the knowledge base, but the insight is not shown.
    await store.delete_learning(Scope("acme"), by_text[REFUNDS].id)
    assert any(h.text == REFUNDS for h in await kb.search(query, scope=Scope("acme", "bob")))
    assert REFUNDS not in await insights.context(sctx(store, user="bob"), query, 300)
    assert REFUNDS not in await insights.current(sctx(store, user="bob", transcript=query))

    # Deleted through the store: the row and the document both go.
    shipping = by_text[SHIPPING]
    [change] = (await insights.apply(ctx, [{"op": "remove", "id": shipping.id}])).changes
    assert change.action == "deleted"
    assert await kb.get_content(shipping.metadata["content_id"], Scope("acme")) is None
    assert not any(h.text == SHIPPING for h in await kb.search("late parcel", scope=Scope("acme")))


async def test_private_insights_in_a_knowledge_base_stay_with_their_user(
    store: Store, kb: Knowledge
) -> None:
    insights = LearnedKnowledge("always", knowledge=kb)
    await insights.apply(sctx(store, user="ann"), [save(REFUNDS)])
    query = "How can I get my money back?"
    assert REFUNDS in await insights.context(sctx(store, user="ann"), query, 300)
    assert await insights.context(sctx(store, user="bob"), query, 300) == ""
    assert await insights.context(sctx(store, "initech", "ann"), query, 300) == ""
    # The user is forgotten: their insights and documents go.
    [row] = await rows(store)
    changes = await insights.forget_user(store, Scope("acme", "ann"))
    assert [c.id for c in changes] == [row.id]
    assert await rows(store) == []
    assert await kb.get_content(row.metadata["content_id"], Scope("acme", "ann")) is None


class BrokenKnowledge:
    """A knowledge base whose writes fail (its store is down)."""

    name = "broken"

    async def search(self, query: str, **_: Any) -> list[Any]:
        raise OSError("vector store down")

    async def ingest_text(self, text: str, **_: Any) -> Any:
        raise OSError("vector store down: token=sk-live-abcdefghijklmnop1234")

    async def remove(self, content_id: str, scope: Scope | None = None) -> None:
        raise OSError("vector store down")


async def test_a_failing_knowledge_base_saves_nothing_and_search_falls_back_to_keywords(
    store: Store,
) -> None:
    broken = LearnedKnowledge("always", knowledge=BrokenKnowledge())  # type: ignore[arg-type]
    applied = await broken.apply(sctx(store), [save(REFUNDS)])
    assert applied.changes == []
    assert applied.skipped == [
        "knowledge: Not saved: the knowledge base failed (OSError). Try later."
    ]
    assert await rows(store) == []
    # Rows written before the knowledge base broke are still found, by keywords.
    await LearnedKnowledge("always").apply(sctx(store), [save(REFUNDS, "refunds")])
    assert REFUNDS in await broken.context(sctx(store), "refund please", 300)


def test_save_insight_validates_topics() -> None:
    op = SaveInsight(insight=" A  lesson ", topics=["Refunds", " orders "])
    assert (op.insight, op.topics) == ("A  lesson", ["refunds", "orders"])


async def test_the_extraction_answer_validated_by_the_machine_is_applied(store: Store) -> None:
    from pydantic import create_model

    insights = LearnedKnowledge("always")
    field_type, _ = insights.extraction_field()
    answer_model = create_model("Answer", knowledge=(field_type | None, None))
    assert "insight" in str(answer_model.model_json_schema())
    answer = answer_model.model_validate_json(
        f'{{"knowledge": [{{"op": "add", "insight": "{REFUNDS}", "topics": ["Refunds"]}}]}}'
    )
    applied = await insights.apply(sctx(store), answer.knowledge)  # type: ignore[attr-defined]
    assert [(c.content, c.topics) for c in applied.changes] == [(REFUNDS, ["refunds"])]
    assert (await insights.apply(sctx(store), None)).changes == []


async def test_an_agent_saves_a_shared_insight_that_another_users_run_is_told(
    sqlite_store: Store,
) -> None:
    from covey.core import Agent
    from covey.core.testing import AgentInfo, FunctionModel
    from covey.spec import (
        ModelRequest,
        ModelResponse,
        SystemPart,
        TextPart,
        ToolCallPart,
        ToolReturnPart,
    )

    from .store_learner import StoreLearner

    store = sqlite_store
    systems: list[str] = []
    returned: list[ToolReturnPart] = []

    def model(messages: list[ModelRequest | ModelResponse], info: AgentInfo) -> ModelResponse:
        parts = [p for m in messages for p in m.parts]
        systems.append("\n".join(str(p.content) for p in parts if isinstance(p, SystemPart)))
        done = [p for p in parts if isinstance(p, ToolReturnPart)]
        if done:
            returned.extend(done)
            return ModelResponse(parts=[TextPart(content="ok")])
        if "took me ages" in str(parts[-1].content):  # type: ignore[union-attr]
            args = {"insight": REFUNDS, "topics": ["refunds"]}
            call = ToolCallPart(tool_name="save_insight", args=args, tool_call_id="c1")
            return ModelResponse(parts=[call])
        return ModelResponse(parts=[TextPart(content="ok")])

    learner = StoreLearner(LearnedKnowledge(share_across_users=True), store)
    agent = Agent(model=FunctionModel(model), learning=learner, store=store)
    first = await agent.run("A refund took me ages", tenant_id="acme", user_id="ann")
    [row] = await rows(store)
    assert (row.content, row.user_id, row.metadata["run_id"]) == (REFUNDS, None, first.run_id)

    await agent.run("Where are my refunds?", tenant_id="acme", user_id="bob")
    assert REFUNDS in systems[-1]
    await agent.run("Where are my refunds?", tenant_id="initech", user_id="eve")
    assert REFUNDS not in systems[-1]
    assert await rows(store, "initech") == []
    # A run without a user is refused by the tool, and still completes.
    anonymous = await agent.run("A refund took me ages too", tenant_id="acme")
    assert anonymous.output == "ok"
    assert returned[-1].is_error and "no user" in str(returned[-1].content)
    assert len(await rows(store)) == 1
