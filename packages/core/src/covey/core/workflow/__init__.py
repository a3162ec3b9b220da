"""Workflows: steps (agents, teams, workflows, functions) arranged with `Steps`, `Parallel`,
`Condition`, `Loop` and `Router`, run as one durable run."""

from covey.core.workflow.definition import Workflow
from covey.core.workflow.executor import StepError
from covey.core.workflow.steps import (
    Condition,
    Loop,
    Parallel,
    Router,
    Step,
    StepInput,
    StepLike,
    StepPause,
    Steps,
)

__all__ = [
    "Condition",
    "Loop",
    "Parallel",
    "Router",
    "Step",
    "StepError",
    "StepInput",
    "StepLike",
    "StepPause",
    "Steps",
    "Workflow",
]
