"""`/health` (the process is up) and `/ready` (it can serve runs); `/metrics` is in
`controllers/metrics.py`.

The probes need no token, so they say up or not and nothing else: counts and names go to
`/metrics`, which needs the `admin` scope when auth is on.
"""

from __future__ import annotations

import logging
from typing import Any

import anyio
from litestar import Controller, Response, get
from litestar.di import NamedDependency

from covey.runtime.problems import PROBLEM_MEDIA_TYPE, problem_body, problem_responses
from covey.runtime.state import RuntimeState
from covey.spec.store import Scope

__all__ = ["HealthController"]

log = logging.getLogger("covey.runtime")

_READY_TIMEOUT = 5.0


class HealthController(Controller):
    """Probes for orchestrators and load balancers; no token needed."""

    path = "/"
    tags = ["health"]  # noqa: RUF012 - Litestar reads these class attributes

    @get("/health", summary="Liveness", responses=problem_responses())
    async def health(self) -> dict[str, str]:
        """200 while the process serves requests."""
        return {"status": "ok"}

    @get("/ready", summary="Readiness", responses=problem_responses(503))
    async def ready(self, runtime: NamedDependency[RuntimeState]) -> Response[dict[str, Any]]:
        """200 when the store answers and its schema is current; 503 otherwise."""
        try:
            with anyio.fail_after(_READY_TIMEOUT):
                await runtime.store.get_session(Scope(), "covey-readiness-probe")
                check = getattr(runtime.store, "check_schema", None)
                if check is not None:
                    await check()
        except Exception as exc:
            # The probe is public: the reason goes to the log, not to whoever asks.
            log.warning("not ready: the store failed its check: %s: %s", type(exc).__name__, exc)
            return Response(
                problem_body(503, "not-ready", "The store is not ready", instance="/ready"),
                status_code=503,
                media_type=PROBLEM_MEDIA_TYPE,
            )
        if not runtime.manager.accepting:
            return Response(
                problem_body(
                    503, "shutting-down", "The server is shutting down", instance="/ready"
                ),
                status_code=503,
                media_type=PROBLEM_MEDIA_TYPE,
            )
        return Response({"status": "ready"}, status_code=200)
