"""`create_app`: the Litestar application serving a registry of agents, teams and workflows."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncGenerator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
from litestar import Litestar, Request
from litestar.config.cors import CORSConfig
from litestar.datastructures import State
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme

from covey.runtime.auth import Principal, TokenVerifier
from covey.runtime.config import RuntimeSettings, load_settings
from covey.runtime.controllers import (
    AgentController,
    AguiController,
    CostController,
    HealthController,
    LearningController,
    MemoryController,
    MetricsController,
    PluginController,
    ProfileController,
    RunController,
    SessionController,
    TeamController,
    TraceController,
    WorkflowController,
    agent_socket,
    knowledge_controller,
    team_socket,
    workflow_socket,
)
from covey.runtime.controllers.approvals import ApprovalController
from covey.runtime.controllers.me import MeController
from covey.runtime.controllers.metrics import STATE_KEY as METRICS_KEY
from covey.runtime.controllers.schedules import SCHEDULER_KEY, ScheduleController
from covey.runtime.guards import auth_middleware, principal_of
from covey.runtime.json_body import JsonRequest
from covey.runtime.knowledge import KnowledgeService
from covey.runtime.mcp_http import McpEndpoint, mcp_running
from covey.runtime.metrics import RunMetrics
from covey.runtime.problems import exception_handlers
from covey.runtime.registry import Registry, load_registry
from covey.runtime.run_manager import RunManager
from covey.runtime.schedules import Scheduler
from covey.runtime.security import BrowserGuard
from covey.runtime.state import RuntimeState
from covey.runtime.toolsets import held_toolsets
from covey.runtime.tracing import TRACING_STATE, tracing_for
from covey.spec.errors import ConfigurationError
from covey.spec.store import Store

if TYPE_CHECKING:
    from covey.runtime.eval_jobs import EvalJobs

__all__ = ["app_from_env", "create_app", "open_store", "redact_url"]

log = logging.getLogger("covey.runtime")

VERSION = "0.1.0"

UPLOAD_PATH = r"/v1/knowledge/[^/]+/contents"
"""The one route that takes `multipart/form-data` (document uploads)."""


def redact_url(url: str) -> str:
    """`url` with any password replaced by `***`, for logs and errors."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    credentials, at, host = rest.rpartition("@")
    if not at or ":" not in credentials:
        return url
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}"


def open_store(url: str, *, base_dir: Path | None = None) -> Store:
    """The store a URL names, through the `covey.db` plugins like any other.

    `memory://` (covey-db-memory, a dependency of the runtime) keeps everything in this process,
    bounded (`memory://?max_runs=10000`). A relative SQLite path is resolved against `base_dir`
    (the config file's folder, like every other path of the settings; without one, the working
    directory), and its folder is created, so `sqlite:///.covey/covey.db` works on a fresh
    machine and names the same file whatever folder a command is started from.

    Raises:
        ConfigurationError: the URL is malformed, or no plugin handles its scheme (the message
            has the install line); or a relative SQLite path names no file beside the config
            but an existing one in the working directory (where earlier versions put it):
            rather than start an empty database next to the old one, the message names both.
    """
    url = _anchored_sqlite(url, base_dir)
    from covey.spec.plugins import resolve_store

    try:
        store = resolve_store(url)
    except ConfigurationError as exc:
        raise ConfigurationError(f"store = {redact_url(url)!r}: {exc}") from None
    return store


_SQLITE_FILE = re.compile(
    r"^(?P<head>(?:sql\+)?sqlite(?:\+\w+)?:///)(?P<path>[^?]*)(?P<query>\?.*)?$"
)


def _anchored_sqlite(url: str, base_dir: Path | None) -> str:
    """`url` with a relative SQLite file made absolute against `base_dir`, its folder created."""
    match = _SQLITE_FILE.match(url)
    if match is None:
        return url
    path = match["path"]
    if not path or path == ":memory:":
        return url
    file = Path(path)
    if not file.is_absolute() and base_dir is not None:
        anchored = (base_dir / file).absolute()
        before = (Path.cwd() / file).absolute()
        if anchored != before and not anchored.exists() and before.exists():
            raise ConfigurationError(
                f"store = {redact_url(url)!r}: a relative SQLite path is read from the config "
                f"file's folder ({anchored}), where there is no database, but one exists in the "
                f"working directory ({before}). Name the one to use with an absolute path "
                f"(sqlite:///{before}) or move it."
            )
        file = anchored
        url = f"{match['head']}{file}{match['query'] or ''}"
    file.parent.mkdir(parents=True, exist_ok=True)
    return url


def _provide_state(state: State) -> RuntimeState:
    return state["covey"]


