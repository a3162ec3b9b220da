"""`CoveyRequestHandler`: the SDK's request handler, with `SubscribeToTask` served by any worker.

The SDK streams a task's events from the process that runs it (its in-memory
`ActiveTaskRegistry`); a `SubscribeToTask` reaching another worker — or this one after a
restart, or while the task waits for input that may arrive elsewhere — would get the task and
then wait forever for events no one sends here. So: a task whose run runs in this process is
streamed by the SDK, as before; any other is followed through the shared task store: the task
as it stands, then a status or artifact update whenever its stored snapshot changes (polled at
the runtime's `poll_interval`), until the task ends or comes to wait for input again.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable
from typing import Any, cast

import anyio
from a2a.server.agent_execution import AgentExecutor
from a2a.server.context import ServerCallContext
from a2a.server.request_handlers import DefaultRequestHandler
from a2a.server.tasks import TaskStore
from a2a.types.a2a_pb2 import (
    AgentCard,
    SubscribeToTaskRequest,
    Task,
    TaskArtifactUpdateEvent,
    TaskState,
    TaskStatusUpdateEvent,
)
from a2a.utils.errors import TaskNotFoundError, UnsupportedOperationError

__all__ = ["CoveyRequestHandler"]

_TERMINAL = frozenset(
    {
        TaskState.TASK_STATE_COMPLETED,
        TaskState.TASK_STATE_CANCELED,
        TaskState.TASK_STATE_FAILED,
        TaskState.TASK_STATE_REJECTED,
    }
)
_WAITING = frozenset({TaskState.TASK_STATE_INPUT_REQUIRED, TaskState.TASK_STATE_AUTH_REQUIRED})


class CoveyRequestHandler(DefaultRequestHandler):
    """`DefaultRequestHandler` whose `SubscribeToTask` works on every worker.

    Args:
        agent_executor, task_store, agent_card: As for `DefaultRequestHandler`.
        runs_here: Whether the task's run runs in this process (then the SDK streams it).
        poll_interval: Seconds between two reads of a task followed through the store.
    """

    def __init__(
        self,
        *,
        agent_executor: AgentExecutor,
        task_store: TaskStore,
        agent_card: AgentCard,
        runs_here: Callable[[str], bool],
        poll_interval: float,
    ) -> None:
        super().__init__(
            agent_executor=agent_executor, task_store=task_store, agent_card=agent_card
        )
        self._tasks = task_store
        self._runs_here = runs_here
        self._poll_interval = poll_interval

    async def on_subscribe_to_task(
        self, params: SubscribeToTaskRequest, context: ServerCallContext
    ) -> AsyncGenerator[Any, None]:
        """The task's events: from the SDK when it runs here, else from the store."""
        if self._runs_here(params.id):
            # The SDK's method is wrapped by an untyped decorator.
            streamed = cast(
                "AsyncGenerator[Any, None]",
                super().on_subscribe_to_task(params, context),  # pyright: ignore[reportUnknownMemberType]
            )
            async for event in streamed:
                yield event
            return
        task = await self._tasks.get(params.id, context)
        if task is None:
            raise TaskNotFoundError
        if task.status.state in _TERMINAL:
            raise UnsupportedOperationError(
                message=f"Task {params.id} is in terminal state: "
                f"{TaskState.Name(task.status.state)}"
            )
        yield task
        async for event in self._follow(task, context):
            yield event

    async def _follow(self, seen: Task, context: ServerCallContext) -> AsyncGenerator[Any, None]:
        # Once the task has moved on, coming to wait for input (again) ends the stream.
        moved = seen.status.state not in _WAITING
        while True:
            await anyio.sleep(self._poll_interval)
            now = await self._tasks.get(seen.id, context)
            if now is None:  # deleted
                return
            before = {a.artifact_id: a for a in seen.artifacts}
            for artifact in now.artifacts:
                if before.get(artifact.artifact_id) != artifact:
                    update = TaskArtifactUpdateEvent(
                        task_id=now.id, context_id=now.context_id, append=False
                    )
                    update.artifact.CopyFrom(artifact)
                    yield update
            if now.status != seen.status:
                status = TaskStatusUpdateEvent(task_id=now.id, context_id=now.context_id)
                status.status.CopyFrom(now.status)
                yield status
                state = now.status.state
                if state in _TERMINAL or (state in _WAITING and moved):
                    return
                moved = moved or state not in _WAITING
            seen = now
