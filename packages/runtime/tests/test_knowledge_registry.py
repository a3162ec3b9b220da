"""Which knowledge bases a runtime serves: those given to the `Registry`, those its agents and
teams' members hold, one object per name; and the checks made when the app is built."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from covey.core import Agent
from covey.core.testing import TestModel
from covey.knowledge import Knowledge
from covey.runtime import Registry, RuntimeSettings, create_app
from covey.spec.errors import ConfigurationError
from covey.spec.knowledge import KnowledgeHit
from covey.testing import HashEmbedder, InMemoryVectorStore


def kb(name: str = "docs") -> Knowledge:
    return Knowledge(name, vector_store=InMemoryVectorStore(), embedder=HashEmbedder())


class SearchOnly:
    """A knowledge base an agent can search, with no documents to manage (no `ingest`)."""

    name = "wiki"

    async def search(self, query: str, **options: Any) -> list[KnowledgeHit]:
        return []


class TeamLike:
    """A runnable served as a team whose member searches a knowledge base."""

    def __init__(self, name: str, members: list[Any], knowledge: Any = None) -> None:
        self.name = name
        self.description = None
        self.members = members
        self.knowledge = knowledge

    def run_stream(self, input: Any = None, **options: Any) -> AsyncIterator[Any]:
        raise NotImplementedError

    def resume_stream(self, run_id: str, **options: Any) -> AsyncIterator[Any]:
        raise NotImplementedError

    async def cancel(self, run_id: str, **options: Any) -> bool:
        return False


def test_knowledge_given_and_held_by_members_are_served_once_each() -> None:
    """Fails if a knowledge base held by a team's member (or the team) is not served, if the
    same object listed twice is refused, or if a search-only one is offered for uploads."""
    docs, faq = kb("docs"), kb("faq")
    member = TeamLike("member", [], knowledge=[faq, SearchOnly()])
    team = TeamLike("desk", [member], knowledge=docs)
    registry = Registry([Agent(name="helper", model=TestModel())], teams=[team], knowledge=[docs])
    assert registry.knowledge() == {"docs": docs, "faq": faq}


def test_two_knowledge_bases_of_one_name_are_refused() -> None:
    """Fails if two different objects named `docs` are served (one id, two bases)."""
    with pytest.raises(ConfigurationError, match="Two different knowledge bases are named 'docs'"):
        Registry(knowledge=[kb("docs"), kb("docs")])
    with pytest.raises(ConfigurationError, match="not a knowledge base"):
        Registry(knowledge=[SearchOnly()])


def test_knowledge_sources_must_name_a_served_knowledge_base(tmp_path: Path) -> None:
    """Fails if `knowledge_sources` naming a knowledge base not served starts the app."""
    settings = RuntimeSettings(
        store="memory://", data_dir=tmp_path, knowledge_sources={"dcos": ["docs"]}
    )
    with pytest.raises(ConfigurationError, match="knowledge_sources names 'dcos'"):
        create_app(settings, registry=Registry(knowledge=[kb("docs")]))


def test_an_agents_own_knowledge_is_served_without_listing_it() -> None:
    """Fails if `Agent(knowledge=...)` (and a real Team's member's) is not picked up."""
    from covey.core import Team

    docs, faq = kb("docs"), kb("faq")
    helper = Agent(name="helper", model=TestModel(), knowledge=docs)
    expert = Agent(name="expert", model=TestModel(), knowledge=[faq], knowledge_mode="context")
    team = Team(name="desk", model=TestModel(), members=[expert])
    registry = Registry([helper], teams=[team])
    assert registry.knowledge() == {"docs": docs, "faq": faq}
