"""Prometheus metrics of this process, counted by a run observer (`covey.core.observe`).

The observer sees every event of every run in the process (agents, teams, members, workflows,
steps) and only counts: a dictionary look-up and a counter increment per event, no I/O, no
await. Prices are not looked up in the observer: a model request's usage is queued and priced
when `/metrics` is scraped, in a worker thread (the price table takes a second to load), or
inline once the queue holds `_MAX_PENDING` requests, so memory stays bounded without scrapes.

Labels are bounded: agent, model, provider and tool names come from the server's configuration,
except a tool name a model made up (a call to a tool that does not exist), so every label
keeps at most `max_label_values` values and folds the rest into `_other`. No tenant, user,
session or run id is ever a label (their number has no bound; per-tenant and per-user cost is at
`/v1/costs`), and no prompt, output or argument is recorded.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any

import anyio

from covey.core.observe import add_observer, remove_observer
from covey.spec import events as ev
from covey.spec.messages import ModelResponse

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, Callable

    from covey.spec.store import Scope

__all__ = ["CONTENT_TYPE", "RunMetrics"]

log = logging.getLogger("covey.runtime.metrics")

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
"""The Prometheus text exposition format."""

OTHER = "_other"
"""The label value standing for every value past a label's limit."""

_MAX_PENDING = 10_000
_MAX_OPEN = 100_000
"""Runs, model requests and tool calls tracked as open at once; past it the oldest is dropped
(its latency is not observed), so runs that never end (a killed process) cannot grow memory."""

_LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800)

_FINAL: dict[str, str] = {
    "run.completed": "completed",
    "run.failed": "failed",
    "run.paused": "paused",
    "run.cancelled": "cancelled",
}
_REQUEST_END: dict[str, str] = {
    "model_request.completed": "completed",
    "model_request.failed": "failed",
    "model_request.cancelled": "cancelled",
}


class _Cap:
    """Keeps a label to `limit` distinct values; later new values become `_other`."""

    __slots__ = ("limit", "seen")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.seen: set[str] = set()

    def __call__(self, value: str | None) -> str:
        text = (value or "unknown")[:100]
        if text in self.seen:
            return text
        if len(self.seen) >= self.limit:
            return OTHER
        self.seen.add(text)
        return text


class _Open:
    """Start times of things in flight, keyed by id, bounded (oldest dropped first)."""

    __slots__ = ("_items",)

    def __init__(self) -> None:
        self._items: dict[Any, tuple[datetime, str]] = {}

    def start(self, key: Any, time: datetime, label: str) -> None:
        if len(self._items) >= _MAX_OPEN:
            self._items.pop(next(iter(self._items)))
        self._items[key] = (time, label)

    def end(self, key: Any) -> tuple[datetime, str] | None:
        return self._items.pop(key, None)

    def labels(self) -> list[str]:
        # Read from the scrape's worker thread while the event loop writes: `tuple()` copies
        # the values in one C call under the GIL, so the dict never changes mid-iteration.
        return [label for _, label in tuple(self._items.values())]

    def __len__(self) -> int:
        return len(self._items)


