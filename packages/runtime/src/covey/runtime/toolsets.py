"""Keeping the served agents' toolsets open for the life of the process.

A run enters every toolset it uses and leaves it when it ends; a toolset counts its entries and
connects on the first. Served alone, each run would then start and stop an MCP server process
(or open and close a connection). The runtime enters every toolset of the agents it serves, and
of their team members, once at startup and leaves them at shutdown, so runs of a worker share
one connection per toolset. A toolset that cannot be entered at startup (a server that is down)
is logged and left to the runs, which enter it themselves and see its tools fail as tool errors;
a tool reference that names a plugin that is not installed stops the startup with the install
line, as it would fail every run.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, Iterable
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any, cast

from covey.spec.tools import Toolset

__all__ = ["held_toolsets", "served_toolsets"]

log = logging.getLogger("covey.runtime")


def served_toolsets(items: Iterable[Any]) -> list[Toolset]:
    """Every toolset of `items` (agents, and the members of teams, at any depth), once each."""
    found: dict[int, Toolset] = {}

    def visit(item: Any, depth: int) -> None:
        if depth > 16:
            return
        toolsets = getattr(item, "toolsets", None)
        if callable(toolsets):
            listed = cast("Iterable[object]", toolsets())
            for toolset in listed:
                if isinstance(toolset, Toolset):
                    found.setdefault(id(toolset), toolset)
        for member in getattr(item, "members", None) or ():
            visit(member, depth + 1)

    for item in items:
        visit(item, 0)
    return list(found.values())


@asynccontextmanager
async def held_toolsets(items: Iterable[Any]) -> AsyncGenerator[list[Toolset]]:
    """Enter every toolset of `items` for as long as the block runs; yields those entered."""
    async with AsyncExitStack() as stack:
        entered: list[Toolset] = []
        for toolset in served_toolsets(items):
            try:
                await stack.enter_async_context(toolset)
            except Exception as exc:  # a server that is down must not stop the runtime
                log.warning(
                    "toolset %s could not be opened at startup (%s: %s); runs will try again",
                    toolset.id or type(toolset).__name__,
                    type(exc).__name__,
                    exc,
                )
                continue
            entered.append(toolset)
        if entered:
            log.info(
                "holding %d toolset(s) open for all runs: %s",
                len(entered),
                sorted(t.id or type(t).__name__ for t in entered),
            )
        yield entered
