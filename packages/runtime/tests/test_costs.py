"""Pricing with genai-prices: what is priced, what never is, and counting each request once."""

from __future__ import annotations

from decimal import Decimal

import pytest
from genai_prices import Usage as PriceUsage
from genai_prices import calc_price

from covey.core import Agent
from covey.core.testing import AgentInfo, FunctionModel
from covey.runtime import metrics as metrics_module
from covey.runtime.costs import price, run_cost
from covey.runtime.metrics import RunMetrics
from covey.spec import ModelRequest, ModelResponse, TextPart
from covey.spec.store import Run
from covey.spec.usage import Usage

USAGE = Usage(input_tokens=2000, output_tokens=300, cache_read_tokens=1000, cache_write_tokens=0)


def response(
    model: str = "gpt-4o", provider: str | None = "openai", **update: object
) -> ModelResponse:
    return ModelResponse(
        parts=[TextPart(content="x")], model_name=model, provider_name=provider, usage=USAGE
    ).model_copy(update=update)


def test_a_known_model_costs_what_the_table_says_cached_tokens_included() -> None:
    expected = calc_price(
        PriceUsage(input_tokens=2000, output_tokens=300, cache_read_tokens=1000),
        "gpt-4o",
        provider_id="openai",
    ).total_price
    assert price("gpt-4o", "openai", USAGE, None) == expected
    # Cached tokens are cheaper: the same tokens without the cache cost more.
    uncached = USAGE.model_copy(update={"cache_read_tokens": 0})
    got = price("gpt-4o", "OpenAI", uncached, None)
    assert got is not None and got > expected


@pytest.mark.parametrize(
    ("model", "provider"),
    [
        ("gpt-4o", None),  # no provider reported: never guessed
        ("gpt-4o", "test"),  # a test model named like a famous one
        ("gpt-4o", "my-vllm"),  # a private server serving a model with a famous name
        ("no-such-model-anywhere", "openai"),
        ("", "openai"),
        ("gpt-4o" + "x" * 500, "openai"),
    ],
)
def test_what_the_table_does_not_know_is_unpriced_not_guessed(
    model: str, provider: str | None
) -> None:
    assert price(model, provider, USAGE, None) is None


def test_no_tokens_cost_nothing() -> None:
    assert price("gpt-4o", "openai", Usage(), None) == Decimal(0)


def test_a_run_counts_its_own_responses_once() -> None:
    own = response()
    members = response(model="claude-sonnet-4-5", provider="anthropic", run_id="member-run")
    local = response(model="llama", provider="local")
    run = Run(id="team-run", messages=[ModelRequest.user("hi"), own, members, local])
    summary = run_cost([run])
    assert summary.runs == 1
    assert summary.requests == 2  # the member's response belongs to the member's run row
    assert summary.unpriced_requests == 1
    assert summary.cost_usd == price("gpt-4o", "openai", USAGE, None)
    assert {(m.model, m.requests, m.unpriced) for m in summary.by_model.values()} == {
        ("gpt-4o", 1, 0),
        ("llama", 1, 1),
    }


async def test_without_scrapes_the_queue_is_priced_inline_and_stays_bounded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(metrics_module, "_MAX_PENDING", 3)

    def model(messages: list[ModelRequest | ModelResponse], info: AgentInfo) -> ModelResponse:
        return response()

    metrics = RunMetrics()
    agent = Agent(name="a", model=FunctionModel(model, model_name="gpt-4o"))
    async with metrics.running(warm=False):
        for _ in range(4):
            await agent.run("hi")
    labels = {"model": "gpt-4o", "provider": "openai"}
    priced = metrics.registry.get_sample_value("covey_cost_usd_total", labels)
    one = price("gpt-4o", "openai", USAGE, None)
    assert one is not None
    assert priced == pytest.approx(float(3 * one))  # the fourth waits for the next scrape
    metrics.render_now()
    assert metrics.registry.get_sample_value("covey_cost_usd_total", labels) == pytest.approx(
        float(4 * one)
    )
