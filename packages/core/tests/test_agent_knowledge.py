"""Agents answering from knowledge bases: the search tool, passages in context, references."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from core_helpers import call, last_request, text

from covey.core import Agent, RunStatus
from covey.core.testing import AgentInfo, FunctionModel, TestModel
from covey.db.memory import MemoryStore
from covey.spec import ModelRequest, ModelResponse, SystemPart, ToolReturnPart
from covey.spec.errors import ConfigurationError
from covey.spec.knowledge import KnowledgeHit
from covey.spec.store import Scope
from covey.spec.vectors import Filter, QueryMode

PASSAGES = {
    ("acme", None): [
        ("p1", "Otters hold hands while they sleep so they do not drift apart.", "otters.md"),
        ("p2", "The Acme office is closed on public holidays.", "handbook.md"),
    ],
    ("acme", "bob"): [("p3", "Bob's otter is called Pebble.", "bob-notes.md")],
    ("globex", None): [("p4", "Globex otters are a trade secret.", "secret.md")],
}


def _words(text: str) -> set[str]:
    return {w.lower().strip("?.,'s") for w in text.split()} - {"", "i", "the", "a", "do"}


@dataclass
class WordSearch:
    """A knowledge base over a fixed set of passages: the protocol, nothing more."""

    name: str = "wiki"
    description: str = "facts about otters and the office"
    scopes: list[Scope] = field(default_factory=list[Scope])

    async def search(
        self,
        query: str,
        *,
        k: int = 5,
        mode: QueryMode = "hybrid",
        filter: Filter | None = None,
        scope: Scope | None = None,
    ) -> list[KnowledgeHit]:
        scope = scope or Scope()
        self.scopes.append(scope)
        words = _words(query)
        hits: list[KnowledgeHit] = []
        for (tenant, user), passages in PASSAGES.items():
            if tenant != scope.tenant_id or (user is not None and user != scope.user_id):
                continue
            for pid, passage, source in passages:
                score = len(words & _words(passage))
                if score:
                    hits.append(
                        KnowledgeHit(
                            id=pid, text=passage, score=score, knowledge=self.name, source=source
                        )
                    )
        return sorted(hits, key=lambda h: -h.score)[:k]


def searcher(query: str):
    """A model that searches once, then answers with what the tool returned."""

    def model(messages: list[ModelRequest | ModelResponse], info: AgentInfo) -> ModelResponse:
        if len(messages) == 1:
            [tool] = info.function_tools
            return ModelResponse(parts=[call(tool.name, {"query": query})])
        returned = last_request(messages).parts[0]
        assert isinstance(returned, ToolReturnPart)
        return text(f"found: {returned.content}")

    return FunctionModel(model)


async def test_tool_mode_gives_the_model_a_search_tool_in_the_run_scope() -> None:
    kb = WordSearch()
    agent = Agent(model=searcher("how does an otter or otters sleep"), knowledge=kb)
    result = await agent.run("How do otters sleep?", tenant_id="acme", user_id="bob")
    assert result.status is RunStatus.COMPLETED
    assert "hold hands" in result.output
    assert "Pebble" in result.output  # bob's own passage
    assert "trade secret" not in result.output  # never another tenant's
    assert kb.scopes == [Scope("acme", "bob")]
    assert [(r.id, r.source) for r in result.references] == [
        ("p1", "otters.md"),
        ("p3", "bob-notes.md"),
    ]
    [record] = result.tool_calls
    assert record.tool_name == "search_knowledge"


async def test_the_tool_is_described_by_the_knowledge_base() -> None:
    seen: list[AgentInfo] = []

    def model(messages: list[ModelRequest | ModelResponse], info: AgentInfo) -> ModelResponse:
        seen.append(info)
        return text("ok")

    await Agent(model=FunctionModel(model), knowledge=WordSearch()).run("hi")
    [tool] = seen[0].function_tools
    assert tool.name == "search_knowledge"
    assert "facts about otters" in (tool.description or "")
    assert list(tool.parameters_json_schema["properties"]) == ["query"]


async def test_several_knowledge_bases_get_one_tool_each() -> None:
    seen: list[AgentInfo] = []

    def model(messages: list[ModelRequest | ModelResponse], info: AgentInfo) -> ModelResponse:
        seen.append(info)
        return text("ok")

    agent = Agent(model=FunctionModel(model), knowledge=[WordSearch("wiki"), WordSearch("hr-docs")])
    await agent.run("hi")
    assert sorted(t.name for t in seen[0].function_tools) == ["search_hr-docs", "search_wiki"]


async def test_context_mode_puts_the_passages_in_the_instructions() -> None:
    prompts: list[str] = []

    def model(messages: list[ModelRequest | ModelResponse], info: AgentInfo) -> ModelResponse:
        assert info.function_tools == []  # no search tool in context mode
        first = messages[0]
        assert isinstance(first, ModelRequest)
        prompts.extend(p.content for p in first.parts if isinstance(p, SystemPart))
        return text("They hold hands [1].")

    kb = WordSearch()
    agent = Agent(
        model=FunctionModel(model),
        instructions="Answer briefly.",
        knowledge=kb,
        knowledge_mode="context",
        knowledge_results=1,
    )
    result = await agent.run("How do otters sleep?", tenant_id="acme")
    [prompt] = prompts
    assert prompt.startswith("Answer briefly.")
    assert "[1] (otters.md)\nOtters hold hands" in prompt
    assert "Pebble" not in prompt  # tenant-wide scope: no user's own passages
    assert kb.scopes == [Scope("acme")]
    assert [r.id for r in result.references] == ["p1"]


async def test_context_mode_with_nothing_found_leaves_the_instructions_alone() -> None:
    prompts: list[str] = []

    def model(messages: list[ModelRequest | ModelResponse], info: AgentInfo) -> ModelResponse:
        first = messages[0]
        assert isinstance(first, ModelRequest)
        prompts.extend(p.content for p in first.parts if isinstance(p, SystemPart))
        return text("no idea")

    agent = Agent(
        model=FunctionModel(model),
        instructions="Be brief.",
        knowledge=WordSearch(),
        knowledge_mode="context",
    )
    result = await agent.run("zebras?")
    assert prompts == ["Be brief."]
    assert result.references == []


async def test_references_are_stored_with_the_run() -> None:
    store = MemoryStore()
    agent = Agent(model=searcher("otters"), knowledge=WordSearch(), store=store, name="helper")
    result = await agent.run("otters?", tenant_id="acme", session_id="s1")
    stored = await store.get_run(Scope("acme"), result.run_id)
    assert stored is not None
    assert [r["id"] for r in stored.metadata["references"]] == ["p1"]
    assert [r.id for r in stored.to_result().references] == ["p1"]


async def test_a_failing_search_goes_back_to_the_model_as_a_tool_error() -> None:
    class Down(WordSearch):
        async def search(self, query: str, **options: Any) -> list[KnowledgeHit]:
            raise ConnectionError("vector store unreachable")

    def model(messages: list[ModelRequest | ModelResponse], info: AgentInfo) -> ModelResponse:
        if len(messages) == 1:
            return ModelResponse(parts=[call("search_knowledge", {"query": "x"})])
        returned = last_request(messages).parts[0]
        assert isinstance(returned, ToolReturnPart) and returned.is_error
        return text("the knowledge base is down")

    result = await Agent(model=FunctionModel(model), knowledge=Down()).run("x")
    assert result.status is RunStatus.COMPLETED
    assert result.references == []


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"knowledge": object()}, "knowledge bases"),
        ({"knowledge": [WordSearch(), WordSearch()]}, "Two knowledge bases"),
        ({"knowledge": WordSearch(), "knowledge_mode": "always"}, "knowledge_mode"),
        ({"knowledge": WordSearch(), "knowledge_results": 0}, "knowledge_results"),
    ],
)
async def test_misconfigured_knowledge_is_refused_clearly(
    options: dict[str, Any], message: str
) -> None:
    agent = Agent(model=TestModel(), **options)
    with pytest.raises(ConfigurationError, match=message):
        await agent.run("x")


async def test_references_found_before_a_pause_survive_the_resume() -> None:
    from covey.spec import tool

    @tool(requires_approval=True)
    def send(to: str) -> str:
        """Send the answer."""
        return f"sent to {to}"

    def model(messages: list[ModelRequest | ModelResponse], info: AgentInfo) -> ModelResponse:
        returned = [p for p in last_request(messages).parts if isinstance(p, ToolReturnPart)]
        if len(messages) == 1:
            return ModelResponse(parts=[call("search_knowledge", {"query": "otters"})])
        if returned and returned[0].tool_name == "search_knowledge":
            return ModelResponse(parts=[call("send", {"to": "bob"})])
        return text("done")

    store = MemoryStore()

    def build() -> Agent[Any, str]:
        return Agent(
            model=FunctionModel(model),
            tools=[send],
            knowledge=WordSearch(),
            store=store,
            name="mailer",
        )

    paused = await build().run("otters?", tenant_id="acme", session_id="s")
    assert paused.status is RunStatus.PAUSED
    assert [r.id for r in paused.references] == ["p1"]
    [requirement] = paused.requirements
    resumed = await build().resume(
        paused.run_id, approvals={requirement.tool_call_id: True}, tenant_id="acme"
    )
    assert resumed.status is RunStatus.COMPLETED
    assert [r.id for r in resumed.references] == ["p1"]
