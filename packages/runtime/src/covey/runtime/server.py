"""`serve`: run the app with uvicorn, refusing to expose an unauthenticated server."""

from __future__ import annotations

import ipaddress
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from covey.runtime.config import (
    CONFIG_ENV,
    ENV_PREFIX,
    LOCAL_CONFIG,
    RuntimeSettings,
    load_settings,
)
from covey.spec.errors import ConfigurationError

if TYPE_CHECKING:
    from litestar import Litestar

__all__ = ["check_exposure", "configure_logging", "is_loopback", "serve", "worker_app"]

log = logging.getLogger("covey.runtime")

_LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"}


def is_loopback(host: str) -> bool:
    """Whether `host` (a name or an IP literal) only listens on this machine."""
    name = host.strip().strip("[]").lower()
    if name in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def check_exposure(settings: RuntimeSettings) -> None:
    """Refuse to listen beyond loopback with auth off.

    Raises:
        ConfigurationError: `host` is not loopback and `auth` is `none`.
    """
    if settings.auth == "none" and not is_loopback(settings.host):
        raise ConfigurationError(
            f"Refusing to listen on {settings.host!r} without authentication: anyone who can "
            "reach it could run your agents. Either listen on 127.0.0.1 (--host 127.0.0.1), or "
            "turn auth on: auth = 'jwt' in covey.toml (COVEY_AUTH=jwt) with COVEY_JWT_SECRET, "
            "jwt_public_key or jwt_jwks_file."
        )


def configure_logging(level: str) -> None:
    """Log to stderr at `level`, with timestamps."""
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
    )


def _log_config_source(settings: RuntimeSettings) -> None:
    if settings.config_file is not None:
        log.info("config file %s", settings.config_file)
    else:
        log.info(
            "no config file (no --config, %s unset, no %s in %s): using the defaults and %s* "
            "environment variables",
            CONFIG_ENV,
            LOCAL_CONFIG,
            Path.cwd(),
            ENV_PREFIX,
        )


def worker_app() -> Litestar:
    """The app of one `covey serve --workers N` worker process (a uvicorn factory).

    Settings come from `$COVEY_CONFIG` and the environment, as the parent left them. The
    parent has logged the registry's notice and warnings, so the workers do not repeat them.
    """
    from covey.runtime.app import create_app
    from covey.runtime.registry import load_registry

    settings = load_settings()
    registry = load_registry(settings.agents, python_path=settings.import_paths)
    registry.announced = True
    return create_app(settings, registry=registry)


def serve(settings: RuntimeSettings) -> None:
    """Serve the agents until interrupted (Ctrl-C or SIGTERM: graceful shutdown).

    With `workers > 1`, each worker process builds its own app from the same config file and
    environment; they share state through the store.

    Raises:
        ConfigurationError: the configuration is unusable (checked before listening).
    """
    import uvicorn

    from covey.runtime.app import create_app
    from covey.runtime.registry import load_registry

    check_exposure(settings)
    configure_logging(settings.log_level)
    _log_config_source(settings)
    # Fail here, in the parent, on a bad registry or store URL; warn here, once.
    registry = load_registry(settings.agents, python_path=settings.import_paths)
    registry.announce()
    app = create_app(settings, registry=registry)
    if settings.console:
        host = f"[{settings.host}]" if ":" in settings.host else settings.host
        log.info("console at http://%s:%d/console", host, settings.port)
    target: Any = app
    if settings.workers > 1:
        if settings.config_file is not None:
            os.environ[CONFIG_ENV] = str(settings.config_file)
        target = "covey.runtime.server:worker_app"
    uvicorn.run(
        target,
        factory=settings.workers > 1,
        workers=settings.workers if settings.workers > 1 else None,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        ws_max_size=settings.max_body_size,
        timeout_graceful_shutdown=int(settings.shutdown_grace) + 1,
        # uvicorn's 5 s kills workers still importing on a busy machine, then restarts them in a
        # loop; a worker that stops answering for 30 s is hung.
        timeout_worker_healthcheck=30,
        lifespan="on",
        server_header=False,
    )
