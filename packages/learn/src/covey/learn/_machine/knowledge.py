"""`LearnedKnowledge`: insights that transfer across conversations ("users asking about X
usually need Y"), optionally shared by every user of a tenant and kept in a knowledge base.

Each insight is one `Learning` row (namespace `knowledge`, kind `insight`, metadata `topics`,
`run_id`), owned by the user whose run taught it, or by the tenant (`user_id=None`) when
`share_across_users` is on: never shared across tenants, and across users only when enabled.

With a knowledge base (anything shaped like `covey.knowledge.Knowledge`: `WritableKnowledge`)
each insight is also ingested there, in the same scope, with metadata `learning_id`, and search
goes through the knowledge base's semantic search. The row is the truth: it is written after
the knowledge base took the text, and a hit whose row is gone (deleted through
`DELETE /v1/learnings/{id}`, or never written because the process died in between) is never
shown. Deleting through the store (`delete`, `forget_user`) removes both. Without a knowledge
base, search is keyword and recency relevance over the rows.

Insights are general by design: the extraction instructions and the tool description forbid
anything about the particular user, and text holding an email address or a phone number is
refused, like credential-looking text.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal, Protocol, runtime_checkable

from pydantic import Field, StringConstraints, TypeAdapter, ValidationError

from covey.learn._machine._shared import (
    DATA_NOTE,
    error,
    list_rows,
    looks_personal,
    recency,
    relevance,
    store_context,
)
from covey.learn._machine.base import Applied, LearningStore, Mode, Recorder, StoreContext
from covey.learn._operations import Operation, Topics
from covey.learn._recall import estimate_tokens, terms
from covey.learn._secrets import looks_like_secret
from covey.spec.context import RunContext
from covey.spec.errors import ConfigurationError, InvalidInputError
from covey.spec.function_toolset import Tool
from covey.spec.knowledge import KnowledgeHit
from covey.spec.learning import LearningChange
from covey.spec.store import (
    KnowledgeContent,
    Learning,
    Scope,
    Store,
    check_id,
    new_id,
    utc_now,
)
from covey.spec.tools import ToolResult
from covey.spec.vectors import Eq, Filter, QueryMode

__all__ = [
    "KNOWLEDGE_INSTRUCTIONS",
    "InsightOperation",
    "LearnedKnowledge",
    "RemoveInsight",
    "SaveInsight",
    "WritableKnowledge",
]

logger = logging.getLogger("covey.learn")

NAMESPACE = "knowledge"
KIND = "insight"
MARK = "covey_learning"
"""Metadata key on the knowledge base's chunks of insights, so searches see only those."""
MAX_INSIGHT_CHARS = 500
MAX_OPERATIONS = 10
CONTEXT_INSIGHTS = 5
CURRENT_INSIGHTS = 15
SEARCH_INSIGHTS = 8


@runtime_checkable
class WritableKnowledge(Protocol):
    """A knowledge base insights can be written to and searched in: `covey.knowledge.Knowledge`
    is one (covey-learn does not import it)."""

    @property
    def name(self) -> str:
        """The knowledge base's name."""
        ...

    async def search(
        self,
        query: str,
        *,
        k: int = 5,
        mode: QueryMode = "hybrid",
        filter: Filter | None = None,
        scope: Scope | None = None,
    ) -> list[KnowledgeHit]:
        """The best `k` passages for `query` visible to `scope`."""
        ...

    async def ingest_text(
        self,
        text: str,
        *,
        name: str,
        metadata: Mapping[str, Any] | None = None,
        scope: Scope | None = None,
    ) -> KnowledgeContent:
        """Add `text` as one document owned by `scope`."""
        ...

    async def remove(self, content_id: str, scope: Scope | None = None) -> None:
        """Delete a document and its chunks."""
        ...


InsightText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_INSIGHT_CHARS)
]


class SaveInsight(Operation):
    """Keep a general insight that will help future conversations."""

    op: Literal["add"] = "add"
    insight: InsightText
    topics: Topics = Field(default_factory=list[str])


