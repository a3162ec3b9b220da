"""covey-core: agents and the one async run loop.

Names are imported on first use (PEP 562), so `import covey.core` stays as cheap as the
interface package; `from covey.core import Agent` loads what an agent needs.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from covey.core.agent import Agent, RunHook
    from covey.core.fallback import FallbackModel
    from covey.core.learning import pending_learning, wait_for_learning
    from covey.core.limits import UsageLimits
    from covey.core.retry import RetryPolicy
    from covey.core.run.iteration import AgentRun
    from covey.core.run.nodes import CallToolsNode, End, ModelRequestNode, RunNode
    from covey.core.run.options import RunKwargs
    from covey.core.run.plan import RunPlan
    from covey.core.runnable import Runnable
    from covey.core.summaries import SessionSummary
    from covey.core.team import Team, TeamMode
    from covey.core.workflow import (
        Condition,
        Loop,
        Parallel,
        Router,
        Step,
        StepError,
        StepInput,
        StepPause,
        Steps,
        Workflow,
    )
    from covey.spec import RunContext, RunResult, RunStatus

__all__ = [
    "Agent",
    "AgentRun",
    "CallToolsNode",
    "Condition",
    "End",
    "FallbackModel",
    "Loop",
    "ModelRequestNode",
    "Parallel",
    "RetryPolicy",
    "Router",
    "RunContext",
    "RunHook",
    "RunKwargs",
    "RunNode",
    "RunPlan",
    "RunResult",
    "RunStatus",
    "Runnable",
    "SessionSummary",
    "Step",
    "StepError",
    "StepInput",
    "StepPause",
    "Steps",
    "Team",
    "TeamMode",
    "UsageLimits",
    "Workflow",
    "pending_learning",
    "wait_for_learning",
]

_WHERE = {
    "Agent": "covey.core.agent",
    "RunHook": "covey.core.agent",
    "FallbackModel": "covey.core.fallback",
    "UsageLimits": "covey.core.limits",
    "pending_learning": "covey.core.learning",
    "wait_for_learning": "covey.core.learning",
    "RetryPolicy": "covey.core.retry",
    "AgentRun": "covey.core.run.iteration",
    "CallToolsNode": "covey.core.run.nodes",
    "End": "covey.core.run.nodes",
    "ModelRequestNode": "covey.core.run.nodes",
    "RunNode": "covey.core.run.nodes",
    "RunKwargs": "covey.core.run.options",
    "RunPlan": "covey.core.run.plan",
    "Runnable": "covey.core.runnable",
    "SessionSummary": "covey.core.summaries",
    "Team": "covey.core.team",
    "TeamMode": "covey.core.team",
    "RunContext": "covey.spec",
    "RunResult": "covey.spec",
    "RunStatus": "covey.spec",
    "Workflow": "covey.core.workflow",
    "Step": "covey.core.workflow",
    "Steps": "covey.core.workflow",
    "Parallel": "covey.core.workflow",
    "Condition": "covey.core.workflow",
    "Loop": "covey.core.workflow",
    "Router": "covey.core.workflow",
    "StepInput": "covey.core.workflow",
    "StepPause": "covey.core.workflow",
    "StepError": "covey.core.workflow",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'covey.core' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
