"""A2A client toolset for Covey: remote Agent2Agent agents as tools (`A2AToolset`)."""

from __future__ import annotations

from covey.spec.errors import ConfigurationError
from covey.tools.a2a.toolset import A2AToolset

__all__ = ["A2AToolset", "from_reference"]


def from_reference(arg: str | None) -> A2AToolset:
    """`Agent(tools=["a2a:http://host/a2a/agent"])`: the remote agent at that URL.

    Raises:
        ConfigurationError: no URL given, or not an http(s) URL.
    """
    if not arg:
        raise ConfigurationError(
            "The a2a tool needs the remote agent's URL: 'a2a:https://host/a2a/<agent>'"
        )
    return A2AToolset(arg)
