"""`EntityMemory`: facts about people, companies, projects, shared by every user of a tenant.

Each fact is one `Learning` row: namespace `entities`, kind `entity`, `user_id=None` (the
tenant's, never a user's), content the fact, metadata `entity` (the name as first written),
`entity_type` and the `run_id` that wrote it. An entity is the set of facts whose names match
once case and spacing are ignored, so "ACME  corp" adds to "Acme Corp".

Shared means readable by every user of the tenant, so:

- a run without a user may read and write too (the tenant is the boundary, not the user: a
  scheduled job learning about a customer is as legitimate as a chat);
- the extraction instructions forbid putting a user's own private details into entities, and
  the prompt block tells the model the facts are data, never instructions (one user's
  conversation must not be able to steer another user's runs);
- credential-looking text is refused, and the caps refuse (never evict) past `max_entities`
  and `max_facts_per_entity`, so one chatty conversation cannot push out what others taught.

The caps are counted when a fact is written; two processes writing the last free slot at the
same moment may both succeed (one fact over), which is the price of needing no new table. For
the same reason an update replaces the row (delete, then add under the same id): racing updates
leave one of them, and a process dying between the two steps loses that one fact.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints, TypeAdapter, ValidationError

from covey.learn._machine._shared import (
    DATA_NOTE,
    error,
    list_rows,
    recency,
    relevance,
    store_context,
)
from covey.learn._machine.base import Applied, LearningStore, Mode, Recorder, StoreContext
from covey.learn._operations import Operation
from covey.learn._recall import estimate_tokens, terms
from covey.learn._secrets import looks_like_secret
from covey.spec.context import RunContext
from covey.spec.errors import ConfigurationError, ConflictError, InvalidInputError, NotFoundError
from covey.spec.function_toolset import Tool
from covey.spec.learning import LearningChange
from covey.spec.store import Learning, Scope, Store, check_id
from covey.spec.tools import ToolResult

__all__ = [
    "ENTITY_INSTRUCTIONS",
    "AddEntityFact",
    "Entity",
    "EntityMemory",
    "EntityOperation",
    "RemoveEntityFact",
    "UpdateEntityFact",
]

NAMESPACE = "entities"
KIND = "entity"
MAX_FACT_CHARS = 300
MAX_OPERATIONS = 20
"""The most operations one extraction answer may apply; the rest are skipped."""
CURRENT_ENTITIES = 25
"""The most entities `current` shows the extraction model."""
CURRENT_CHARS = 8000
SEARCH_ENTITIES = 10

EntityName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]
EntityType = Annotated[
    str, StringConstraints(strip_whitespace=True, to_lower=True, min_length=1, max_length=40)
]
FactText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_FACT_CHARS)
]
FactId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]


class AddEntityFact(Operation):
    """Add a fact about an entity (created when its name is new)."""

    op: Literal["add"] = "add"
    entity: EntityName
    """The entity's name, e.g. "Acme Corp"."""
    entity_type: EntityType
    """person, company, project, product, place or another short lowercase word."""
    fact: FactText
    """One lasting fact about the entity, e.g. "Renews its contract every March"."""


class UpdateEntityFact(Operation):
    """Replace a known fact (by its id) with a corrected one."""

    op: Literal["update"] = "update"
    id: FactId
    fact: FactText


class RemoveEntityFact(Operation):
    """Remove a known fact (by its id): it is wrong or no longer true."""

    op: Literal["remove"] = "remove"
    id: FactId


EntityOperation = Annotated[
    AddEntityFact | UpdateEntityFact | RemoveEntityFact, Field(discriminator="op")
]
_OPERATION: TypeAdapter[EntityOperation] = TypeAdapter(EntityOperation)

