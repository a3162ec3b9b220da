"""`Registry`: the agents, teams and workflows a runtime serves, by id, and loading one from a
Python path."""

from __future__ import annotations

import importlib
import logging
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, cast

from covey.core import Agent
from covey.runtime.runnables import KINDS, Kind, Runnable, kind_of
from covey.spec.errors import ConfigurationError

__all__ = ["Registry", "load_registry"]

log = logging.getLogger("covey.runtime")

NO_AGENTS = (
    "SERVING NO AGENTS: every run request will answer 404. Name the agents (teams, workflows) "
    'to serve with agents = "module:attribute" in covey.toml (or COVEY_AGENTS=module:attribute), '
    'e.g. agents = "my_agent:agent" for the `agent` defined in my_agent.py beside covey.toml.'
)

_ARTICLE = {"agent": "an agent", "team": "a team", "workflow": "a workflow"}


class Registry:
    """The agents, teams and workflows a runtime serves; each one's id in the API is its `name`.

    Names are unique across the three kinds: a stored run records what ran it by name only
    (`Run.agent_id`), and `/v1/runs/{run_id}/resume` and `/cancel` find it by that name.

    Iterating a registry, `len()` and `get()` see its agents only (`GET /v1/agents`); `find()`
    looks an id up whatever its kind, `items(kind)` lists one kind, and a registry is true when
    it serves anything.

    Args:
        agents: Agents, and teams and workflows too (each sorted by its class).
        teams: Teams, or any object with the run API of `Agent` served as a team.
        workflows: Workflows, or any object with the run API of `Agent` served as a workflow.
        notice: A message shown in the log at start and in `GET /v1/agents` (for example, that
            the agents run on a test model).
        knowledge: Knowledge bases to serve under `/v1/knowledge` (`covey.knowledge.Knowledge`
            or anything with its API). Those the agents (and teams' members) search, through
            `Agent(knowledge=...)`, are served too.

    Raises:
        ConfigurationError: an item has no name, two share one (whatever their kinds), an
            item is not an agent, team or workflow, or two different knowledge bases share a
            name.

    Example:
        ```python
        from covey.core import Agent
        from covey.core.testing import TestModel
        from covey.runtime import Registry

        registry = Registry([Agent(name="helper", model=TestModel())])
        assert registry.get("helper") is not None
        assert registry.kind("helper") == "agent"
        ```
    """

    __slots__ = ("_agents", "_by_id", "_kinds", "_knowledge", "announced", "notice")

    def __init__(
        self,
        agents: Sequence[Any] = (),
        *,
        teams: Sequence[Runnable] = (),
        workflows: Sequence[Runnable] = (),
        notice: str | None = None,
        knowledge: Sequence[Any] = (),
    ) -> None:
        self._knowledge: dict[str, Any] = {}
        self._by_id: dict[str, tuple[Kind, Runnable]] = {}
        self._kinds: dict[Kind, dict[str, Runnable]] = {kind: {} for kind in KINDS}
        for item in agents:
            kind = kind_of(item)
            if kind is None:
                raise ConfigurationError(
                    f"The registry holds {type(item).__name__}, not an Agent, Team or Workflow; "
                    "list only covey.core.Agent, Team and Workflow objects"
                )
            self._add(kind, item)
        for kind, items in (("team", teams), ("workflow", workflows)):
            for item in items:
                found = kind_of(item)
                duck = isinstance(item, Runnable)  # pyright: ignore[reportUnnecessaryIsInstance]
                if (found is not None and found != kind) or not duck:
                    raise ConfigurationError(
                        f"{kind}s=[...] holds {type(item).__name__}, not a {kind.capitalize()}"
                    )
                self._add(cast("Kind", kind), item)
        self._agents = cast("dict[str, Agent[Any, Any]]", self._kinds["agent"])
        for kb in knowledge:
            self._add_knowledge(kb, required=True)
        for _, runnable in self._by_id.values():
            for kb in _knowledge_of(runnable):
                self._add_knowledge(kb, required=False)
        self.notice = notice
        self.announced = False
        """Whether `announce` has logged this registry's warnings (`covey serve` sets it in its
        worker processes, whose parent logged them already)."""

    def _add(self, kind: Kind, item: Runnable) -> None:
        name = item.name
        if not name:
            raise ConfigurationError(
                f"Every {kind} the runtime serves needs a name (its id in the API): "
                f"{kind.capitalize()}(name='support', ...)"
            )
        if name in self._by_id:
            other = self._by_id[name][0]
            raise ConfigurationError(
                f"Two definitions are named {name!r} ({_ARTICLE[other]} and {_ARTICLE[kind]}); "
                "names are API ids and must be unique across agents, teams and workflows"
            )
        self._by_id[name] = (kind, item)
        self._kinds[kind][name] = item

    def _add_knowledge(self, kb: Any, *, required: bool) -> None:
        name = getattr(kb, "name", None)
        if not (isinstance(name, str) and name and callable(getattr(kb, "ingest", None))):
            if required:
                raise ConfigurationError(
                    f"knowledge=[...] holds {type(kb).__name__}, not a knowledge base with a name "
                    "and the API of covey.knowledge.Knowledge (ingest, search, list_contents...)"
                )
            return  # a search-only knowledge base: its agent searches it, the API cannot serve it
        other = self._knowledge.setdefault(name, kb)
        if other is not kb:
            raise ConfigurationError(
                f"Two different knowledge bases are named {name!r}; names are API ids "
                "(/v1/knowledge/{name}): give each its own, or share one object"
            )

    def knowledge(self) -> dict[str, Any]:
        """The knowledge bases served, by name: those given and those the agents search."""
        return dict(self._knowledge)

    def announce(self) -> None:
        """Log the notice, and a loud warning when nothing is served, once per registry.

        The app calls it at startup; `covey serve` calls it before the workers start, so the
        warnings appear once however many workers there are.
        """
        if self.announced:
            return
        self.announced = True
        if self.notice:
            log.warning("%s", self.notice)
        if not self._by_id:
            log.warning("%s", NO_AGENTS)

    def get(self, agent_id: str) -> Agent[Any, Any] | None:
        """The agent named `agent_id`, or `None` (a team or workflow of that name is not one)."""
        return self._agents.get(agent_id)

    def find(self, runnable_id: str) -> Runnable | None:
        """The agent, team or workflow named `runnable_id`, or `None`."""
        found = self._by_id.get(runnable_id)
        return found[1] if found is not None else None

    def kind(self, runnable_id: str) -> Kind | None:
        """Whether `runnable_id` names an `"agent"`, a `"team"` or a `"workflow"`; else `None`."""
        found = self._by_id.get(runnable_id)
        return found[0] if found is not None else None

    def of_kind(self, kind: Kind, runnable_id: str) -> Runnable | None:
        """The `kind` named `runnable_id`, or `None`."""
        return self._kinds[kind].get(runnable_id)

    def items(self, kind: Kind) -> list[Runnable]:
        """Everything of `kind` served, in the order given."""
        return list(self._kinds[kind].values())

    def names(self, kind: Kind) -> list[str]:
        """The sorted ids of everything of `kind` served."""
        return sorted(self._kinds[kind])

    def __iter__(self) -> Iterator[Agent[Any, Any]]:
        return iter(self._agents.values())

    def __len__(self) -> int:
        return len(self._agents)

    def __bool__(self) -> bool:
        """Whether anything is served (`len()` counts agents only)."""
        return bool(self._by_id)

    def __repr__(self) -> str:
        parts = [f"{sorted(self._agents)!r}"]
        parts += [f"{k}s={sorted(self._kinds[k])!r}" for k in KINDS[1:] if self._kinds[k]]
        return f"Registry({', '.join(parts)})"


