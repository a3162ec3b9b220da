"""The HTTP API's controllers, one per resource."""

from covey.runtime.controllers.agents import AgentController
from covey.runtime.controllers.agui import AguiController
from covey.runtime.controllers.health import HealthController
from covey.runtime.controllers.knowledge import KnowledgeController, knowledge_controller
from covey.runtime.controllers.memories import (
    LearningController,
    MemoryController,
    ProfileController,
)
from covey.runtime.controllers.metrics import CostController, MetricsController
from covey.runtime.controllers.plugins import PluginController
from covey.runtime.controllers.runs import RunController
from covey.runtime.controllers.sessions import SessionController
from covey.runtime.controllers.teams import TeamController
from covey.runtime.controllers.traces import TraceController
from covey.runtime.controllers.workflows import WorkflowController
from covey.runtime.controllers.ws import agent_socket, team_socket, workflow_socket

__all__ = [
    "AgentController",
    "AguiController",
    "CostController",
    "HealthController",
    "KnowledgeController",
    "LearningController",
    "MemoryController",
    "MetricsController",
    "PluginController",
    "ProfileController",
    "RunController",
    "SessionController",
    "TeamController",
    "TraceController",
    "WorkflowController",
    "agent_socket",
    "knowledge_controller",
    "team_socket",
    "workflow_socket",
]
