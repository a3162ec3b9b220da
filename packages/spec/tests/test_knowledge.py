"""The knowledge-base interface agents search through."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from covey.spec.knowledge import KnowledgeBase, KnowledgeHit
from covey.spec.store import Scope
from covey.spec.vectors import Filter, QueryMode


class _Wiki:
    """A search service wrapped by hand: no base class, only the protocol's shape."""

    name = "wiki"

    async def search(
        self,
        query: str,
        *,
        k: int = 5,
        mode: QueryMode = "hybrid",
        filter: Filter | None = None,
        scope: Scope | None = None,
    ) -> list[KnowledgeHit]:
        return [KnowledgeHit(id="c1", text=f"about {query}", score=1.0, knowledge=self.name)][:k]


class _NoSearch:
    name = "nothing"


async def test_any_object_with_a_name_and_search_is_a_knowledge_base() -> None:
    wiki = _Wiki()
    assert isinstance(wiki, KnowledgeBase)
    assert not isinstance(_NoSearch(), KnowledgeBase)
    [hit] = await wiki.search("otters", k=1)
    assert hit.text == "about otters"


def test_a_reference_cites_the_passage_without_its_text() -> None:
    hit = KnowledgeHit(
        id="c1",
        text="Otters hold hands while sleeping.",
        score=0.8,
        knowledge="wiki",
        content_id="doc-1",
        name="otters.md",
        source="/docs/otters.md",
        metadata={"heading": "Sleep"},
    )
    assert hit.reference() == {
        "id": "c1",
        "knowledge": "wiki",
        "content_id": "doc-1",
        "name": "otters.md",
        "source": "/docs/otters.md",
        "score": 0.8,
    }


def test_a_hit_refuses_unknown_fields() -> None:
    with pytest.raises(ValidationError):
        KnowledgeHit.model_validate({"id": "c1", "text": "x", "score": 1.0, "page": 3})
