"""`Registry`: the agents a runtime serves, by id, and loading one from a Python path."""

from __future__ import annotations

import importlib
import logging
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, cast

from covey.core import Agent
from covey.spec.errors import ConfigurationError

__all__ = ["Registry", "load_registry"]

log = logging.getLogger("covey.runtime")

NO_AGENTS = (
    "SERVING NO AGENTS: every run request will answer 404. Name the agents to serve with "
    'agents = "module:attribute" in covey.toml (or COVEY_AGENTS=module:attribute), e.g. '
    'agents = "my_agent:agent" for the `agent` defined in my_agent.py beside covey.toml.'
)


class Registry:
    """The agents a runtime serves; an agent's id in the API is its `name`.

    Args:
        agents: The agents. Each needs a unique `name`.
        notice: A message shown in the log at start and in `GET /v1/agents` (for example, that
            the agents run on a test model).

    Raises:
        ConfigurationError: an agent has no name, two share one, or an item is not an agent.

    Example:
        ```python
        from covey.core import Agent
        from covey.core.testing import TestModel
        from covey.runtime import Registry

        registry = Registry([Agent(name="helper", model=TestModel())])
        assert registry.get("helper") is not None
        ```
    """

    __slots__ = ("_agents", "announced", "notice")

    def __init__(
        self, agents: Sequence[Agent[Any, Any]] = (), *, notice: str | None = None
    ) -> None:
        found: dict[str, Agent[Any, Any]] = {}
        for item in agents:
            if not isinstance(item, Agent):  # pyright: ignore[reportUnnecessaryIsInstance]
                raise ConfigurationError(
                    f"The registry holds {type(item).__name__}, not an Agent; list only "
                    "covey.core.Agent objects"
                )
            if not item.name:
                raise ConfigurationError(
                    "Every agent the runtime serves needs a name (its id in the API): "
                    "Agent(name='support', ...)"
                )
            if item.name in found:
                raise ConfigurationError(
                    f"Two agents are named {item.name!r}; names are API ids and must be unique"
                )
            found[item.name] = item
        self._agents = found
        self.notice = notice
        self.announced = False
        """Whether `announce` has logged this registry's warnings (`covey serve` sets it in its
        worker processes, whose parent logged them already)."""

    def announce(self) -> None:
        """Log the notice, and a loud warning when there is no agent, once per registry.

        The app calls it at startup; `covey serve` calls it before the workers start, so the
        warnings appear once however many workers there are.
        """
        if self.announced:
            return
        self.announced = True
        if self.notice:
            log.warning("%s", self.notice)
        if not self._agents:
            log.warning("%s", NO_AGENTS)

    def get(self, agent_id: str) -> Agent[Any, Any] | None:
        """The agent named `agent_id`, or `None`."""
        return self._agents.get(agent_id)

    def __iter__(self) -> Iterator[Agent[Any, Any]]:
        return iter(self._agents.values())

    def __len__(self) -> int:
        return len(self._agents)

    def __repr__(self) -> str:
        return f"Registry({sorted(self._agents)!r})"


def load_registry(path: str | None, *, python_path: Sequence[str | Path] = ()) -> Registry:
    """Import the registry named by `"module:attribute"`.

    The attribute may be a `Registry`, a list of agents, or a function taking no argument that
    returns either.

    Args:
        path: `"module:attribute"`, e.g. `"myapp.agents:registry"`; `None` gives an empty registry.
        python_path: Folders put in front of `sys.path` first.

    Raises:
        ConfigurationError: the module cannot be imported, the attribute is missing, or it is not
            a registry.
    """
    if path is None:
        return Registry()
    for folder in reversed([str(Path(p)) for p in python_path]):
        if folder not in sys.path:
            sys.path.insert(0, folder)
    module_name, _, attribute = path.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigurationError(
            f"agents = {path!r}: cannot import module {module_name!r} ({exc}). Install it, or add "
            "its folder to python_path in covey.toml (COVEY_PYTHON_PATH)."
        ) from exc
    try:
        value: Any = getattr(module, attribute)
    except AttributeError:
        raise ConfigurationError(
            f"agents = {path!r}: module {module_name!r} has no attribute {attribute!r}"
        ) from None
    if callable(value) and not isinstance(value, Registry | Agent):
        value = value()
    if isinstance(value, Registry):
        return value
    if isinstance(value, Agent):
        return Registry([cast("Agent[Any, Any]", value)])
    if isinstance(value, list | tuple):
        agents = cast("list[Agent[Any, Any]]", list(cast("list[Any]", value)))
        return Registry(agents)
    raise ConfigurationError(
        f"agents = {path!r} is a {type(value).__name__}; expected a covey.runtime.Registry, a "
        "list of agents, or a function returning one"
    )
