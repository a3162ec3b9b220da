"""Test-only helpers for the learning stores: their contexts, and a tiny `Learner` wrapping one
store so a real `Agent` runs it (the `LearningMachine` does this for real)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from covey.learn._machine.base import LearningStore, StoreContext
from covey.spec.context import RunContext
from covey.spec.function_toolset import FunctionToolset
from covey.spec.learning import LearningChange, LearningRun, LearnReport
from covey.spec.runs import RunResult
from covey.spec.store import Scope, Store
from covey.spec.tools import Toolset


def sctx(
    store: Store,
    tenant: str = "acme",
    user: str | None = "ann",
    *,
    run_id: str = "run-1",
    transcript: str = "",
) -> StoreContext:
    return StoreContext(
        scope=Scope(tenant, user), store=store, run_id=run_id, transcript=transcript
    )


def rctx(
    tenant: str | None = "acme", user: str | None = "ann", run_id: str = "run-1"
) -> RunContext[Any]:
    return RunContext(run_id=run_id, user_id=user, tenant_id=tenant)


class Recorded:
    """A `Recorder` that keeps what the tools reported."""

    def __init__(self) -> None:
        self.changes: list[tuple[str, LearningChange]] = []

    def __call__(self, run_id: str, change: LearningChange) -> None:
        self.changes.append((run_id, change))


class StoreLearner:
    """One store as a `Learner`: its context in the system prompt, its tools for the model, and
    the changes its tools made reported after the run (as the machine does)."""

    background = False

    def __init__(self, learning_store: LearningStore, store: Store, *, tokens: int = 600) -> None:
        self.learning_store = learning_store
        self.store = store
        self.tokens = tokens
        self.recorded = Recorded()

    @property
    def name(self) -> str:
        return "store"

    def toolsets(self) -> Sequence[Toolset]:
        if self.learning_store.mode == "always":
            return ()
        tools = self.learning_store.tools(self.store, self.recorded)
        return (FunctionToolset(list(tools), id="learning"),)

    def _ctx(self, run: LearningRun) -> StoreContext:
        return StoreContext(scope=run.scope, store=self.store, run_id=run.run_id)

    async def context(self, run: LearningRun, query: str) -> str:
        if self.learning_store.needs_user and run.scope.user_id is None:
            return ""
        return await self.learning_store.context(self._ctx(run), query, self.tokens)

    async def learn(self, run: LearningRun, result: RunResult[Any]) -> LearnReport:
        mine = [c for r, c in self.recorded.changes if r == run.run_id]
        return LearnReport(changes=mine)
