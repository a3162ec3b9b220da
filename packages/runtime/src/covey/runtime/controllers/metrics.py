"""`/metrics` (Prometheus text, `admin`) and `/v1/costs` (what runs cost, per run, session,
user and tenant).

`/metrics` is this process's counters (see `covey.runtime.metrics`); a deployment of several
processes scrapes each. `/v1/costs` reads the store, so it answers the same from every process:
the cost of the runs a caller may read, priced per model request from its stored response.
"""

from __future__ import annotations

from typing import Annotated, Any

import anyio
from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from pydantic import BaseModel, ConfigDict, Field

from covey.runtime.auth import Principal
from covey.runtime.costs import CostSummary
from covey.runtime.guards import require_scope
from covey.runtime.metrics import CONTENT_TYPE, RunMetrics
from covey.runtime.problems import ApiError, problem_responses
from covey.runtime.state import RuntimeState
from covey.spec.store import MAX_PAGE_SIZE, Run, Scope, check_id

__all__ = ["CostController", "CostOut", "MetricsController", "ModelCostOut", "RunCostOut"]

STATE_KEY = "covey_metrics"
"""Where the app keeps its `RunMetrics` in `app.state`."""

MAX_COST_RUNS = 100_000
"""The most runs one `/v1/costs` answer reads; past it the answer says `truncated`."""

_MAX_CHILDREN = 10_000


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


def _prices_version() -> str:
    from importlib.metadata import version

    return f"genai-prices {version('genai-prices')}"


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
        truncated = await _sum_runs(runtime, scope, summary, session_id)
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
            prices=_prices_version(),
        )

    @get(
        "/runs/{run_id:str}",
        opt={"scope": "runs:read"},
        summary="Cost of a run",
        responses=problem_responses(401, 403, 404),
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
        await _price(own, [run])
        total = CostSummary()
        total.merge(own)
        await _sum_descendants(runtime, scope, total, run.id)
        return RunCostOut(
            run_id=run.id,
            cost_usd=float(own.cost_usd),
            total_cost_usd=float(total.cost_usd),
            requests=total.requests,
            unpriced_requests=total.unpriced_requests,
            by_model=_by_model(total),
            prices=_prices_version(),
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


async def _sum_runs(
    runtime: RuntimeState, scope: Scope, summary: CostSummary, session_id: str | None
) -> bool:
    """Price the scope's runs page by page into `summary` (one page in memory at a time);
    returns whether `MAX_COST_RUNS` cut the listing short."""
    cursor: str | None = None
    while True:
        page = await runtime.store.list_runs(
            scope, session_id=session_id, limit=MAX_PAGE_SIZE, cursor=cursor
        )
        await _price(summary, page.items[: MAX_COST_RUNS - summary.runs])
        cursor = page.next_cursor
        if cursor is None:
            return False
        if summary.runs >= MAX_COST_RUNS:
            return True


async def _sum_descendants(
    runtime: RuntimeState, scope: Scope, summary: CostSummary, run_id: str
) -> None:
    """Price the member and step runs below `run_id`, breadth first, at most `_MAX_CHILDREN`."""
    queue = [run_id]
    seen = {run_id}
    while queue and len(seen) <= _MAX_CHILDREN:
        parent = queue.pop(0)
        cursor: str | None = None
        while True:
            page = await runtime.store.list_runs(
                scope, parent_run_id=parent, limit=MAX_PAGE_SIZE, cursor=cursor
            )
            fresh = [child for child in page.items if child.id not in seen]
            seen.update(child.id for child in fresh)
            queue.extend(child.id for child in fresh)
            await _price(summary, fresh)
            cursor = page.next_cursor
            if cursor is None or len(seen) > _MAX_CHILDREN:
                break


async def _price(summary: CostSummary, runs: list[Run]) -> None:
    """Price `runs` into `summary` in a worker thread (the table's look-ups are CPU work)."""

    def work() -> None:
        for run in runs:
            summary.add_run(run)

    await anyio.to_thread.run_sync(work)
