"""`/v1/me`: who the caller is and what this server offers, for the console and other clients.

A client signs in with a token and asks this first: the answer says whose data it will see
(tenant, user, admin or not), what the token allows (its scopes) and which optional parts of the
API this server has (evals, traces, MCP, A2A), so a client shows only what works.
"""

from __future__ import annotations

import importlib.util

from litestar import Controller, get
from litestar.di import NamedDependency
from pydantic import BaseModel, ConfigDict

from covey.runtime.auth import Principal
from covey.runtime.problems import problem_responses
from covey.runtime.state import RuntimeState
from covey.runtime.tracing import tracing_enabled

__all__ = ["Features", "Limits", "MeController", "MeOut"]


class Features(BaseModel):
    """The optional parts of the API this server has."""

    model_config = ConfigDict(extra="forbid")

    evals: bool
    """`/v1/evals` (covey-evals installed)."""
    traces: bool
    """Tracing is on, so `/v1/traces` has spans."""
    mcp: bool
    """`/mcp` serves what `mcp_expose` names."""
    a2a: bool
    """`/a2a/{name}` (a2a-sdk installed)."""
    knowledge: bool
    """At least one knowledge base is served."""


class Limits(BaseModel):
    """The sizes this server refuses above (413), so a client can check before sending."""

    model_config = ConfigDict(extra="forbid")

    max_body_size: int
    """The largest request body (a run's input with its attachments) and WebSocket message."""
    knowledge_max_upload: int
    """The largest document upload."""
    knowledge_max_files: int
    """The most files one upload may carry."""


class MeOut(BaseModel):
    """The caller and this server."""

    model_config = ConfigDict(extra="forbid")

    auth: str
    """`none` (every caller is the anonymous admin of tenant `default`) or `jwt`."""
    user_id: str | None
    tenant_id: str
    scopes: list[str]
    admin: bool
    version: str
    features: Features
    limits: Limits


class MeController(Controller):
    """The caller's identity, scopes and the server's optional features."""

    path = "/v1/me"
    tags = ["auth"]  # noqa: RUF012 - Litestar reads these class attributes

    @get("/", summary="Who am I", responses=problem_responses(401))
    async def me(
        self, runtime: NamedDependency[RuntimeState], principal: NamedDependency[Principal]
    ) -> MeOut:
        """The token's user, tenant and scopes (any valid token may ask), and the features."""
        from covey.runtime.app import VERSION

        settings = runtime.settings
        return MeOut(
            auth=settings.auth,
            user_id=principal.user_id,
            tenant_id=principal.tenant_id,
            scopes=sorted(principal.scopes),
            admin=principal.is_admin,
            version=VERSION,
            features=Features(
                evals=importlib.util.find_spec("covey.evals") is not None,
                traces=tracing_enabled(settings),
                mcp=bool(settings.mcp_expose),
                a2a=importlib.util.find_spec("a2a") is not None,
                knowledge=bool(runtime.knowledge.knowledge),
            ),
            limits=Limits(
                max_body_size=settings.max_body_size,
                knowledge_max_upload=settings.knowledge_max_upload,
                knowledge_max_files=settings.knowledge_max_files,
            ),
        )