class RemoveInsight(Operation):
    """Remove a current insight (by its id) that proved wrong."""

    op: Literal["remove"] = "remove"
    id: str = Field(min_length=1, max_length=255)


InsightOperation = Annotated[SaveInsight | RemoveInsight, Field(discriminator="op")]
_OPERATION: TypeAdapter[InsightOperation] = TypeAdapter(InsightOperation)

KNOWLEDGE_INSTRUCTIONS = """\
knowledge: general insights that will help future conversations, with other users too, e.g.
"Users asking about refunds usually need their order number first". Operations, in order:
- add: one general insight with a few lowercase topics.
- remove: a current insight (by its id) that this conversation proved wrong.
Leave the list empty unless the conversation taught something that generalises (rare).
An insight is never about this particular user: no names, no personal details, nothing they
said about themselves (that belongs in their memory, not here). Never record secrets."""

_SECRET = (
    "Not saved: the insight looks like a secret (a key, a password or a card number). "
    "Never store credentials."
)
_PERSONAL = (
    "Not saved: the insight holds an email address or a phone number. Insights are general "
    "lessons, never details about a person."
)
_NO_USER = (
    "Insights are learned from a user's conversations, and this run has no user: nothing was "
    "read or saved."
)


def _key(text: str) -> str:
    return " ".join(text.split()).casefold()


def _topics(row: Learning) -> list[str]:
    raw = row.metadata.get("topics")
    if not isinstance(raw, list):
        return []
    return [str(t) for t in raw]  # pyright: ignore[reportUnknownVariableType, reportUnknownArgumentType]


def _view(row: Learning) -> dict[str, Any]:
    return {"id": row.id, "insight": row.content, "topics": _topics(row)}


