"""Learning after a run: `Learner.learn` in the foreground (before the run's final event) or
in the background (after it), its changes as `learning.*` events of the run that caused them.

Background learning runs in tasks this module keeps until they end, so a finished run's answer
is never delayed by it. `wait_for_learning()` waits for them: the runtime calls it at shutdown,
`run_sync` before it returns, and a script should await it before its event loop closes (or use
foreground learners).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import anyio

from covey.spec import events as ev
from covey.spec.learning import LearnReport

if TYPE_CHECKING:
    from covey.spec import RunContext, RunResult
    from covey.spec.learning import Learner, LearningRun

__all__ = [
    "in_asyncio",
    "learning_context",
    "pending_learning",
    "run_learners",
    "split_learners",
    "start_background_learning",
    "wait_for_learning",
]

logger = logging.getLogger("covey.learning")

_PENDING: set[asyncio.Task[None]] = set()


def in_asyncio() -> bool:
    """Whether background learning can start here (it needs an asyncio event loop)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def split_learners(learners: Sequence[Learner]) -> tuple[list[Learner], list[Learner]]:
    """The learners to run before the final event and those for the background (all of them
    before it outside asyncio, where background learning cannot start)."""
    background_ok = in_asyncio()
    foreground = [x for x in learners if not (x.background and background_ok)]
    return foreground, [x for x in learners if x not in foreground]


def pending_learning() -> int:
    """Background learning tasks of this process that have not finished."""
    return sum(1 for task in _PENDING if not task.done())


async def wait_for_learning(within: float | None = None) -> int:
    """Wait until the background learning of this event loop is done, at most `within` seconds.

    Only tasks of the running loop are waited for: a server running in a thread of its own
    (each with its own loop) drains its own learning, not another loop's.

    Returns:
        How many learning tasks were still running after `within` seconds (they are cancelled, each
        leaving a `learning.failed` event saying so); 0 when all finished.
    """
    loop = asyncio.get_running_loop()
    tasks = [task for task in _PENDING if not task.done() and task.get_loop() is loop]
    if not tasks:
        return 0
    _, running = await asyncio.wait(tasks, timeout=within)
    for task in running:
        task.cancel()
    if running:
        await asyncio.wait(running)
    return len(running)


async def learning_context(
    learners: Sequence[Learner], run: LearningRun, ctx: RunContext[Any], query: str
) -> str:
    """What the learners put into the system prompt for `query` ("" for nothing).

    A learner whose `context` raises is logged and left out: the run goes on without it.
    """
    sections: list[str] = []
    for learner in learners:
        try:
            section = await learner.context(run, query)
        except Exception as exc:
            logger.warning(
                "learner context failed",
                extra={"run_id": ctx.run_id, "learner": learner.name, "error": type(exc).__name__},
            )
            continue
        if section:
            sections.append(section)
    return "\n\n".join(sections)


Emit = Callable[..., ev.BaseEvent]


async def run_learners(
    learners: Sequence[Learner],
    run: LearningRun,
    result: RunResult[Any],
    emit: Emit,
    events: list[ev.BaseEvent] | None = None,
) -> list[ev.BaseEvent]:
    """Run each learner on `result`, adding the `learning.*` events `emit` built to `events`
    (as they happen, so a cancelled caller still has them) and returning them.

    Nothing a learner does (raising included) fails the run: a failure is a
    `learning.failed` event.
    """
    if events is None:
        events = []
    for learner in learners:
        name = learner.name
        try:
            report = await learner.learn(run, result)
            if not isinstance(report, LearnReport):  # pyright: ignore[reportUnnecessaryIsInstance]
                raise TypeError(f"learn() returned {type(report).__name__}, not a LearnReport")
        except anyio.get_cancelled_exc_class():
            events.append(emit(ev.LearningFailed, learner=name, error="Cancelled"))
            raise
        except Exception as exc:
            logger.warning(
                "learner failed",
                extra={"run_id": run.run_id, "learner": name, "error": type(exc).__name__},
            )
            events.append(emit(ev.LearningFailed, learner=name, error=type(exc).__name__))
            continue
        for change in report.changes:
            events.append(emit(ev.LearningChanged, learner=name, change=change))
        if report.error is not None:
            events.append(
                emit(
                    ev.LearningFailed,
                    learner=name,
                    error=report.error,
                    usage=report.usage,
                    changes=len(report.changes),
                )
            )
        else:
            events.append(
                emit(
                    ev.LearningCompleted,
                    learner=name,
                    usage=report.usage,
                    changes=len(report.changes),
                    skipped=list(report.skipped),
                )
            )
    return events


def start_background_learning(
    learners: Sequence[Learner], run: LearningRun, result: RunResult[Any], last_seq: int
) -> asyncio.Task[None] | None:
    """Learn from `result` in a task of its own; its events continue the run's log after
    `last_seq` (the final event's). `None` outside asyncio: the caller learns in the foreground.
    """
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return None
    seq = last_seq
    agent_name = run.agent_name
    parent_run_id = run.parent_run_id

    def emit(cls: type[ev.BaseEvent], **fields: Any) -> ev.BaseEvent:
        nonlocal seq
        seq += 1
        return cls.model_construct(
            run_id=run.run_id,
            parent_run_id=parent_run_id,
            seq=seq,
            time=datetime.now(UTC),
            agent_name=agent_name,
            **fields,
        )

    async def learn() -> None:
        events: list[ev.BaseEvent] = []
        try:
            await run_learners(learners, run, result, emit, events)
        finally:
            with anyio.CancelScope(shield=True):
                await _keep(run, events)

    task = loop.create_task(learn(), name=f"covey-learning-{run.run_id}")
    _PENDING.add(task)
    task.add_done_callback(_PENDING.discard)
    return task


async def _keep(run: LearningRun, events: Sequence[ev.BaseEvent]) -> None:
    from covey.core.observe import notify

    for event in events:
        notify(event, run.scope)
    if run.store is None or not events:
        return
    try:
        await run.store.append_events(run.scope, run.run_id, events)
    except Exception as exc:
        logger.warning(
            "learning events not stored",
            extra={"run_id": run.run_id, "error": type(exc).__name__},
        )
