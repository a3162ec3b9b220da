"""An agent answering from a real `covey.knowledge.Knowledge`, in both knowledge modes.

Cross-package: covey-core's `Agent(knowledge=...)` against covey-knowledge's pipeline (real
chunking, embedding and search), with scripted models so the answer is checked exactly.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from covey.core import Agent, RunStatus
from covey.core.testing import AgentInfo, FunctionModel
from covey.db.memory import MemoryStore
from covey.knowledge import Knowledge
from covey.spec import (
    ModelRequest,
    ModelResponse,
    SystemPart,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
)
from covey.spec.store import Scope
from covey.testing import HashEmbedder, InMemoryVectorStore

ACME = Scope("acme")
GLOBEX = Scope("globex")


@pytest.fixture
async def handbook() -> AsyncIterator[Knowledge]:
    kb = Knowledge(
        "handbook",
        embedder=HashEmbedder(dimensions=256),
        vector_store=InMemoryVectorStore(),
        store=MemoryStore(),
        description="the employee handbook",
    )
    await kb.ingest_text(
        "# Leave\n\nEmployees get 27 days of paid leave per year.", name="leave.md", scope=ACME
    )
    await kb.ingest_text(
        "# Office\n\nThe office opens at 8:30 and the cafeteria at noon.",
        name="office.md",
        scope=ACME,
    )
    await kb.ingest_text(
        "Globex employees get 40 days of paid leave.", name="globex.md", scope=GLOBEX
    )
    async with kb:
        yield kb


def _reply(text: str) -> ModelResponse:
    return ModelResponse(parts=[TextPart(content=text)])


async def test_the_model_searches_and_answers_with_a_reference(handbook: Knowledge) -> None:
    def model(messages: list[ModelRequest | ModelResponse], info: AgentInfo) -> ModelResponse:
        if len(messages) == 1:
            search = ToolCallPart(
                tool_name="search_knowledge", args={"query": "days of paid leave"}, tool_call_id="1"
            )
            return ModelResponse(parts=[search])
        last = messages[-1]
        assert isinstance(last, ModelRequest)
        [returned] = [p for p in last.parts if isinstance(p, ToolReturnPart)]
        passages = returned.content
        assert isinstance(passages, list)
        best = passages[0]
        return _reply(f"{best['text']} [{best['ref']}]")

    agent = Agent(model=FunctionModel(model), knowledge=handbook)
    result = await agent.run("How much leave do I get?", tenant_id="acme")
    assert result.status is RunStatus.COMPLETED, result.error
    assert "27 days of paid leave" in result.output
    assert result.output.endswith("[1]")
    assert result.references[0].name == "leave.md"
    assert all("Globex" not in ref.text for ref in result.references)


async def test_context_mode_answers_from_the_passages_in_the_instructions(
    handbook: Knowledge,
) -> None:
    def model(messages: list[ModelRequest | ModelResponse], info: AgentInfo) -> ModelResponse:
        assert not info.function_tools
        first = messages[0]
        assert isinstance(first, ModelRequest)
        [system] = [p.content for p in first.parts if isinstance(p, SystemPart)]
        line = next(x for x in system.splitlines() if "paid leave" in x)
        return _reply(f"From the handbook: {line}")

    agent = Agent(
        model=FunctionModel(model),
        knowledge=handbook,
        knowledge_mode="context",
        knowledge_results=2,
    )
    result = await agent.run("How many days of paid leave?", tenant_id="globex")
    assert result.output == "From the handbook: Globex employees get 40 days of paid leave."
    assert [ref.name for ref in result.references] == ["globex.md"]  # never acme's documents
