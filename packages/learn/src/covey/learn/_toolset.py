"""`MemoryToolset`: agentic mode, where the agent keeps the user's memories with its own tools.

Every call is scoped to the run's tenant and user (`ctx.tenant_id`, `ctx.user_id`); a run with
no user gets an error result, never a tenant-wide scope. Ids the model passes are looked up
under that scope, so naming another user's memory finds nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import ValidationError

from covey.learn._machine.common import error, invalid, tool_scope
from covey.learn._operations import CreateMemory, UpdateMemory
from covey.learn._recall import VectorCache, rank, within_budget
from covey.learn._secrets import looks_like_secret
from covey.spec.context import RunContext
from covey.spec.embeddings import Embedder
from covey.spec.errors import ConfigurationError, InvalidInputError
from covey.spec.function_toolset import FunctionToolset, Tool
from covey.spec.store import MAX_PAGE_SIZE, Memory, Store, check_id, utc_now
from covey.spec.tools import ToolDefinition, ToolResult, Toolset

__all__ = ["MemoryToolset"]

_NO_USER = (
    "Memories are kept per user, and this run has no user: nothing was read or saved. "
    "Answer without memories."
)


_SECRET = (
    "Not saved: the memory looks like a secret (a key, a password or a card number). "
    "Never store credentials; tell the user to keep them elsewhere."
)


def _view(memory: Memory) -> dict[str, Any]:
    return {"id": memory.id, "memory": memory.memory, "topics": memory.topics}


class MemoryToolset(Toolset):
    """`remember`, `update_memory`, `forget` and `recall_memories` over the run user's memories.

    Args:
        store: Where the memories live (the agent's store, usually).
        embedder: Adds semantic similarity to `recall_memories`.
        max_memories_per_user: `remember` is refused (an error result) past this many.
        recall_limit: The most memories `recall_memories` returns.
        recall_budget_tokens: The text budget of one `recall_memories` answer.
        id: The toolset's id (a prefix when tool names clash).

    Raises:
        ConfigurationError: a limit is not positive or above one store page.
    """

    def __init__(
        self,
        store: Store,
        *,
        embedder: Embedder | None = None,
        max_memories_per_user: int = 200,
        recall_limit: int = 10,
        recall_budget_tokens: int = 500,
        half_life_days: float = 30.0,
        id: str | None = "memory",
    ) -> None:
        if not 1 <= max_memories_per_user <= MAX_PAGE_SIZE:
            raise ConfigurationError(
                f"max_memories_per_user must be 1 to {MAX_PAGE_SIZE}, got {max_memories_per_user}"
            )
        if recall_limit < 1 or recall_budget_tokens < 1 or half_life_days <= 0:
            raise ConfigurationError(
                "recall_limit, recall_budget_tokens and half_life_days must be positive"
            )
        self.id = id
        self.store = store
        self.embedder = embedder
        self.max_memories_per_user = max_memories_per_user
        self.recall_limit = recall_limit
        self.recall_budget_tokens = recall_budget_tokens
        self.half_life_days = half_life_days
        self._vectors = VectorCache()
        self._tools = FunctionToolset(
            [
                Tool(self.remember),
                Tool(self.update_memory),
                Tool(self.forget),
                Tool(self.recall_memories),
            ],
            id=id,
        )

    def __repr__(self) -> str:
        return f"MemoryToolset(store={type(self.store).__name__}, id={self.id!r})"

    async def list_tools(self, ctx: RunContext[Any]) -> list[ToolDefinition]:
        """The four memory tools."""
        return await self._tools.list_tools(ctx)

    async def call_tool(self, name: str, args: dict[str, Any], ctx: RunContext[Any]) -> ToolResult:
        """Run one memory tool for the run's user."""
        return await self._tools.call_tool(name, args, ctx)

    # --- the tools (their docstrings are what the model reads) -------------------------------

    async def remember(
        self, ctx: RunContext[Any], memory: str, topics: list[str] | None = None
    ) -> ToolResult:
        """Save a lasting fact about the user for future conversations.

        Args:
            memory: One short fact in the third person, e.g. "The user is vegetarian".
            topics: A few lowercase topics, e.g. ["food", "diet"].
        """
        scope = tool_scope(ctx)
        if scope is None:
            return error(_NO_USER)
        try:
            op = CreateMemory(memory=memory, topics=topics or [])
        except ValidationError as exc:
            return invalid(exc)
        if looks_like_secret(op.memory):
            return error(_SECRET)
        page = await self.store.list_memories(scope, limit=self.max_memories_per_user)
        if len(page.items) >= self.max_memories_per_user:
            return error(
                f"The user already has {self.max_memories_per_user} memories, the limit. "
                "Update or forget one first."
            )
        stored = await self.store.add_memory(
            scope,
            Memory(
                user_id=scope.user_id or "",
                memory=op.memory,
                topics=list(dict.fromkeys(op.topics)),
                metadata={"run_id": ctx.run_id, "history": [ctx.run_id], "source": "agent"},
            ),
        )
        return ToolResult(content={"saved": _view(stored)})

    async def update_memory(
        self, ctx: RunContext[Any], id: str, memory: str, topics: list[str] | None = None
    ) -> ToolResult:
        """Correct or extend one of the user's memories.

        Args:
            id: The memory's id, as `recall_memories` returned it.
            memory: The new text of the memory.
            topics: New topics; the old ones are kept when omitted.
        """
        scope = tool_scope(ctx)
        if scope is None:
            return error(_NO_USER)
        try:
            op = UpdateMemory(id=id, memory=memory, topics=topics)
            check_id(op.id, "id")
        except ValidationError as exc:
            return invalid(exc)
        except InvalidInputError as exc:
            return error(f"{exc}. Use an id that recall_memories returned.")
        if looks_like_secret(op.memory):
            return error(_SECRET)
        existing = await self.store.get_memory(scope, op.id)
        if existing is None:
            return error(f"No memory of this user has id {op.id[:80]!r}. Call recall_memories.")
        history = [*existing.metadata.get("history", []), ctx.run_id][-20:]
        stored = await self.store.update_memory(
            scope,
            existing.model_copy(
                update={
                    "memory": op.memory,
                    "topics": list(dict.fromkeys(op.topics))
                    if op.topics is not None
                    else existing.topics,
                    "metadata": {**existing.metadata, "run_id": ctx.run_id, "history": history},
                }
            ),
        )
        return ToolResult(content={"updated": _view(stored)})

    async def forget(self, ctx: RunContext[Any], id: str) -> ToolResult:
        """Delete one of the user's memories: it is wrong, or the user asked you to forget it.

        Args:
            id: The memory's id, as `recall_memories` returned it.
        """
        scope = tool_scope(ctx)
        if scope is None:
            return error(_NO_USER)
        try:
            check_id(id, "id")
        except InvalidInputError as exc:
            return error(f"{exc}. Use an id that recall_memories returned.")
        if await self.store.get_memory(scope, id) is None:
            return error(f"No memory of this user has id {id[:80]!r}. Call recall_memories.")
        await self.store.delete_memory(scope, id)
        return ToolResult(content={"forgotten": id})

    async def recall_memories(self, ctx: RunContext[Any], query: str = "") -> ToolResult:
        """What you remember about the user, most relevant to `query` first.

        Args:
            query: What you want to know, e.g. "food preferences"; empty for the most recent.
        """
        scope = tool_scope(ctx)
        if scope is None:
            return error(_NO_USER)
        page = await self.store.list_memories(scope, limit=self.max_memories_per_user)
        now: datetime = utc_now()
        ranked = await rank(
            query[:2000],
            page.items,
            now=now,
            half_life_days=self.half_life_days,
            embedder=self.embedder,
            cache=self._vectors,
        )
        kept = within_budget([m for _, m in ranked], self.recall_budget_tokens, self.recall_limit)
        return ToolResult(content={"memories": [_view(m) for m in kept]})