ENTITY_INSTRUCTIONS = """\
entities: facts about the people, companies, projects and other named things the conversation
is about, shared with everyone in this organisation. Operations, in order:
- add: a lasting fact about a named entity, useful to colleagues ("Acme Corp renews in March").
- update: a current fact (by its id) that the conversation corrects.
- remove: a current fact (by its id) that is now wrong.
Leave the list empty when nothing new was learned about an entity (most conversations).
Never record the user's own private details (their health, finances, family, contact details,
feelings) here: those are not about an entity, and everyone in the organisation would read them.
Do not create an entity for the user you are talking to. Never record secrets (passwords, keys,
card numbers). Use only ids shown in the current entities."""

_SECRET = (
    "Not saved: the text looks like a secret (a key, a password or a card number). "
    "Never store credentials."
)


def _line(text: str) -> str:
    return " ".join(text.split())


def _key(name: str) -> str:
    return _line(name).casefold()


def _same(a: str, b: str) -> bool:
    return _key(a) == _key(b)


@dataclass(slots=True)
class Entity:
    """One entity as read back: its name, type and facts (`Learning` rows)."""

    key: str
    name: str
    entity_type: str
    facts: list[Learning] = field(default_factory=list[Learning])
    """Newest first."""

    @property
    def latest(self) -> datetime:
        return self.facts[0].created_at

    def view(self) -> dict[str, Any]:
        return {
            "entity": self.name,
            "type": self.entity_type,
            "facts": [{"id": f.id, "fact": f.content} for f in self.facts],
        }


def _is_fact(row: Learning) -> bool:
    return (
        row.user_id is None
        and row.namespace == NAMESPACE
        and row.kind == KIND
        and isinstance(row.metadata.get("entity"), str)
    )


def _change(action: Literal["created", "updated", "deleted"], row: Learning) -> LearningChange:
    name = str(row.metadata.get("entity", ""))
    kind = str(row.metadata.get("entity_type", ""))
    return LearningChange(
        kind=KIND,
        action=action,
        id=row.id,
        content=row.content if action != "deleted" else None,
        topics=[t for t in (name, kind) if t],
        user_id=None,
    )


