"""`UserMemory`: the user's memories (short facts with topics), as a store of the machine.

The same rows, operations and checks as `MemoryManager` (`Memory` rows, `MemoryOperation`s
applied by `_apply.apply_operations`, the tools of `MemoryToolset`), so memories written by
either are one list, visible and editable at `/v1/memories`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, ClassVar, cast

from covey.learn._apply import apply_operations
from covey.learn._learner import report_of
from covey.learn._machine.base import Applied, LearningStore, Mode, Recorder, StoreContext
from covey.learn._machine.common import READ_ONLY
from covey.learn._operations import MemoryOperation, MemoryUpdate
from covey.learn._recall import VectorCache, rank, render, within_budget
from covey.learn._toolset import MemoryToolset
from covey.spec.context import RunContext
from covey.spec.embeddings import Embedder
from covey.spec.errors import ConfigurationError
from covey.spec.function_toolset import Tool
from covey.spec.learning import LearningChange
from covey.spec.store import MAX_PAGE_SIZE, Memory, Scope, Store
from covey.spec.tools import ToolResult

__all__ = ["UserMemory"]

_INSTRUCTIONS = (
    "Changes to the user's memories (short lasting facts about the user, one per memory, in the "
    'third person: "The user ..."), as operations: create (a new fact, with a few lowercase '
    "topics), update (a current memory by its id, corrected or extended), delete (a current "
    "memory by its id that is wrong or that the user asked to forget). Use only ids from the "
    "current memories; an empty list (or null) when nothing is worth remembering."
)


class UserMemory(LearningStore):
    """The user's memories.

    Args:
        mode: `always` (extracted after each run), `agentic` (the memory tools) or `propose`
            (the tools, each change confirmed by a person).
        embedder: Adds semantic similarity to recall.
        max_memories_per_user: New memories are refused past this many.
        max_operations_per_call: Operations applied from one extraction answer.
        half_life_days: How fast recency fades in recall.

    Raises:
        ConfigurationError: a limit is out of range.
    """

    kind: ClassVar[str] = "memory"

    def __init__(
        self,
        mode: Mode = "always",
        *,
        embedder: Embedder | None = None,
        max_memories_per_user: int = 200,
        max_operations_per_call: int = 10,
        half_life_days: float = 30.0,
    ) -> None:
        super().__init__(mode)
        if not 1 <= max_memories_per_user <= MAX_PAGE_SIZE:
            raise ConfigurationError(
                f"max_memories_per_user must be 1 to {MAX_PAGE_SIZE}, got {max_memories_per_user}"
            )
        if max_operations_per_call < 1 or half_life_days <= 0:
            raise ConfigurationError("max_operations_per_call and half_life_days must be positive")
        self.embedder = embedder
        self.max_memories_per_user = max_memories_per_user
        self.max_operations_per_call = max_operations_per_call
        self.half_life_days = half_life_days
        self._vectors = VectorCache()

    def __repr__(self) -> str:
        return f"UserMemory(mode={self.mode!r})"

    async def memories(self, store: Store, scope: Scope) -> list[Memory]:
        """The user's memories, most recently updated first."""
        page = await store.list_memories(scope, limit=self.max_memories_per_user)
        return page.items

    # --- always mode ---------------------------------------------------------------------------

    def extraction_field(self) -> tuple[Any, str]:
        """A list of memory operations."""
        return list[MemoryOperation], _INSTRUCTIONS

    async def current(self, ctx: StoreContext) -> str:
        """The memories with their ids."""
        current = await self.memories(ctx.store, ctx.scope)
        listing = [{"id": m.id, "memory": m.memory, "topics": m.topics} for m in current]
        return (
            f"Current memories ({len(current)} of at most {self.max_memories_per_user}): "
            + json.dumps(listing, ensure_ascii=False)
        )

    async def apply(self, ctx: StoreContext, value: Any) -> Applied:
        """Apply the operations, each checked on its own (ids this user owns, caps, secrets)."""
        applied = Applied()
        if not value:
            return applied
        operations: list[Any] = [
            op.model_dump() if hasattr(op, "model_dump") else op for op in value
        ]
        current = await self.memories(ctx.store, ctx.scope)
        update = MemoryUpdate(run_id=ctx.run_id)
        await apply_operations(
            ctx.store,
            ctx.scope,
            current,
            operations,
            ctx.run_id,
            update,
            max_memories=self.max_memories_per_user,
            max_operations=self.max_operations_per_call,
            source="learning",
        )
        report = report_of(update, ctx.scope.user_id)
        applied.changes.extend(report.changes)
        applied.skipped.extend(report.skipped)
        return applied

    # --- every mode ----------------------------------------------------------------------------

    async def context(self, ctx: StoreContext, query: str, budget_tokens: int) -> str:
        """The memories most relevant to `query` (keywords, recency, vectors with an embedder)."""
        memories = await self.memories(ctx.store, ctx.scope)
        if not memories:
            return ""
        ranked = await rank(
            query[:2000],
            memories,
            now=ctx.now,
            half_life_days=self.half_life_days,
            embedder=self.embedder,
            cache=self._vectors,
        )
        return render(within_budget([m for _, m in ranked], budget_tokens, 20))

    # --- agentic and propose modes -------------------------------------------------------------

    def tools(self, store: Store, record: Recorder) -> Sequence[Tool[..., Any]]:
        """`remember`, `update_memory`, `forget` and `recall_memories` (MemoryToolset's), each
        change recorded for the run's events."""
        inner = MemoryToolset(
            store,
            embedder=self.embedder,
            max_memories_per_user=self.max_memories_per_user,
            half_life_days=self.half_life_days,
        )
        kind = self.kind

        def note(ctx: RunContext[Any], result: ToolResult, key: str, action: Any) -> ToolResult:
            raw: Any = result.content
            if result.is_error or not isinstance(raw, dict):
                return result
            content = cast("dict[str, Any]", raw)
            item: Any = content.get(key)
            if isinstance(item, dict):
                view = cast("dict[str, Any]", item)
                record(
                    ctx.run_id,
                    LearningChange(
                        kind=kind,
                        action=action,
                        id=str(view.get("id")),
                        content=str(view.get("memory")),
                        topics=[str(t) for t in cast("list[Any]", view.get("topics") or [])],
                        user_id=ctx.user_id,
                    ),
                )
            elif isinstance(item, str):
                record(
                    ctx.run_id,
                    LearningChange(kind=kind, action=action, id=item, user_id=ctx.user_id),
                )
            return result

        async def remember(
            ctx: RunContext[Any], memory: str, topics: list[str] | None = None
        ) -> ToolResult:
            """Save a lasting fact about the user for future conversations.

            Args:
                memory: One short fact in the third person, e.g. "The user is vegetarian".
                topics: A few lowercase topics, e.g. ["food", "diet"].
            """
            return note(ctx, await inner.remember(ctx, memory, topics), "saved", "created")

        async def update_memory(
            ctx: RunContext[Any], id: str, memory: str, topics: list[str] | None = None
        ) -> ToolResult:
            """Correct or extend one of the user's memories.

            Args:
                id: The memory's id, as `recall_memories` returned it.
                memory: The new text of the memory.
                topics: New topics; the old ones are kept when omitted.
            """
            result = await inner.update_memory(ctx, id, memory, topics)
            return note(ctx, result, "updated", "updated")

        async def forget(ctx: RunContext[Any], id: str) -> ToolResult:
            """Delete one of the user's memories: it is wrong, or the user asked you to forget it.

            Args:
                id: The memory's id, as `recall_memories` returned it.
            """
            return note(ctx, await inner.forget(ctx, id), "forgotten", "deleted")

        async def recall_memories(ctx: RunContext[Any], query: str = "") -> ToolResult:
            """What you remember about the user, most relevant to `query` first.

            Args:
                query: What you want to know, e.g. "food preferences"; empty for the most recent.
            """
            return await inner.recall_memories(ctx, query)

        return [
            Tool(remember),
            Tool(update_memory),
            Tool(forget),
            Tool(recall_memories, metadata=READ_ONLY),
        ]

    def describe_call(self, tool_name: str, args: dict[str, Any]) -> str:
        """What a person approving a memory change is shown."""
        memory = str(args.get("memory", ""))[:300]
        memory_id = str(args.get("id", ""))[:80]
        if tool_name == "remember":
            return f"Remember about the user: {memory!r}"
        if tool_name == "update_memory":
            return f"Change the user's memory {memory_id} to: {memory!r}"
        if tool_name == "forget":
            return f"Forget the user's memory {memory_id}"
        return super().describe_call(tool_name, args)