def _provide_principal(request: Request[Any, Any, Any]) -> Principal:
    return principal_of(request)


async def drain_learning(grace: float) -> int:
    """Let this server's background learning finish, at most `grace` seconds (at shutdown,
    after the runs drained and before the store closes); returns how many were cut off.

    Learning cut off leaves `learning.failed` ("Cancelled") in its run's log: nothing is lost
    without a trace.
    """
    from covey.core.learning import pending_learning, wait_for_learning

    cut = 0
    with anyio.CancelScope(shield=True):
        if pending_learning():
            log.info("waiting up to %ss for background learning", grace)
        cut = await wait_for_learning(within=grace)
    if cut:
        log.warning("cancelled %d background learning task(s) still running at shutdown", cut)
    return cut


def _gauges(runtime: RuntimeState) -> list[tuple[str, str, float]]:
    """The runtime's own gauges, read at each scrape of `/metrics`."""
    registry = runtime.registry
    return [
        (
            "covey_runs_in_progress",
            "Runs this process runs (its run manager).",
            len(runtime.manager),
        ),
        ("covey_agents", "Agents this server serves.", len(registry)),
        ("covey_teams", "Teams this server serves.", len(registry.items("team"))),
        ("covey_workflows", "Workflows this server serves.", len(registry.items("workflow"))),
        (
            "covey_accepting_runs",
            "1 while this process takes new runs, 0 during start and shutdown.",
            int(runtime.manager.accepting),
        ),
        *(
            [("covey_evals_in_progress", "Evals this process runs.", len(runtime.evals))]
            if runtime.evals is not None
            else []
        ),
    ]


def create_app(
    settings: RuntimeSettings | None = None,
    *,
    registry: Registry | None = None,
    store: Store | None = None,
) -> Litestar:
    """Build the Litestar app serving `registry` with `settings`.

    Args:
        settings: The settings; `None` reads `covey.toml` (`$COVEY_CONFIG`) and the environment.
        registry: The agents, teams and workflows to serve; `None` imports `settings.agents`.
        store: The store; `None` opens `settings.store`. A store passed in is not closed by the
            app; one it opens is.

    Raises:
        ConfigurationError: the settings, registry, store or auth keys are unusable.

    Example:
        ```python
        from covey.core import Agent
        from covey.core.testing import TestModel
        from covey.runtime import Registry, RuntimeSettings, create_app

        app = create_app(
            RuntimeSettings(store="memory://"),
            registry=Registry([Agent(name="helper", model=TestModel())]),
        )
        ```
    """
    settings = settings if settings is not None else load_settings()
    if registry is None:
        paths = [settings.base_dir / p for p in settings.python_path]
        registry = load_registry(settings.agents, python_path=paths)
    owns_store = store is None
    the_store = (
        store if store is not None else open_store(settings.store, base_dir=settings.base_dir)
    )
    verifier = TokenVerifier(settings) if settings.auth == "jwt" else None
    tracing = tracing_for(settings, the_store)
    manager = RunManager(
        the_store,
        run_timeout=settings.run_timeout,
        shutdown_grace=settings.shutdown_grace,
        lease=settings.lease_seconds,
        poll_interval=settings.poll_interval,
    )
    knowledge = KnowledgeService(
        registry.knowledge(),
        store=the_store,
        data_dir=settings.data_path,
        sources={
            name: [settings.base_dir / path for path in paths]
            for name, paths in settings.knowledge_sources.items()
        },
    )
    scheduler = Scheduler(
        the_store,
        registry,
        manager,
        poll=settings.schedule_poll,
        misfire_grace=settings.schedule_misfire_grace,
        tenants=set(settings.schedule_tenants),
    )
    runtime = RuntimeState(
        settings=settings,
        registry=registry,
        store=the_store,
        manager=manager,
        verifier=verifier,
        knowledge=knowledge,
    )
    evals = _eval_jobs(settings, the_store, manager)
    runtime.evals = evals
    mcp = McpEndpoint.for_app(runtime)
    metrics = RunMetrics(gauges=lambda: _gauges(runtime))

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncGenerator[None]:
        if settings.auto_migrate:
            migrate = getattr(the_store, "migrate", None)
            if migrate is not None:
                await migrate()
        registry.announce()
        log.info(
            "serving %d agent(s) %s, %d team(s) %s and %d workflow(s) %s with store %s, auth %s",
            len(registry),
            registry.names("agent"),
            len(registry.items("team")),
            registry.names("team"),
            len(registry.items("workflow")),
            registry.names("workflow"),
            redact_url(settings.store) if owns_store else type(the_store).__name__,
            settings.auth,
        )
        if knowledge.knowledge:
            log.info(
                "serving %d knowledge base(s) %s",
                len(knowledge.knowledge),
                sorted(knowledge.knowledge),
            )
        try:
            async with (
                tracing,
                held_toolsets([*registry, *registry.items("team")]),
                metrics.running(),
                manager.running(),
                _evals_running(evals),
                knowledge.running(),
                mcp_running(mcp),
                anyio.create_task_group() as schedules,
            ):
                if settings.scheduler:
                    schedules.start_soon(scheduler.run_forever)
                try:
                    yield
                finally:
                    schedules.cancel_scope.cancel()
        finally:
            try:
                await drain_learning(settings.learning_grace)
            finally:
                if owns_store:
                    await the_store.close()

    security: list[dict[str, list[str]]] | None = None
    components = Components()
    if verifier is not None:
        components = Components(
            security_schemes={
                "bearer": SecurityScheme(type="http", scheme="bearer", bearer_format="JWT")
            }
        )
        security = [{"bearer": []}]
    cors = CORSConfig(allow_origins=settings.cors_origins) if settings.cors_origins else None
    app = Litestar(
        route_handlers=[
            HealthController,
            MeController,
            AgentController,
            TeamController,
            WorkflowController,
            RunController,
            ApprovalController,
            SessionController,
            knowledge_controller(settings.knowledge_max_upload),
            MemoryController,
            ProfileController,
            LearningController,
            PluginController,
            MetricsController,
            AguiController,
            ScheduleController,
            *_eval_handlers(),
            TraceController,
            CostController,
            agent_socket,
            team_socket,
            workflow_socket,
            *([mcp.route()] if mcp is not None else []),
            *_protocol_handlers(runtime),
            *_console_handlers(settings),
        ],
        dependencies={
            "runtime": Provide(_provide_state, sync_to_thread=False),
            "principal": Provide(_provide_principal, sync_to_thread=False),
        },
        state=State(
            {
                "covey": runtime,
                SCHEDULER_KEY: scheduler,
                TRACING_STATE: tracing,
                METRICS_KEY: metrics,
            }
        ),
        middleware=[auth_middleware(verifier)],
        exception_handlers=exception_handlers(),
        request_class=JsonRequest,
        lifespan=[lifespan],
        cors_config=cors,
        request_max_body_size=settings.max_body_size,
        openapi_config=OpenAPIConfig(
            title="Covey",
            version=VERSION,
            path="/schema",
            description="Serve Covey agents, teams and workflows: runs (JSON, SSE, WebSocket), "
            "sessions, knowledge bases, memories, plugins, schedules.",
            components=components,
            security=security,
        ),
        logging_config=None,
        debug=False,
    )
    # Outermost, so a refused host or origin is answered before routing, CORS or auth.
    app.asgi_handler = BrowserGuard(
        app.asgi_handler,
        allowed_hosts=settings.allowed_hosts,
        allowed_origins=settings.cors_origins,
        upload_paths=[UPLOAD_PATH],
    )
    return app


