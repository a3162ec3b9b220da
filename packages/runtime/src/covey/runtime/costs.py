"""What runs cost, from `genai-prices`' dated price table: per model request, run, session, user
and tenant.

Prices come from `genai-prices` (pydantic's maintained table of providers, models and their
price history), never from a dict kept here. Only the snapshot bundled with the installed
version is used: nothing is downloaded (upgrading the package updates the prices).

A request is priced from its own response: model name, the provider the adapter reported, its
token usage and its timestamp, so a price change applies to requests made after it, tiered
prices (long contexts) apply per request, and runs stored before this module existed are priced
too. A provider the table does not know (a local model, `test`, an OpenAI-compatible server of
your own) is never guessed: its requests are "unpriced" and counted as such.

Importing the price table takes about half a second and its first lookup as long again; both
happen on first use, in a worker thread when called from the runtime.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from functools import cache
from typing import Any

import anyio

from covey.spec.messages import ModelResponse
from covey.spec.store import MAX_PAGE_SIZE, Run, Scope, Store
from covey.spec.usage import Usage

__all__ = [
    "MAX_COST_RUNS",
    "CostSummary",
    "ModelCost",
    "price",
    "price_request",
    "price_runs",
    "prices_version",
    "run_cost",
    "sum_descendants",
    "sum_runs",
    "warm_prices",
]

log = logging.getLogger("covey.runtime.costs")

_MAX_NAME = 200

MAX_COST_RUNS = 100_000
"""The most runs one cost listing reads; past it the answer says it was cut short."""

MAX_CHILDREN = 10_000
"""The most member and step runs counted below one run."""

PAGE_SIZE = MAX_PAGE_SIZE


@cache
def _table() -> tuple[Any, frozenset[str]]:
    """`genai_prices.calc_price` and the provider ids it knows (imported once, lazily)."""
    import genai_prices
    from genai_prices import data_snapshot

    providers = frozenset(p.id for p in data_snapshot.get_snapshot().providers)
    return genai_prices, providers


def warm_prices() -> None:
    """Load the price table and its lookup caches now (a worker thread calls this at startup,
    so the first priced request of a run does not pay for it)."""
    price("gpt-4o", "openai", Usage(input_tokens=1, output_tokens=1), None)


def price(model: str, provider: str | None, usage: Usage, at: datetime | None) -> Decimal | None:
    """The price in USD of one model request, or `None` when the table has no price for it.

    Args:
        model: The model's name as the provider knows it (`gpt-4o`, `claude-sonnet-4-5`).
        provider: The provider the adapter reported (`openai`, `anthropic`, `google`...). An
            unknown or missing provider is not priced: a model served by a local or private
            server with a famous name is not charged at that vendor's price.
        usage: The request's tokens (`input_tokens` includes cached ones, as in the table).
        at: When the request was made (prices in force then); `None` for now.
    """
    if not provider or not model or len(model) > _MAX_NAME:
        return None
    prices, known = _table()
    provider_id = provider.lower()
    if provider_id not in known:
        return None
    if not (usage.input_tokens or usage.output_tokens):
        return Decimal(0)
    tokens = prices.Usage(
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        cache_read_tokens=usage.cache_read_tokens,
        cache_write_tokens=usage.cache_write_tokens,
    )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            calc = prices.calc_price(
                tokens, model, provider_id=provider_id, genai_request_timestamp=at
            )
    except LookupError:
        return None
    except Exception as exc:  # a malformed table entry must not fail a run or a scrape
        log.warning("pricing %r of %r failed: %s", model[:100], provider_id, type(exc).__name__)
        return None
    return Decimal(calc.total_price)


def price_request(response: ModelResponse, model: str | None = None) -> Decimal | None:
    """The price of the request that produced `response` (its model, provider, usage, time).

    Args:
        response: The model's response.
        model: The model name to price, when the caller knows a better one than the response's.
    """
    name = model or response.model_name
    if name is None:
        return None
    return price(name, response.provider_name, response.usage, response.timestamp)


@dataclass(slots=True)
class ModelCost:
    """What one model cost: requests, tokens and USD (`unpriced` requests have no price)."""

    model: str
    provider: str | None
    requests: int = 0
    unpriced: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: Decimal = field(default_factory=Decimal)


@dataclass(slots=True)
class CostSummary:
    """The cost of some runs, total and by model."""

    runs: int = 0
    cost_usd: Decimal = field(default_factory=Decimal)
    requests: int = 0
    unpriced_requests: int = 0
    by_model: dict[tuple[str, str | None], ModelCost] = field(
        default_factory=dict[tuple[str, str | None], ModelCost]
    )

    def add_response(self, response: ModelResponse) -> None:
        """Count one model response."""
        model = (response.model_name or "unknown")[:_MAX_NAME]
        key = (model, response.provider_name)
        entry = self.by_model.get(key)
        if entry is None:
            entry = self.by_model[key] = ModelCost(model=model, provider=response.provider_name)
        entry.requests += 1
        entry.input_tokens += response.usage.input_tokens
        entry.output_tokens += response.usage.output_tokens
        self.requests += 1
        cost = price_request(response)
        if cost is None:
            entry.unpriced += 1
            self.unpriced_requests += 1
            return
        entry.cost_usd += cost
        self.cost_usd += cost

    def add_run(self, run: Run) -> None:
        """Count the model responses of `run` itself (a member's or step's own requests are
        counted in its own run row, so adding every run of a scope counts each once)."""
        self.runs += 1
        for message in run.messages:
            if isinstance(message, ModelResponse) and message.run_id in (None, run.id):
                self.add_response(message)

    def merge(self, other: CostSummary) -> None:
        """Add `other` into this summary."""
        self.runs += other.runs
        self.cost_usd += other.cost_usd
        self.requests += other.requests
        self.unpriced_requests += other.unpriced_requests
        for key, entry in other.by_model.items():
            mine = self.by_model.get(key)
            if mine is None:
                mine = self.by_model[key] = ModelCost(model=entry.model, provider=entry.provider)
            mine.requests += entry.requests
            mine.unpriced += entry.unpriced
            mine.input_tokens += entry.input_tokens
            mine.output_tokens += entry.output_tokens
            mine.cost_usd += entry.cost_usd


def run_cost(runs: Iterable[Run]) -> CostSummary:
    """The cost of `runs`, each counted for its own model requests."""
    summary = CostSummary()
    for run in runs:
        summary.add_run(run)
    return summary


def prices_version() -> str:
    """The price table in use: `genai-prices <version>`."""
    from importlib.metadata import version

    return f"genai-prices {version('genai-prices')}"


async def price_runs(summary: CostSummary, runs: list[Run]) -> None:
    """Price `runs` into `summary` in a worker thread (the table's look-ups are CPU work)."""

    def work() -> None:
        for run in runs:
            summary.add_run(run)

    await anyio.to_thread.run_sync(work)


async def sum_runs(
    store: Store, scope: Scope, summary: CostSummary, *, session_id: str | None = None
) -> bool:
    """Price the scope's runs (or one session's) into `summary`, page by page, so one page is
    in memory at a time; returns whether `MAX_COST_RUNS` cut the listing short."""
    cursor: str | None = None
    while True:
        page = await store.list_runs(scope, session_id=session_id, limit=PAGE_SIZE, cursor=cursor)
        await price_runs(summary, page.items[: max(MAX_COST_RUNS - summary.runs, 0)])
        cursor = page.next_cursor
        if cursor is None:
            return False
        if summary.runs >= MAX_COST_RUNS:
            return True


async def sum_descendants(store: Store, scope: Scope, summary: CostSummary, run_id: str) -> None:
    """Price the member and step runs below `run_id` into `summary`, breadth first, at most
    `MAX_CHILDREN` of them."""
    queue = [run_id]
    seen = {run_id}
    while queue and len(seen) <= MAX_CHILDREN:
        parent = queue.pop(0)
        cursor: str | None = None
        while True:
            page = await store.list_runs(
                scope, parent_run_id=parent, limit=PAGE_SIZE, cursor=cursor
            )
            fresh = [child for child in page.items if child.id not in seen]
            seen.update(child.id for child in fresh)
            queue.extend(child.id for child in fresh)
            await price_runs(summary, fresh)
            cursor = page.next_cursor
            if cursor is None or len(seen) > MAX_CHILDREN:
                break