class RunMetrics:
    """The metrics of this process's runs, in a registry of their own.

    Args:
        gauges: Called at each scrape for extra gauges: `(name, help, value)` triples (the
            runtime's runs in progress, agents served...).
        max_label_values: How many distinct values a label keeps before folding new ones into
            `_other`.

    Example:
        ```python
        from covey.runtime.metrics import RunMetrics

        metrics = RunMetrics()
        text = metrics.render_now()  # the exposition text (no run seen yet)
        assert "covey_runs_in_flight" in text
        ```
    """

    def __init__(
        self,
        *,
        gauges: Callable[[], list[tuple[str, str, float]]] | None = None,
        max_label_values: int = 200,
    ) -> None:
        from prometheus_client import CollectorRegistry, Counter, Histogram

        self.registry = CollectorRegistry(auto_describe=True)
        self.gauges = gauges
        self._agent = _Cap(max_label_values)
        self._model = _Cap(max_label_values)
        self._provider = _Cap(max_label_values)
        self._tool = _Cap(max_label_values)
        self._runs: _Open = _Open()
        self._requests: _Open = _Open()
        self._pending: list[tuple[str, str, ModelResponse]] = []
        self._price_lock = threading.Lock()
        r = self.registry
        self.runs = Counter(
            "covey_runs",
            "Runs that ended (or paused), by agent, team or workflow and status.",
            ["agent", "status"],
            registry=r,
        )
        self.run_duration = Histogram(
            "covey_run_duration_seconds",
            "Run latency, from run.started to its final (or paused) event, in this process.",
            ["agent", "status"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.model_requests = Counter(
            "covey_model_requests",
            "Model requests that ended, by model, provider and outcome.",
            ["model", "provider", "outcome"],
            registry=r,
        )
        self.model_request_duration = Histogram(
            "covey_model_request_duration_seconds",
            "Model request latency (retries and fallbacks included).",
            ["model", "outcome"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.tokens = Counter(
            "covey_tokens",
            "Tokens by model, provider and kind (input includes cache_read; output includes "
            "reasoning).",
            ["model", "provider", "kind"],
            registry=r,
        )
        self.cost = Counter(
            "covey_cost_usd",
            "Model cost in USD from the genai-prices table, by model and provider.",
            ["model", "provider"],
            registry=r,
        )
        self.unpriced = Counter(
            "covey_model_requests_unpriced",
            "Model requests the price table has no price for (unknown provider or model).",
            ["model", "provider"],
            registry=r,
        )
        self.tool_calls = Counter(
            "covey_tool_calls",
            "Tool calls that ended, by tool and outcome (completed, failed, cancelled).",
            ["tool", "outcome"],
            registry=r,
        )
        self.tool_errors = Counter(
            "covey_tool_errors",
            "Tool calls that failed, by tool (the model may have been asked to retry).",
            ["tool"],
            registry=r,
        )
        self.tool_duration = Histogram(
            "covey_tool_call_duration_seconds",
            "Tool call latency, by tool.",
            ["tool"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        r.register(_Live(self))

    # --- the observer ----------------------------------------------------------------------------

    def observe(self, event: ev.BaseEvent, scope: Scope) -> None:
        """Count `event` (a run observer: cheap, never raises for a well-formed event)."""
        kind = event.type
        if kind == "run.started":
            self._runs.start(event.run_id, event.time, self._agent(event.agent_name))
        elif kind in _FINAL:
            status = _FINAL[kind]
            opened = self._runs.end(event.run_id)
            agent = opened[1] if opened else self._agent(event.agent_name)
            self.runs.labels(agent, status).inc()
            if opened is not None:
                seconds = (event.time - opened[0]).total_seconds()
                self.run_duration.labels(agent, status).observe(max(seconds, 0.0))
        elif isinstance(event, ev.ModelRequestStarted):
            key = (event.run_id, event.step)
            self._requests.start(key, event.time, self._model(event.model_name))
        elif isinstance(
            event, ev.ModelRequestCompleted | ev.ModelRequestFailed | ev.ModelRequestCancelled
        ):
            self._request_ended(event)
        elif isinstance(event, ev.ToolCallCompleted):
            tool = self._tool(event.tool_name)
            self.tool_calls.labels(tool, "completed").inc()
            self.tool_duration.labels(tool).observe(max(event.duration, 0.0))
        elif isinstance(event, ev.ToolCallFailed):
            tool = self._tool(event.tool_name)
            self.tool_calls.labels(tool, "failed").inc()
            self.tool_errors.labels(tool).inc()
            self.tool_duration.labels(tool).observe(max(event.duration, 0.0))
        elif isinstance(event, ev.ToolCallCancelled):
            self.tool_calls.labels(self._tool(event.tool_name), "cancelled").inc()

    def _request_ended(
        self, event: ev.ModelRequestCompleted | ev.ModelRequestFailed | ev.ModelRequestCancelled
    ) -> None:
        outcome = _REQUEST_END[event.type]
        opened = self._requests.end((event.run_id, event.step))
        model = opened[1] if opened else self._model(event.model_name)
        if opened is not None:
            seconds = (event.time - opened[0]).total_seconds()
            self.model_request_duration.labels(model, outcome).observe(max(seconds, 0.0))
        if not isinstance(event, ev.ModelRequestCompleted):
            self.model_requests.labels(model, "unknown", outcome).inc()
            return
        provider = self._provider(event.response.provider_name)
        self.model_requests.labels(model, provider, outcome).inc()
        usage = event.usage
        for kind, value in (
            ("input", usage.input_tokens),
            ("output", usage.output_tokens),
            ("cache_read", usage.cache_read_tokens),
            ("cache_write", usage.cache_write_tokens),
            ("reasoning", usage.reasoning_tokens),
        ):
            if value > 0:
                self.tokens.labels(model, provider, kind).inc(value)
        self._pending.append((model, provider, event.response))
        if len(self._pending) >= _MAX_PENDING:
            self.price_pending()

    # --- pricing and scraping --------------------------------------------------------------------

    def price_pending(self, batch: list[tuple[str, str, ModelResponse]] | None = None) -> int:
        """Price queued model requests into `covey_cost_usd` (all queued ones, or `batch`
        already taken off the queue); returns how many."""
        from covey.runtime.costs import price

        if batch is None:
            batch, self._pending = self._pending, []
        with self._price_lock:
            for model, provider, response in batch:
                name = response.model_name or model
                cost = price(name, response.provider_name, response.usage, response.timestamp)
                if cost is None:
                    self.unpriced.labels(model, provider).inc()
                else:
                    self.cost.labels(model, provider).inc(float(cost))
        return len(batch)

    def render_now(self) -> str:
        """The exposition text, pricing queued requests in this thread."""
        from prometheus_client import generate_latest

        self.price_pending()
        return generate_latest(self.registry).decode()

    async def render(self) -> str:
        """The exposition text; queued requests are priced and the text is built in a worker
        thread (the queue is taken here, on the event loop, where the observer appends)."""
        from prometheus_client import generate_latest

        batch, self._pending = self._pending, []

        def work() -> str:
            self.price_pending(batch)
            return generate_latest(self.registry).decode()

        return await anyio.to_thread.run_sync(work)

    @asynccontextmanager
    async def running(self, *, warm: bool = True) -> AsyncGenerator[None]:
        """Observe every run of this process while the context is open.

        Args:
            warm: Load the price table in a background thread now, so the first scrape is fast.
        """
        add_observer(self.observe)
        if warm:
            # A daemon thread, not a task: the server starts without waiting for the table,
            # and nothing of the app's own startup or shutdown errors gets wrapped or delayed.
            threading.Thread(target=_warm, name="covey-prices-warm", daemon=True).start()
        try:
            yield
        finally:
            remove_observer(self.observe)

    def in_flight(self) -> dict[str, int]:
        """Runs started and not yet ended in this process, by agent."""
        counts: dict[str, int] = {}
        for label in self._runs.labels():
            counts[label] = counts.get(label, 0) + 1
        return counts


def _warm() -> None:
    from covey.runtime.costs import warm_prices

    try:
        warm_prices()
    except Exception as exc:  # a broken price table leaves costs unpriced, never the server down
        log.warning("could not load the price table: %s: %s", type(exc).__name__, exc)


class _Live:
    """A collector for values read at scrape time: runs in flight and the caller's gauges."""

    def __init__(self, metrics: RunMetrics) -> None:
        self._metrics = metrics

    def describe(self) -> list[Any]:
        return []

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        flight = GaugeMetricFamily(
            "covey_runs_in_flight",
            "Runs started and not yet ended (or paused) in this process, by agent.",
            labels=["agent"],
        )
        for agent, count in sorted(self._metrics.in_flight().items()):
            flight.add_metric([agent], count)
        yield flight
        if self._metrics.gauges is not None:
            for name, text, value in self._metrics.gauges():
                yield GaugeMetricFamily(name, text, value=value)
