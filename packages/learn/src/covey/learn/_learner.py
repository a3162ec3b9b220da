"""`MemoryManager` as a `covey.spec.learning.Learner`: what `Agent(learning=manager)` calls.

`always` mode: after each completed run with a user, the memory model reads the run's messages
(`update`), and its changes become `learning.changed` events of that run. `agentic` mode: the
agent gets `MemoryToolset` and nothing runs after the run. Either way the user's most relevant
memories go into the system prompt (`context_tokens` of them; 0 for none).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from covey.spec.learning import LearningChange, LearnReport

if TYPE_CHECKING:
    from covey.learn._manager import MemoryManager
    from covey.learn._operations import MemoryUpdate
    from covey.spec.learning import LearningRun
    from covey.spec.runs import RunResult

logger = logging.getLogger("covey.learn")


def bound(manager: MemoryManager, run: LearningRun) -> MemoryManager | None:
    """The manager on its own store, else on the run's (`None` when neither has one)."""
    if manager.has_store:
        return manager
    if run.store is None:
        return None
    return manager.with_store(run.store)


async def memory_context(manager: MemoryManager, run: LearningRun, query: str) -> str:
    """The user's memories most relevant to `query`, rendered ("" without a user or a store)."""
    if manager.context_tokens == 0 or run.scope.user_id is None:
        return ""
    found_manager = bound(manager, run)
    if found_manager is None:
        return ""
    manager = found_manager
    try:
        found = await manager.recall(run.scope, query, budget_tokens=manager.context_tokens)
    except Exception as exc:
        logger.warning(
            "memory recall failed", extra={"run_id": run.run_id, "error": type(exc).__name__}
        )
        return ""
    return manager.render(found)


async def memory_learn(
    manager: MemoryManager, run: LearningRun, result: RunResult[Any]
) -> LearnReport:
    """`update` on the run's messages, as a report of changes (nothing for a run without a
    user, or in agentic mode)."""
    if manager.mode != "always" or run.scope.user_id is None or not result.messages:
        return LearnReport()
    found_manager = bound(manager, run)
    if found_manager is None:
        return LearnReport(error="NoStore: the MemoryManager has no store= and the run has none")
    manager = found_manager
    update = await manager.update(run.scope, result.messages, run_id=run.run_id)
    return report_of(update, run.scope.user_id)


def report_of(update: MemoryUpdate, user_id: str | None) -> LearnReport:
    """A `MemoryUpdate` as the engine's `LearnReport`."""
    changes = [
        LearningChange(
            kind="memory",
            action="created",
            id=m.id,
            content=m.memory,
            topics=list(m.topics),
            user_id=user_id,
        )
        for m in update.created
    ]
    changes += [
        LearningChange(
            kind="memory",
            action="updated",
            id=m.id,
            content=m.memory,
            topics=list(m.topics),
            user_id=user_id,
        )
        for m in update.updated
    ]
    changes += [
        LearningChange(kind="memory", action="deleted", id=memory_id, user_id=user_id)
        for memory_id in update.deleted
    ]
    return LearnReport(
        changes=changes,
        usage=update.usage,
        skipped=[s.reason for s in update.skipped],
        error=update.error,
    )