def _knowledge_of(item: Any, depth: int = 0) -> list[Any]:
    """The knowledge bases `item` searches, and those its members search (teams)."""
    if depth > 16:
        return []
    found: list[Any] = []
    given = getattr(item, "knowledge", None)
    if given is not None and not callable(getattr(given, "search", None)):
        found.extend(cast("Sequence[Any]", given) if isinstance(given, list | tuple) else [])
    elif given is not None:
        found.append(given)
    for member in getattr(item, "members", None) or ():
        found.extend(_knowledge_of(member, depth + 1))
    return found


def load_registry(path: str | None, *, python_path: Sequence[str | Path] = ()) -> Registry:
    """Import the registry named by `"module:attribute"`.

    The attribute may be a `Registry`, an agent, team or workflow, a list of them (in any mix),
    or a function taking no argument that returns one of these.

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
    if callable(value) and not isinstance(value, Registry) and kind_of(value) is None:
        value = value()
    if isinstance(value, Registry):
        return value
    if kind_of(value) is not None:
        return Registry([value])
    if isinstance(value, list | tuple):
        return Registry(list(cast("list[Any]", value)))
    raise ConfigurationError(
        f"agents = {path!r} is a {type(value).__name__}; expected a covey.runtime.Registry, an "
        "agent, team or workflow, a list of them, or a function returning one"
    )
