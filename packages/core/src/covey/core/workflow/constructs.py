"""How the constructs run their steps: in order, concurrently, on a condition, in a loop, or as
a selector routes. A decision (a condition, a route, a loop test) is kept, by path, on the next
step's record, so a resumed run takes the branches it took before."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import anyio
from anyio.streams.memory import MemoryObjectSendStream

from covey.core.run.state import Cancelled
from covey.core.workflow.executor import Frame, Out, Paused
from covey.core.workflow.steps import Condition, Loop, Router
from covey.spec import events as ev
from covey.spec.errors import ConfigurationError

if TYPE_CHECKING:
    from covey.core.workflow.executor import WorkflowRun
    from covey.core.workflow.plan import Node

__all__ = ["condition", "group", "loop", "parallel", "router"]


async def group(
    run: WorkflowRun, frame: Frame, previous: Any, out: Out, iteration: int | None
) -> AsyncIterator[ev.BaseEvent]:
    """`Steps`: one after another."""
    inner = Out()
    async for event in run.sequence(
        frame.node.children, frame, frame.path + ".", previous, inner, iteration
    ):
        yield event
    out.value = inner.value
    for event in run.complete(frame, inner.value):
        yield event


async def parallel(
    run: WorkflowRun, frame: Frame, previous: Any, out: Out, iteration: int | None
) -> AsyncIterator[ev.BaseEvent]:
    """`Parallel`: every branch at once; their events interleave as they happen."""
    children = frame.node.children
    outs = {child.name: Out() for child in children}
    problems: list[BaseException] = []
    send, receive = anyio.create_memory_object_stream[ev.BaseEvent](math.inf)

    async def branch(child: Node, sink: MemoryObjectSendStream[ev.BaseEvent]) -> None:
        with sink:
            child_frame = Frame(child, f"{frame.path}.{child.segment}", frame)
            try:
                async for event in run.node(child_frame, previous, outs[child.name], iteration):
                    sink.send_nowait(event)  # no checkpoint: events keep the order of their seq
            except (Paused, Cancelled, Exception) as exc:
                problems.append(exc)

    # Branches never raise (their failures are collected), so the task group is only ever
    # cancelled from outside; the consumer's code between yields is never cancelled by it.
    async with anyio.create_task_group() as tasks:
        with send:
            for child in children:
                tasks.start_soon(branch, child, send.clone())
        with receive:
            async for event in receive:
                yield event
    # A failure fails the group, else a cancel cancels it, else a pause pauses it.
    failures = [p for p in problems if not isinstance(p, Cancelled | Paused)]
    if failures:
        raise failures[0]
    for kind in (Cancelled, Paused):
        for problem in problems:
            if isinstance(problem, kind):
                raise problem
    value = {name: found.value for name, found in outs.items()}
    out.value = value
    for event in run.complete(frame, value):
        yield event


async def condition(
    run: WorkflowRun, frame: Frame, previous: Any, out: Out, iteration: int | None
) -> AsyncIterator[ev.BaseEvent]:
    """`Condition`: its steps when the predicate holds, else skipped."""
    source = frame.node.source
    assert isinstance(source, Condition)
    go = run.decisions.get(frame.path)
    if go is None:
        for event in run.open_frame(frame):
            yield event
        go = bool(
            await run.decide(source.predicate, run.step_input(frame, previous, iteration, {}))
        )
        run.decisions[frame.path] = go
    if not go:
        for event in run.open_frame(frame):
            yield event
        yield run.end(frame, ev.StepSkipped)
        out.value = previous
        return
    async for event in group(run, frame, previous, out, iteration):
        yield event


async def loop(
    run: WorkflowRun, frame: Frame, previous: Any, out: Out, iteration: int | None
) -> AsyncIterator[ev.BaseEvent]:
    """`Loop`: its steps again until the test holds or the iterations run out."""
    source = frame.node.source
    assert isinstance(source, Loop)
    value = previous
    for i in range(source.max_iterations):
        inner = Out()
        prefix = f"{frame.path}[{i}]."
        async for event in run.sequence(frame.node.children, frame, prefix, value, inner, i):
            yield event
        value = inner.value
        if source.until is None:
            continue
        key = f"{frame.path}[{i}]"
        stop = run.decisions.get(key)
        if stop is None:
            for event in run.open_frame(frame):
                yield event
            stop = bool(await run.decide(source.until, run.step_input(frame, value, i, {})))
            run.decisions[key] = stop
        if stop:
            break
    out.value = value
    for event in run.complete(frame, value):
        yield event


async def router(
    run: WorkflowRun, frame: Frame, previous: Any, out: Out, iteration: int | None
) -> AsyncIterator[ev.BaseEvent]:
    """`Router`: the choices the selector picks, in order."""
    source = frame.node.source
    assert isinstance(source, Router)
    names = run.decisions.get(frame.path)
    if names is None:
        for event in run.open_frame(frame):
            yield event
        picked = await run.decide(source.selector, run.step_input(frame, previous, iteration, {}))
        names = _choose(frame.node, picked)
        run.decisions[frame.path] = names
    by_name = {child.name: child for child in frame.node.children}
    chosen = tuple(by_name[name] for name in names)
    inner = Out()
    async for event in run.sequence(chosen, frame, frame.path + ".", previous, inner, iteration):
        yield event
    out.value = inner.value
    for event in run.complete(frame, inner.value):
        yield event


def _choose(node: Node, picked: Any) -> list[str]:
    items: list[Any] = list(picked) if isinstance(picked, list | tuple) else [picked]  # pyright: ignore[reportUnknownArgumentType]
    names: list[str] = []
    for item in items:
        match = next(
            (
                child
                for child in node.children
                if item == child.name or item is child.source or item is child.target
            ),
            None,
        )
        if match is None:
            choices = ", ".join(repr(c.name) for c in node.children)
            raise ConfigurationError(
                f"Router {node.name!r} picked {item!r}, which is none of its choices ({choices})"
            )
        names.append(match.name)
    return names
