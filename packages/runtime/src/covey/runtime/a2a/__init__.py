"""A2A (Agent2Agent) for the runtime: every served agent, team and workflow as an A2A agent.

Needs the `a2a` extra (`pip install 'covey-runtime[a2a]'`, the official `a2a-sdk`); without it
the runtime serves no `/a2a` routes. Nothing here imports the SDK until the app is built.
"""

from covey.runtime.a2a.server import A2A_PATH, a2a_available, a2a_handler, agent_card

__all__ = ["A2A_PATH", "a2a_available", "a2a_handler", "agent_card"]
