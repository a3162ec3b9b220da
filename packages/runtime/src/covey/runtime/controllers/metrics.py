"""`/metrics` (Prometheus text, `admin`) and `/v1/costs` (what runs cost, per run, session,
user and tenant).

`/metrics` is this process's counters (see `covey.runtime.metrics`); a deployment of several
processes scrapes each. `/v1/costs` reads the store, so it answers the same from every process:
the cost of the runs a caller may read, priced per model request from its stored response.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from pydantic import BaseModel, ConfigDict, Field

from covey.runtime.auth import Principal
from covey.runtime.costs import (
    MAX_COST_RUNS,
    CostSummary,
    price_runs,
    prices_version,
    sum_descendants,
    sum_runs,
)
from covey.runtime.guards import require_scope
from covey.runtime.metrics import CONTENT_TYPE, RunMetrics
from covey.runtime.problems import ApiError, problem_responses
from covey.runtime.state import RuntimeState
from covey.spec.store import Scope, check_id

__all__ = ["CostController", "CostOut", "MetricsController", "ModelCostOut", "RunCostOut"]

STATE_KEY = "covey_metrics"
"""Where the app keeps its `RunMetrics` in `app.state`."""


class _Wire(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ModelCostOut(_Wire):
    """What one model cost."""

    model: str
    provider: str | None
    requests: int
    unpriced_requests: int = Field(description="Requests the price table has no price for.")
    input_tokens: int
    output_tokens: int
    cost_usd: float


class CostOut(_Wire):
    """The cost of the runs of a scope (a tenant, a user, a session)."""

    tenant_id: str
    user_id: str | None = Field(description="`null`: every user of the tenant.")
    session_id: str | None = None
    runs: int = Field(description="Runs counted (member and step runs included).")
    requests: int
    unpriced_requests: int
    cost_usd: float
    by_model: list[ModelCostOut]
    truncated: bool = Field(
        default=False, description=f"More than {MAX_COST_RUNS} runs: only the oldest counted."
    )
    prices: str = Field(description="The price table: genai-prices and its version.")


class RunCostOut(_Wire):
    """The cost of one run: its own model requests, and with its member and step runs."""

    run_id: str
    cost_usd: float = Field(description="The run's own model requests.")
    total_cost_usd: float = Field(description="The run and all its member and step runs.")
    requests: int
    unpriced_requests: int
    by_model: list[ModelCostOut] = Field(description="The run and its member and step runs.")
    prices: str


def _by_model(summary: CostSummary) -> list[ModelCostOut]:
    return [
        ModelCostOut(
            model=entry.model,
            provider=entry.provider,
            requests=entry.requests,
            unpriced_requests=entry.unpriced,
            input_tokens=entry.input_tokens,
            output_tokens=entry.output_tokens,
            cost_usd=float(entry.cost_usd),
        )
        for entry in sorted(summary.by_model.values(), key=lambda e: (-e.cost_usd, e.model))
    ]


class MetricsController(Controller):
    """Counters of this process for a Prometheus scraper; `admin` scope when auth is on."""

    path = "/metrics"
    tags = ["health"]  # noqa: RUF012 - Litestar reads these class attributes
    guards = [require_scope]  # noqa: RUF012

    @get(
        "/",
        opt={"scope": "admin"},
        summary="Metrics (Prometheus text)",
        media_type=CONTENT_TYPE,
        responses=problem_responses(401, 403),
    )
    async def metrics(self, request: Request[Any, Any, Any]) -> str:
        """Runs by status, run and model-request latency, tokens and cost by model, tool calls
        and errors, runs in flight, agents served and whether runs are accepted."""
        metrics: RunMetrics = request.app.state[STATE_KEY]
        return await metrics.render()


class CostController(Controller):
    """What runs cost, priced from their stored model responses."""

    path = "/v1/costs"
    tags = ["costs"]  # noqa: RUF012 - Litestar reads these class attributes
    guards = [require_scope]  # noqa: RUF012

    @get(
        "/",
        opt={"scope": "runs:read"},
        summary="Cost of a tenant, user or session",
        responses=problem_responses(400, 401, 403),
        description="The runs the caller may read, priced per model request: its own runs; "
        "with `admin`, the whole tenant or one `user_id`'s. `session_id` narrows to one "
        "session.",
    )
    async def costs(
        self,
        runtime: NamedDependency[RuntimeState],
        principal: NamedDependency[Principal],
        user_id: Annotated[str | None, QueryParameter(max_length=256)] = None,
        session_id: Annotated[str | None, QueryParameter(max_length=256)] = None,
    ) -> CostOut:
        """Totals and a per-model breakdown."""
        scope = _scope_for(principal, user_id)
        if session_id is not None:
            _check(session_id, "session_id")
        summary = CostSummary()
        truncated = await sum_runs(runtime.store, scope, summary, session_id=session_id)
        return CostOut(
            tenant_id=scope.tenant_id,
            user_id=scope.user_id,
            session_id=session_id,
            runs=summary.runs,
            requests=summary.requests,
            unpriced_requests=summary.unpriced_requests,
            cost_usd=float(summary.cost_usd),
            by_model=_by_model(summary),
            truncated=truncated,
            prices=prices_version(),
        )

    @get(
        "/runs/{run_id:str}",
        opt={"scope": "runs:read"},
        summary="Cost of a run",
        responses=problem_responses(400, 401, 403, 404),
    )
    async def run_cost(
        self,
        runtime: NamedDependency[RuntimeState],
        principal: NamedDependency[Principal],
        run_id: FromPath[str],
    ) -> RunCostOut:
        """The run's own cost and its total with its member and step runs."""
        scope = principal.read_scope
        _check(run_id, "run_id")
        run = await runtime.store.get_run(scope, run_id)
        if run is None:
            raise ApiError(404, "not-found", f"No run {run_id!r}")
        own = CostSummary()
        await price_runs(own, [run])
        total = CostSummary()
        total.merge(own)
        await sum_descendants(runtime.store, scope, total, run.id)
        return RunCostOut(
            run_id=run.id,
            cost_usd=float(own.cost_usd),
            total_cost_usd=float(total.cost_usd),
            requests=total.requests,
            unpriced_requests=total.unpriced_requests,
            by_model=_by_model(total),
            prices=prices_version(),
        )


def _check(value: str, name: str) -> None:
    try:
        check_id(value, name)
    except Exception as exc:
        raise ApiError(
            400,
            "validation-error",
            f"{name} is not a valid id",
            errors=[{"field": name, "message": str(exc)[:200], "source": "query"}],
        ) from None


def _scope_for(principal: Principal, user_id: str | None) -> Scope:
    """The caller's own runs; an admin's whole tenant, or one user's with `user_id`."""
    if user_id is not None:
        _check(user_id, "user_id")
        if not principal.is_admin and user_id != principal.user_id:
            raise ApiError(403, "forbidden", "Only an admin reads another user's costs")
        return Scope(principal.tenant_id, user_id)
    return principal.read_scope