class EntityMemory(LearningStore):
    """Facts about people, companies and projects, shared by every user of a tenant.

    Args:
        mode: `always` (the extraction model adds, updates and removes facts after each run),
            `agentic` (the agent uses `save_entity_fact`, `search_entities` and
            `remove_entity_fact`) or `propose` (those tools, each call confirmed by a person).
        max_entities: New entities are refused past this many in the tenant.
        max_facts_per_entity: New facts about an entity are refused past this many.

    Ranking reads every fact of the tenant on each call of `context` and `current` (there is no
    index on learning metadata): milliseconds for hundreds of facts, a few hundred at the full
    default caps (10,000 facts). Lower the caps when that matters more than breadth.

    Raises:
        ConfigurationError: a bad mode, or a cap below 1.
    """

    kind = KIND
    needs_user = False

    def __init__(
        self, mode: Mode = "always", *, max_entities: int = 500, max_facts_per_entity: int = 20
    ) -> None:
        super().__init__(mode)
        if max_entities < 1 or max_facts_per_entity < 1:
            raise ConfigurationError("max_entities and max_facts_per_entity must be at least 1")
        if max_entities * max_facts_per_entity > 100_000:
            raise ConfigurationError(
                "max_entities * max_facts_per_entity must be at most 100000 (every fact is "
                "read to rank entities)"
            )
        self.max_entities = max_entities
        self.max_facts_per_entity = max_facts_per_entity

    def __repr__(self) -> str:
        return (
            f"EntityMemory(mode={self.mode!r}, max_entities={self.max_entities}, "
            f"max_facts_per_entity={self.max_facts_per_entity})"
        )

    # --- reading ---------------------------------------------------------------------------------

    async def entities(self, store: Store, tenant_id: str) -> list[Entity]:
        """Every entity of the tenant with its facts, most recently written first."""
        return list((await self._load(store, Scope(tenant_id))).values())

    async def _load(self, store: Store, scope: Scope) -> dict[str, Entity]:
        rows = await list_rows(
            store,
            scope.for_user(None),
            NAMESPACE,
            KIND,
            limit=self.max_entities * self.max_facts_per_entity + 100,
        )
        found: dict[str, Entity] = {}
        for row in rows:  # newest first; every fact carries the name its entity was first given
            if not _is_fact(row):
                continue
            name = str(row.metadata["entity"])
            key = _key(name)
            entity = found.get(key)
            if entity is None:
                entity_type = str(row.metadata.get("entity_type") or "other")
                entity = found[key] = Entity(key=key, name=name, entity_type=entity_type)
            entity.facts.append(row)
        return found

    @staticmethod
    def _ranked(
        entities: Sequence[Entity], query: str, now: datetime
    ) -> list[tuple[float, Entity]]:
        """(relevance, entity), best first: named in the query, or sharing its words (the
        name weighs double); ties go to the most recently written."""
        query_terms = terms(query)
        lowered = f" {_key(query)} "
        scored: list[tuple[float, float, Entity]] = []
        for entity in entities:
            named = re.search(rf"(?<!\w){re.escape(entity.key)}(?!\w)", lowered) is not None
            rel = (
                1.0
                if named
                else relevance(
                    query_terms, entity.name, [f.content for f in entity.facts], weights=(2.0, 1.0)
                )
            )
            scored.append((rel, 0.75 * rel + 0.25 * recency(entity.latest, now), entity))
        scored.sort(key=lambda t: (t[1], t[2].latest), reverse=True)
        return [(rel, entity) for rel, _, entity in scored]

    # --- always mode -----------------------------------------------------------------------------

    def extraction_field(self) -> tuple[Any, str]:
        """A list of `EntityOperation`s, and the instructions for it."""
        return list[EntityOperation], ENTITY_INSTRUCTIONS

    async def current(self, ctx: StoreContext) -> str:
        """The entities most relevant to the run's transcript (then the most recent), with the
        ids of their facts."""
        entities = await self._load(ctx.store, ctx.scope)
        if not entities:
            return "Current entities: none yet."
        ranked = self._ranked(list(entities.values()), ctx.transcript, ctx.now)
        lines = ["Current entities (shared within the organisation; [id] before each fact):"]
        used = len(lines[0])
        for _, entity in ranked[:CURRENT_ENTITIES]:
            block = [f"- {entity.name} ({entity.entity_type})"]
            block += [f"  - [{f.id}] {' '.join(f.content.split())}" for f in entity.facts]
            cost = sum(len(line) + 1 for line in block)
            if used + cost > CURRENT_CHARS:
                continue  # a later, smaller entity may still fit
            used += cost
            lines += block
        return "\n".join(lines)

    async def apply(self, ctx: StoreContext, value: Any) -> Applied:
        """Apply the extraction model's operations in order; each refusal is reported."""
        applied = Applied()
        items: list[Any] = list(value or [])
        if len(items) > MAX_OPERATIONS:
            applied.skipped.append(
                f"entities: only the first {MAX_OPERATIONS} operations were applied"
            )
            items = items[:MAX_OPERATIONS]
        entities = await self._load(ctx.store, ctx.scope)
        for item in items:
            try:
                op = item if isinstance(item, Operation) else _OPERATION.validate_python(item)
            except ValidationError:
                applied.skipped.append("entities: an operation was malformed")
                continue
            if isinstance(op, AddEntityFact):
                outcome = await self._add(ctx, entities, op)
            elif isinstance(op, UpdateEntityFact):
                outcome = await self._update(ctx, op.id, op.fact)
            elif isinstance(op, RemoveEntityFact):
                outcome = await self._remove(ctx, op.id)
            else:
                applied.skipped.append("entities: an operation was malformed")
                continue
            if isinstance(outcome, str):
                applied.skipped.append(f"entities: {outcome}")
            else:
                applied.changes.append(outcome)
                if outcome.action != "created":
                    entities = await self._load(ctx.store, ctx.scope)
        return applied

    # --- the changes (shared by apply and the tools) --------------------------------------------

    async def _add(
        self, ctx: StoreContext, entities: dict[str, Entity], op: AddEntityFact
    ) -> LearningChange | str:
        if looks_like_secret(f"{op.entity}\n{op.entity_type}\n{op.fact}"):
            return _SECRET
        # One line each: a name or fact holding line breaks must not pose as prompt structure.
        fact, entity_type = _line(op.fact), _line(op.entity_type)
        key = _key(op.entity)
        entity = entities.get(key)
        if entity is None and len(entities) >= self.max_entities:
            return (
                f"not saved: the organisation already has {self.max_entities} entities, the "
                "limit. Remove facts of an entity that no longer matters first."
            )
        if entity is not None:
            if any(_same(f.content, fact) for f in entity.facts):
                return f"not saved: {entity.name} already has this fact"
            if len(entity.facts) >= self.max_facts_per_entity:
                return (
                    f"not saved: {entity.name} already has {self.max_facts_per_entity} facts, "
                    "the limit. Update or remove one of them instead."
                )
        name = entity.name if entity is not None else _line(op.entity)
        row = Learning(
            namespace=NAMESPACE,
            kind=KIND,
            content=fact,
            user_id=None,
            metadata={"entity": name, "entity_type": entity_type, "run_id": ctx.run_id},
            created_at=ctx.now,
        )
        stored = await ctx.store.add_learning(ctx.scope.for_user(None), row)
        if entity is None:
            entity = entities[key] = Entity(key=key, name=name, entity_type=entity_type)
        entity.facts.insert(0, stored)
        return _change("created", stored)

    async def _fact(self, ctx: StoreContext, fact_id: str) -> Learning | str:
        try:
            check_id(fact_id, "id")
        except InvalidInputError:
            return "no entity fact has this id; use an id shown with the facts"
        row = await ctx.store.get_learning(ctx.scope.for_user(None), fact_id)
        if row is None or not _is_fact(row):
            return f"no entity fact has id {fact_id[:80]!r}; use an id shown with the facts"
        return row

    async def _update(self, ctx: StoreContext, fact_id: str, fact: str) -> LearningChange | str:
        row = await self._fact(ctx, fact_id)
        if isinstance(row, str):
            return row
        fact = _line(fact)
        if looks_like_secret(fact):
            return _SECRET
        if _same(row.content, fact):
            return "not changed: the fact already says this"
        tenant = ctx.scope.for_user(None)
        # Learnings have no update: replace the row under the same id, so ids the model was
        # shown stay valid and the fact's recency is the correction's.
        first_seen = row.metadata.get("first_seen") or row.created_at.isoformat()
        new = row.model_copy(
            update={
                "content": fact,
                "created_at": ctx.now,
                "metadata": {**row.metadata, "run_id": ctx.run_id, "first_seen": first_seen},
            }
        )
        try:
            await ctx.store.delete_learning(tenant, row.id)
            stored = await ctx.store.add_learning(tenant, new)
        except (NotFoundError, ConflictError):
            return "not changed: another run changed this fact at the same time"
        return _change("updated", stored)

    async def _remove(self, ctx: StoreContext, fact_id: str) -> LearningChange | str:
        row = await self._fact(ctx, fact_id)
        if isinstance(row, str):
            return row
        try:
            await ctx.store.delete_learning(ctx.scope.for_user(None), row.id)
        except NotFoundError:
            return "not removed: another run removed this fact first"
        return _change("deleted", row)

    # --- every mode ------------------------------------------------------------------------------

    async def context(self, ctx: StoreContext, query: str, budget_tokens: int) -> str:
        """The entities `query` names or is about, their newest facts first, under the budget."""
        if budget_tokens < 1 or not query.strip():
            return ""
        entities = await self._load(ctx.store, ctx.scope)
        relevant = [
            e for rel, e in self._ranked(list(entities.values()), query, ctx.now) if rel > 0
        ]
        if not relevant:
            return ""
        header = (
            "What is known about people, companies and projects in this conversation (shared "
            f"within your organisation; may be out of date). {DATA_NOTE}"
        )
        used = estimate_tokens(header)
        lines: list[str] = []
        for entity in relevant:
            title = f"- {entity.name} ({entity.entity_type}):"
            cost = estimate_tokens(title + "\n")
            facts: list[str] = []
            for fact in entity.facts:
                line = f"  - {' '.join(fact.content.split())}"
                if used + cost + estimate_tokens(line + "\n") > budget_tokens:
                    break
                cost += estimate_tokens(line + "\n")
                facts.append(line)
            if not facts:
                continue
            used += cost
            lines += [title, *facts]
        return "\n".join([header, *lines]) if lines else ""

    # --- agentic and propose modes ---------------------------------------------------------------

    def tools(self, store: Store, record: Recorder) -> Sequence[Tool[..., Any]]:
        """`save_entity_fact`, `search_entities`, `remove_entity_fact`, scoped to the run's
        tenant (a run without a user may use them: entities are the tenant's)."""

        async def save_entity_fact(
            ctx: RunContext[Any], entity: str, entity_type: str, fact: str
        ) -> ToolResult:
            """Save a lasting fact about a person, company, project or other named thing.
            Everyone in this organisation will see it: never save the user's own private details.

            Args:
                entity: The entity's name, e.g. "Acme Corp".
                entity_type: person, company, project, product, place, or another short word.
                fact: One fact about the entity, e.g. "Renews its contract every March".
            """
            try:
                op = AddEntityFact(entity=entity, entity_type=entity_type, fact=fact)
            except ValidationError as exc:
                first = exc.errors(include_url=False, include_input=False)[0]
                where = ".".join(str(x) for x in first["loc"]) or "argument"
                return error(f"Invalid {where}: {first['msg']}. Fix it and call again.")
            sctx = store_context(store, ctx)
            outcome = await self._add(sctx, await self._load(store, sctx.scope), op)
            if isinstance(outcome, str):
                return error(outcome[0].upper() + outcome[1:])
            record(ctx.run_id, outcome)
            return ToolResult(content={"saved": {"id": outcome.id, "entity": outcome.topics[0]}})

        async def search_entities(ctx: RunContext[Any], query: str = "") -> ToolResult:
            """What is known about people, companies and projects, most relevant first.

            Args:
                query: A name or a subject, e.g. "Acme" or "contract renewals"; empty for the
                    most recently updated.
            """
            sctx = store_context(store, ctx)
            entities = list((await self._load(store, sctx.scope)).values())
            if query.strip():
                ranked = self._ranked(entities, query[:2000], sctx.now)
                entities = [e for rel, e in ranked if rel > 0]
            views: list[dict[str, Any]] = []
            used = 0
            for entity in entities[:SEARCH_ENTITIES]:
                view = entity.view()
                used += len(str(view))
                if views and used > CURRENT_CHARS:
                    break
                views.append(view)
            return ToolResult(content={"entities": views})

        async def remove_entity_fact(ctx: RunContext[Any], id: str) -> ToolResult:
            """Remove a fact about an entity that is wrong or no longer true.

            Args:
                id: The fact's id, as `search_entities` returned it.
            """
            outcome = await self._remove(store_context(store, ctx), id)
            if isinstance(outcome, str):
                return error(outcome[0].upper() + outcome[1:])
            record(ctx.run_id, outcome)
            return ToolResult(content={"removed": id})

        return [Tool(save_entity_fact), Tool(search_entities), Tool(remove_entity_fact)]

    def describe_call(self, tool_name: str, args: dict[str, Any]) -> str:
        """What a person approving a proposed call reads."""
        if tool_name == "save_entity_fact":
            return (
                f"Save a fact about {args.get('entity')!s} ({args.get('entity_type')!s}), shared "
                f"with everyone in the organisation: {args.get('fact')!s}"
            )
        if tool_name == "remove_entity_fact":
            return f"Remove the shared entity fact {args.get('id')!s}"
        return super().describe_call(tool_name, args)
