"""`serve`: run the app with uvicorn, refusing to expose an unauthenticated server."""

from __future__ import annotations

import ipaddress
import logging
import os
from typing import Any

from covey.runtime.config import CONFIG_ENV, RuntimeSettings
from covey.spec.errors import ConfigurationError

__all__ = ["check_exposure", "configure_logging", "is_loopback", "serve"]

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


def serve(settings: RuntimeSettings) -> None:
    """Serve the agents until interrupted (Ctrl-C or SIGTERM: graceful shutdown).

    With `workers > 1`, each worker process builds its own app from the same config file and
    environment; they share state through the store.

    Raises:
        ConfigurationError: the configuration is unusable (checked before listening).
    """
    import uvicorn

    from covey.runtime.app import create_app

    check_exposure(settings)
    configure_logging(settings.log_level)
    app = create_app(settings)  # fail here, in the parent, on a bad registry or store URL
    target: Any = app
    if settings.workers > 1:
        if settings.config_file is not None:
            os.environ[CONFIG_ENV] = str(settings.config_file)
        target = "covey.runtime.app:app_from_env"
    uvicorn.run(
        target,
        factory=settings.workers > 1,
        workers=settings.workers if settings.workers > 1 else None,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        ws_max_size=settings.max_body_size,
        timeout_graceful_shutdown=int(settings.shutdown_grace) + 1,
        lifespan="on",
        server_header=False,
    )
