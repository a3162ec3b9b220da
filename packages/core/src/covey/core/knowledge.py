"""Knowledge for agents: a search tool the model calls, or passages put in its context.

`Agent(knowledge=kb)` takes anything that implements `covey.spec.knowledge.KnowledgeBase`
(`covey-knowledge`'s `Knowledge`, or a wrapper around another search service). Every search runs
in the run's scope (tenant and user), and every passage the model was given is kept, once, in
`RunResult.references`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, cast

from covey.spec.errors import ConfigurationError
from covey.spec.knowledge import KnowledgeBase, KnowledgeHit

if TYPE_CHECKING:
    from covey.spec import RunContext, Toolset, UserContent
    from covey.spec.store import Scope

__all__ = ["KnowledgeMode", "KnowledgePlan", "knowledge_bases"]

KnowledgeMode = Literal["tool", "context"]
"""`tool`: the model searches when it wants to (agentic search). `context`: the run searches
with the user's input and puts the best passages into the instructions."""

_TOOL_NAME = re.compile(r"[^A-Za-z0-9_-]")


def knowledge_bases(knowledge: object) -> tuple[KnowledgeBase, ...]:
    """`Agent.knowledge` as a tuple, each checked to be a `KnowledgeBase` with a unique name."""
    if knowledge is None:
        return ()
    items: tuple[object, ...] = (
        tuple(cast("Sequence[object]", knowledge))
        if isinstance(knowledge, list | tuple)
        else (knowledge,)
    )
    bases: list[KnowledgeBase] = []
    names: set[str] = set()
    for item in items:
        if not isinstance(item, KnowledgeBase):
            raise ConfigurationError(
                f"knowledge= takes knowledge bases (objects with a `name` and an async "
                f"`search(query, *, k, mode, filter, scope)`, such as covey.knowledge.Knowledge), "
                f"got {type(item).__name__}"
            )
        if item.name in names:
            raise ConfigurationError(f"Two knowledge bases are named {item.name!r}")
        names.add(item.name)
        bases.append(item)
    return tuple(bases)


def _scope(ctx: RunContext[Any]) -> Scope:
    from covey.spec.store import Scope

    return Scope(ctx.tenant_id or "default", ctx.user_id)


def _remember(ctx: RunContext[Any], hits: Sequence[KnowledgeHit]) -> list[int]:
    """Add hits to the run's references (each id once); their 1-based reference numbers."""
    seen = {(hit.knowledge, hit.id): n for n, hit in enumerate(ctx.references, start=1)}
    numbers: list[int] = []
    for hit in hits:
        key = (hit.knowledge, hit.id)
        if key not in seen:
            ctx.references.append(hit)
            seen[key] = len(ctx.references)
        numbers.append(seen[key])
    return numbers


def _label(hit: KnowledgeHit) -> str:
    where = hit.name or hit.source or hit.knowledge or "knowledge"
    if hit.source and hit.name and hit.source != hit.name:
        where = f"{hit.name}, {hit.source}"
    return where


@dataclass(frozen=True, slots=True)
class KnowledgePlan:
    """How a run uses its knowledge bases."""

    bases: tuple[KnowledgeBase, ...]
    mode: KnowledgeMode = "tool"
    results: int = 5
    """Passages per search (per knowledge base in `context` mode)."""

    def __post_init__(self) -> None:
        if self.mode not in ("tool", "context"):
            raise ConfigurationError(
                f"knowledge_mode must be 'tool' or 'context', got {self.mode!r}"
            )
        if not 1 <= self.results <= 100:
            raise ConfigurationError(
                f"knowledge_results must be between 1 and 100, got {self.results}"
            )

    # --- tool mode -------------------------------------------------------------------------------

    def toolset(self) -> Toolset:
        """One search tool per knowledge base: `search_knowledge` when there is one base,
        `search_<name>` for each when there are several."""
        from covey.spec.function_toolset import FunctionToolset, Tool

        single = len(self.bases) == 1
        tools = [self._tool(base, single, Tool) for base in self.bases]
        return FunctionToolset(tools, id="knowledge")

    def _tool(self, base: KnowledgeBase, single: bool, tool_type: type[Any]) -> Any:
        results = self.results

        async def search_knowledge(ctx: RunContext[Any], query: str) -> list[dict[str, Any]]:
            """Search the knowledge base for passages about something.

            Args:
                query: What to look for, in a few words or a question.
            """
            hits = await base.search(query, k=results, scope=_scope(ctx))
            numbers = _remember(ctx, hits)
            return [
                {"ref": n, "source": _label(hit), "text": hit.text}
                for n, hit in zip(numbers, hits, strict=True)
            ]

        name = "search_knowledge" if single else f"search_{_TOOL_NAME.sub('_', base.name)}"
        about = getattr(base, "description", None)
        description = f"Search the knowledge base {base.name!r} for passages"
        description += f" ({about})." if isinstance(about, str) and about else "."
        description += " Cite what you use by its `ref` number, like [1]."
        return tool_type(search_knowledge, name=name, description=description)

    # --- context mode ----------------------------------------------------------------------------

    async def context(
        self, ctx: RunContext[Any], content: str | Sequence[UserContent] | None
    ) -> str:
        """The passages for the user's input, as a section of the instructions ("" for none)."""
        from covey.core.instructions import input_text

        query = input_text(content)
        if not query:
            return ""
        scope = _scope(ctx)
        hits: list[KnowledgeHit] = []
        for base in self.bases:
            hits.extend(await base.search(query, k=self.results, scope=scope))
        if not hits:
            return ""
        numbers = _remember(ctx, hits)
        lines = [
            "Passages from the knowledge base that may help answer. Use them when they are "
            "relevant, and cite the ones you use by their number, like [1].",
            "<passages>",
        ]
        for n, hit in zip(numbers, hits, strict=True):
            lines.append(f"[{n}] ({_label(hit)})\n{hit.text}")
        lines.append("</passages>")
        return "\n".join(lines)