def _protocol_handlers(runtime: RuntimeState) -> list[Any]:
    """The A2A mount (`/a2a/{name}`) when `a2a-sdk` is installed (the `a2a` extra)."""
    from covey.runtime.a2a import a2a_available, a2a_handler

    return [a2a_handler(runtime)] if a2a_available() else []


def _console_handlers(settings: RuntimeSettings) -> list[Any]:
    """The console at `/console` (and `/` leading to it), unless `console = false`."""
    if not settings.console:
        return []
    from covey.runtime.console import console_handlers

    return console_handlers()


def app_from_env() -> Litestar:
    """The app for `uvicorn --factory`: settings from `$COVEY_CONFIG` and the environment."""
    return create_app(load_settings())


def _eval_jobs(settings: RuntimeSettings, store: Store, manager: RunManager) -> EvalJobs | None:
    """The background evals when covey-evals is installed."""
    import importlib.util

    if importlib.util.find_spec("covey.evals") is None:
        return None
    from covey.runtime.eval_jobs import EvalJobs

    return EvalJobs(
        store,
        manager,
        limit=settings.max_concurrent_evals,
        lease=settings.eval_lease_seconds,
    )


def _evals_running(evals: EvalJobs | None) -> AbstractAsyncContextManager[Any]:
    return evals.running() if evals is not None else nullcontext()


def _eval_handlers() -> list[Any]:
    """`/v1/evals` when covey-evals is installed (`covey-runtime[evals]`)."""
    import importlib.util

    if importlib.util.find_spec("covey.evals") is None:
        return []
    from covey.runtime.controllers.evals import EvalController

    return [EvalController]
