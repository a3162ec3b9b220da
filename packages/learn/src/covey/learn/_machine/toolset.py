"""`LearningToolset`: the tools of a machine's `agentic` and `propose` stores, as one toolset.

A propose-mode tool that writes raises `ApprovalRequired` (with the store's description of the
call) until the run loop calls it again for a call a person approved (`ctx.tool_call_approved`):
the run pauses with an ordinary approval requirement, a yes on resume runs the call and keeps
the change, a no never runs it. Tools marked read-only (`metadata={"read_only": True}`) run at
once, and so does any call of a run without a user to a store that needs one (it only returns
an error result, so there is nothing to approve).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from covey.learn._machine.base import LearningStore, Recorder
from covey.learn._machine.common import SECRET
from covey.learn._secrets import looks_like_secret
from covey.spec.context import RunContext
from covey.spec.errors import ApprovalRequired, ConfigurationError
from covey.spec.function_toolset import FunctionToolset
from covey.spec.store import Store
from covey.spec.tools import ToolDefinition, ToolResult, Toolset

__all__ = ["LearningToolset"]


class LearningToolset(Toolset):
    """The tools of `stores` (each in agentic or propose mode), id `learning`.

    Raises:
        ConfigurationError: two stores have a tool of the same name.
    """

    def __init__(
        self,
        stores: Sequence[LearningStore],
        store: Store,
        record: Recorder,
        *,
        id: str | None = "learning",
    ) -> None:
        self.id = id
        self._owners: dict[str, LearningStore] = {}
        self._read_only: set[str] = set()
        self._tools = FunctionToolset(id=id)
        for owner in stores:
            for tool in owner.tools(store, record):
                if tool.name in self._owners:
                    raise ConfigurationError(f"Two learning stores have a tool named {tool.name!r}")
                self._tools.add(tool)
                self._owners[tool.name] = owner
                if tool.definition.metadata.get("read_only"):
                    self._read_only.add(tool.name)

    def __repr__(self) -> str:
        return f"LearningToolset(tools={sorted(self._owners)})"

    async def list_tools(self, ctx: RunContext[Any]) -> list[ToolDefinition]:
        """Every store's tools."""
        return await self._tools.list_tools(ctx)

    async def call_tool(self, name: str, args: dict[str, Any], ctx: RunContext[Any]) -> ToolResult:
        """Run one tool; a propose-mode write waits for a person's approval first."""
        owner = self._owners.get(name)
        if (
            owner is not None
            and owner.mode == "propose"
            and name not in self._read_only
            and not ctx.tool_call_approved
            and not (owner.needs_user and ctx.user_id is None)
        ):
            if looks_like_secret(json.dumps(args, default=str)):
                # Never put a credential in front of a person (or into the run's record).
                return ToolResult(content=SECRET, is_error=True)
            raise ApprovalRequired(owner.describe_call(name, args))
        return await self._tools.call_tool(name, args, ctx)
