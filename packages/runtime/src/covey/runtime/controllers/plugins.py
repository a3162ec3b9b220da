"""`/v1/plugins`: the Covey plugins installed on this server."""

from __future__ import annotations

from litestar import Controller, get

from covey.runtime.dto import PluginOut
from covey.runtime.guards import require_scope
from covey.runtime.problems import problem_responses

__all__ = ["PluginController"]


class PluginController(Controller):
    """List installed plugins (without importing them)."""

    path = "/v1/plugins"
    tags = ["plugins"]  # noqa: RUF012 - Litestar reads these class attributes
    guards = [require_scope]  # noqa: RUF012

    @get(
        "/",
        opt={"scope": "admin"},
        summary="List installed plugins",
        responses=problem_responses(401, 403),
    )
    async def list_plugins(self) -> list[PluginOut]:
        """Every plugin registered through entry points, with its distribution and version."""
        from covey.spec.plugins import describe

        return [
            PluginOut(
                kind=info.kind,
                name=info.name,
                distribution=info.distribution,
                version=info.version,
                target=info.value,
            )
            for infos in describe().values()
            for info in infos
        ]
