"""Learning from workflow runs: `Workflow(learning=...)` learners see each completed run.

A workflow has no conversation of its own (its steps' agents have theirs, and their own
`learning=`), so its learners are shown the run as one exchange: the input as the user's turn,
the final output as the answer. They learn with the engine's rules (`covey.core.learning`):
foreground learners before the final event, background ones after it, every change a
`learning.*` event of the workflow run. There is no system prompt to put their `context` into
and no model to give their `toolsets()` to: a workflow's learners only learn.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from pydantic_core import to_jsonable_python

from covey.spec import ModelRequest, ModelResponse, RunResult, RunStatus, TextPart, UserPart
from covey.spec import events as ev
from covey.spec.learning import LearningRun

if TYPE_CHECKING:
    from covey.spec.learning import Learner
    from covey.spec.store import Scope, Store

__all__ = ["exchange", "learn_after", "start_after"]

_MAX_TEXT = 20_000
"""Characters of the input and of the output shown to learners (a workflow's output can be big)."""


def _text(value: Any) -> str:
    if isinstance(value, str):
        text = value
    else:
        from covey.core.instructions import input_text

        try:
            text = input_text(value)  # a list of user content parts
        except (AttributeError, TypeError):
            text = ""
        if not text:
            text = json.dumps(to_jsonable_python(value, fallback=repr), ensure_ascii=False)
    return text[:_MAX_TEXT]


def exchange(input: Any, output: Any) -> list[ModelRequest | ModelResponse]:
    """A workflow run as the exchange its learners read: input asked, final output answered."""
    return [
        ModelRequest(parts=[UserPart(content=_text(input))]),
        ModelResponse(parts=[TextPart(content=_text(output))]),
    ]


def learning_run(
    *,
    scope: Scope,
    run_id: str,
    session_id: str | None,
    name: str,
    parent_run_id: str | None,
    store: Store | None,
) -> LearningRun:
    """The workflow run as its learners see it."""
    return LearningRun(
        scope=scope,
        run_id=run_id,
        session_id=session_id,
        agent_name=name,
        parent_run_id=parent_run_id,
        store=store,
    )


async def learn_after(
    learners: Sequence[Learner],
    run: LearningRun,
    result: RunResult[Any],
    input: Any,
    emit: Callable[..., ev.BaseEvent],
) -> tuple[list[ev.BaseEvent], list[Learner], RunResult[Any]]:
    """Run the foreground learners on a completed run (before its final event).

    Returns:
        Their events, the learners left for the background, and the result they read
        (`result` with the run as messages).
    """
    if not learners or result.status is not RunStatus.COMPLETED:
        return [], [], result
    from covey.core.learning import run_learners

    shown = result.model_copy(update={"messages": exchange(input, result.output)})
    from covey.core.learning import split_learners

    foreground, background = split_learners(learners)
    events = await run_learners(foreground, run, shown, emit) if foreground else []
    return events, background, shown


def start_after(
    learners: Sequence[Learner], run: LearningRun, shown: RunResult[Any], last_seq: int
) -> None:
    """Start the background learners after the final event (`seq` continues from `last_seq`)."""
    if learners:
        from covey.core.learning import start_background_learning

        start_background_learning(learners, run, shown, last_seq)