class LearnedKnowledge(LearningStore):
    """Insights that transfer across conversations, optionally across the tenant's users.

    Args:
        mode: `agentic` (the agent uses `save_insight` and `search_insights`), `always` (the
            extraction model adds and removes insights after each run) or `propose` (the tools,
            each save confirmed by a person).
        knowledge: A knowledge base (e.g. `covey.knowledge.Knowledge`) that also keeps each
            insight, for semantic search. Its lifetime is the caller's.
        share_across_users: Insights belong to the tenant and every user of it reads them;
            off (default), each user's insights stay theirs.
        max_insights: New insights are refused past this many (per user, or per tenant when
            shared).

    Raises:
        ConfigurationError: a bad mode, `max_insights` below 1, or `knowledge` is not a
            knowledge base.
    """

    kind = "knowledge"
    needs_user = True

    def __init__(
        self,
        mode: Mode = "agentic",
        *,
        knowledge: WritableKnowledge | None = None,
        share_across_users: bool = False,
        max_insights: int = 500,
    ) -> None:
        super().__init__(mode)
        if not 1 <= max_insights <= 10_000:
            raise ConfigurationError(f"max_insights must be 1 to 10000, got {max_insights}")
        if knowledge is not None and not isinstance(knowledge, WritableKnowledge):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise ConfigurationError(
                "knowledge= takes a knowledge base with search, ingest_text and remove "
                f"(covey.knowledge.Knowledge), got {type(knowledge).__name__}"
            )
        self.knowledge = knowledge
        self.share_across_users = share_across_users
        self.max_insights = max_insights

    def __repr__(self) -> str:
        kb = None if self.knowledge is None else self.knowledge.name
        return (
            f"LearnedKnowledge(mode={self.mode!r}, knowledge={kb!r}, "
            f"share_across_users={self.share_across_users}, max_insights={self.max_insights})"
        )

    # --- scopes ----------------------------------------------------------------------------------

    def _owner(self, scope: Scope) -> Scope:
        """Who new insights belong to: the tenant when shared, else the run's user."""
        return scope.for_user(None) if self.share_across_users else scope

    def _visible(self, row: Learning | None, scope: Scope) -> bool:
        if row is None or row.namespace != NAMESPACE or row.kind != KIND:
            return False
        if self.share_across_users:
            return row.user_id is None
        return scope.user_id is not None and row.user_id == scope.user_id

    # --- reading ---------------------------------------------------------------------------------

    async def insights(self, store: Store, scope: Scope) -> list[Learning]:
        """The insights `scope`'s user reads (theirs, or the tenant's when shared), newest
        first; none for a scope without a user."""
        if scope.user_id is None:
            return []
        rows = await list_rows(
            store, scope, NAMESPACE, KIND, limit=min(4 * self.max_insights, 20_000)
        )
        return [row for row in rows if self._visible(row, scope)]

    async def search(self, store: Store, scope: Scope, query: str, *, k: int) -> list[Learning]:
        """The insights most relevant to `query`: the knowledge base's semantic search when
        there is one (falling back to keywords if it fails), else keyword and recency
        relevance. A blank query gives the newest."""
        if scope.user_id is None:
            return []
        query = query.strip()[-2000:]
        if self.knowledge is not None and query:
            try:
                return await self._search_knowledge(store, scope, query, k)
            except Exception as exc:
                logger.warning(
                    "learned knowledge: knowledge base search failed, using keywords",
                    extra={"error": type(exc).__name__},
                )
        rows = await self.insights(store, scope)
        if not query:
            return rows[:k]
        query_terms = terms(query)
        now = utc_now()
        scored: list[tuple[float, Learning]] = []
        for row in rows:
            rel = relevance(query_terms, row.content, _topics(row), weights=(1.0, 2.0))
            if rel > 0:
                scored.append((0.75 * rel + 0.25 * recency(row.created_at, now), row))
        scored.sort(key=lambda pair: (pair[0], pair[1].created_at), reverse=True)
        return [row for _, row in scored[:k]]

    async def _search_knowledge(
        self, store: Store, scope: Scope, query: str, k: int
    ) -> list[Learning]:
        assert self.knowledge is not None
        hits = await self.knowledge.search(
            query, k=min(100, 3 * k), filter=Eq(MARK, KIND), scope=scope
        )
        found: list[Learning] = []
        seen: set[str] = set()
        for hit in hits:
            learning_id = hit.metadata.get("learning_id")
            if not isinstance(learning_id, str) or learning_id in seen:
                continue
            seen.add(learning_id)
            try:
                check_id(learning_id, "learning_id")
            except InvalidInputError:
                continue
            row = await store.get_learning(scope, learning_id)
            if self._visible(row, scope):  # gone (deleted) or not this scope's: not shown
                assert row is not None
                found.append(row)
            if len(found) >= k:
                break
        return found

    # --- always mode -----------------------------------------------------------------------------

    def extraction_field(self) -> tuple[Any, str]:
        """A list of `InsightOperation`s, and the instructions for it."""
        return list[InsightOperation], KNOWLEDGE_INSTRUCTIONS

    async def current(self, ctx: StoreContext) -> str:
        """The insights most relevant to the run's transcript, then the newest, with ids."""
        if ctx.scope.user_id is None:
            return ""
        rows = await self.search(ctx.store, ctx.scope, ctx.transcript, k=CURRENT_INSIGHTS)
        if len(rows) < CURRENT_INSIGHTS:
            ids = {r.id for r in rows}
            newest = await self.insights(ctx.store, ctx.scope)
            rows += [r for r in newest if r.id not in ids][: CURRENT_INSIGHTS - len(rows)]
        if not rows:
            return "Current insights: none yet."
        lines = ["Current insights ([id] before each):"]
        lines += [f"- [{r.id}] {' '.join(r.content.split())}" for r in rows]
        return "\n".join(lines)

    async def apply(self, ctx: StoreContext, value: Any) -> Applied:
        """Apply the extraction model's operations in order; each refusal is reported."""
        applied = Applied()
        if ctx.scope.user_id is None:
            applied.skipped.append(f"knowledge: {_NO_USER}")
            return applied
        items: list[Any] = list(value or [])
        if len(items) > MAX_OPERATIONS:
            applied.skipped.append(
                f"knowledge: only the first {MAX_OPERATIONS} operations were applied"
            )
            items = items[:MAX_OPERATIONS]
        for item in items:
            try:
                op = item if isinstance(item, Operation) else _OPERATION.validate_python(item)
            except ValidationError:
                applied.skipped.append("knowledge: an operation was malformed")
                continue
            if isinstance(op, SaveInsight):
                outcome = await self.save(ctx, op.insight, op.topics)
            elif isinstance(op, RemoveInsight):
                outcome = await self.delete(ctx.store, ctx.scope, op.id)
            else:
                applied.skipped.append("knowledge: an operation was malformed")
                continue
            if isinstance(outcome, str):
                applied.skipped.append(f"knowledge: {outcome}")
            else:
                applied.changes.append(outcome)
        return applied

    # --- writing ---------------------------------------------------------------------------------

    async def save(
        self, ctx: StoreContext, insight: str, topics: Sequence[str] = ()
    ) -> LearningChange | str:
        """Keep one insight for `ctx`'s user (or tenant, when shared); why not, as a string."""
        if ctx.scope.user_id is None:
            return _NO_USER
        insight = " ".join(insight.split())
        topics = list(dict.fromkeys(topics))
        if looks_like_secret(f"{insight}\n{' '.join(topics)}"):
            return _SECRET
        if looks_personal(insight):
            return _PERSONAL
        rows = await self.insights(ctx.store, ctx.scope)
        if any(_key(r.content) == _key(insight) for r in rows):
            return "Not saved: this insight is already known."
        if len(rows) >= self.max_insights:
            return (
                f"Not saved: {self.max_insights} insights are kept, the limit. Remove one that "
                "proved wrong first."
            )
        owner = self._owner(ctx.scope)
        learning_id = new_id()
        metadata: dict[str, Any] = {"topics": topics, "run_id": ctx.run_id}
        if self.knowledge is not None:
            # The knowledge base first: a row is only written once its text is searchable, and a
            # chunk left without a row (a crash in between) is never shown.
            try:
                content = await self.knowledge.ingest_text(
                    insight,
                    name=f"insight-{learning_id}",
                    metadata={"learning_id": learning_id, MARK: KIND, "topics": topics},
                    scope=owner,
                )
            except Exception as exc:
                # By type only: a third-party message may echo a request and its credentials.
                return f"Not saved: the knowledge base failed ({type(exc).__name__}). Try later."
            metadata |= {"knowledge": self.knowledge.name, "content_id": content.id}
        row = Learning(
            id=learning_id,
            namespace=NAMESPACE,
            kind=KIND,
            content=insight,
            metadata=metadata,
            user_id=owner.user_id,
            created_at=ctx.now,
        )
        try:
            stored = await ctx.store.add_learning(owner, row)
        except Exception:
            await self._remove_content(row, owner)
            raise
        return LearningChange(
            kind=self.kind,
            action="created",
            id=stored.id,
            content=stored.content,
            topics=topics,
            user_id=stored.user_id,
        )

    async def delete(self, store: Store, scope: Scope, learning_id: str) -> LearningChange | str:
        """Delete one insight `scope`'s user reads (the row, then its knowledge base document);
        why not, as a string."""
        if scope.user_id is None:
            return _NO_USER
        try:
            check_id(learning_id, "id")
        except InvalidInputError:
            return "No insight has this id; use an id shown with the insights."
        row = await store.get_learning(scope, learning_id)
        if row is None or not self._visible(row, scope):
            return f"No insight has id {learning_id[:80]!r}; use an id shown with the insights."
        owner = Scope(scope.tenant_id, row.user_id)
        await store.delete_learning(owner, row.id)
        await self._remove_content(row, owner)
        return LearningChange(
            kind=self.kind, action="deleted", id=row.id, topics=_topics(row), user_id=row.user_id
        )

    async def forget_user(self, store: Store, scope: Scope) -> list[LearningChange]:
        """Delete every insight owned by `scope`'s user (rows and documents). Insights shared
        with the tenant are not the user's (they are general by design) and are kept."""
        if scope.user_id is None:
            return []
        rows = await list_rows(store, scope, NAMESPACE, KIND, limit=20_000)
        changes: list[LearningChange] = []
        for row in rows:
            if row.user_id == scope.user_id:
                await store.delete_learning(scope, row.id)
                await self._remove_content(row, scope)
                changes.append(
                    LearningChange(kind=self.kind, action="deleted", id=row.id, user_id=row.user_id)
                )
        return changes

    async def _remove_content(self, row: Learning, owner: Scope) -> None:
        content_id = row.metadata.get("content_id")
        if self.knowledge is None or not isinstance(content_id, str):
            return
        if row.metadata.get("knowledge") != self.knowledge.name:
            return
        # Best effort: a document whose row is gone is never shown anyway.
        with contextlib.suppress(Exception):
            await self.knowledge.remove(content_id, owner)

    # --- every mode ------------------------------------------------------------------------------

    async def context(self, ctx: StoreContext, query: str, budget_tokens: int) -> str:
        """The insights most relevant to `query`, under the budget ("" without a user)."""
        if budget_tokens < 1 or ctx.scope.user_id is None or not query.strip():
            return ""
        rows = await self.search(ctx.store, ctx.scope, query, k=CONTEXT_INSIGHTS)
        whose = (
            "from conversations in your organisation"
            if self.share_across_users
            else ("from earlier conversations")
        )
        header = f"Insights learned {whose} (general patterns; may be out of date). {DATA_NOTE}"
        used = estimate_tokens(header)
        lines: list[str] = []
        for row in rows:
            line = f"- {' '.join(row.content.split())}"
            cost = estimate_tokens(line + "\n")
            if used + cost > budget_tokens:
                continue
            used += cost
            lines.append(line)
        return "\n".join([header, *lines]) if lines else ""

    # --- agentic and propose modes ---------------------------------------------------------------

    def tools(self, store: Store, record: Recorder) -> Sequence[Tool[..., Any]]:
        """`save_insight` and `search_insights`, scoped to the run's user (an error result for
        a run without one)."""

        async def save_insight(
            ctx: RunContext[Any], insight: str, topics: list[str] | None = None
        ) -> ToolResult:
            """Keep a general insight that will help future conversations, e.g. "Users asking
            about refunds usually need their order number first". Never about this user: no
            names or personal details (those are memories, not insights).

            Args:
                insight: One general lesson, in a sentence.
                topics: A few lowercase topics, e.g. ["refunds", "orders"].
            """
            if ctx.user_id is None:
                return error(_NO_USER)
            try:
                op = SaveInsight(insight=insight, topics=topics or [])
            except ValidationError as exc:
                first = exc.errors(include_url=False, include_input=False)[0]
                where = ".".join(str(x) for x in first["loc"]) or "argument"
                return error(f"Invalid {where}: {first['msg']}. Fix it and call again.")
            outcome = await self.save(store_context(store, ctx), op.insight, op.topics)
            if isinstance(outcome, str):
                return error(outcome)
            record(ctx.run_id, outcome)
            return ToolResult(content={"saved": {"id": outcome.id, "insight": outcome.content}})

        async def search_insights(ctx: RunContext[Any], query: str = "") -> ToolResult:
            """Insights learned from earlier conversations, most relevant to `query` first.

            Args:
                query: What you want to know, e.g. "refunds"; empty for the newest.
            """
            if ctx.user_id is None:
                return error(_NO_USER)
            sctx = store_context(store, ctx)
            rows = await self.search(store, sctx.scope, query, k=SEARCH_INSIGHTS)
            return ToolResult(content={"insights": [_view(r) for r in rows]})

        return [Tool(save_insight), Tool(search_insights)]

    def describe_call(self, tool_name: str, args: dict[str, Any]) -> str:
        """What a person approving a proposed call reads."""
        if tool_name == "save_insight":
            audience = (
                "shared with everyone in the organisation"
                if self.share_across_users
                else "kept for this user"
            )
            return f"Save an insight ({audience}): {args.get('insight')!s}"
        return super().describe_call(tool_name, args)
