"""`/metrics` (Prometheus) and `/v1/costs` over real HTTP: what runs count, what they cost, who
may see it, and what an attacker cannot put in it."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from genai_prices import Usage as PriceUsage
from genai_prices import calc_price
from prometheus_client.parser import text_string_to_metric_families
from runtime_agents import _prompt, gate, gated_model
from test_auth import SECRET, bearer, token

from covey.core import Agent, Team
from covey.core.observe import add_observer, remove_observer
from covey.core.testing import AgentInfo, FunctionModel, TestModel
from covey.runtime import Registry
from covey.runtime.metrics import RunMetrics
from covey.spec import ModelRequest, ModelResponse, TextPart, ToolCallPart, tool
from covey.spec.usage import Usage

Messages = list[ModelRequest | ModelResponse]
PLANTED = "sk-planted-secret-4f9a1c"


def _priced(text: str, *, model: str = "gpt-4o", provider: str = "openai") -> ModelResponse:
    return ModelResponse(
        parts=[TextPart(content=text)],
        model_name=model,
        provider_name=provider,
        usage=Usage(input_tokens=1000, output_tokens=500, cache_read_tokens=200, requests=1),
    )


def _returned(messages: Messages) -> bool:
    last = messages[-1]
    return isinstance(last, ModelRequest) and any(
        p.kind in ("tool-return", "retry-prompt") for p in last.parts
    )


@tool
def lookup(key: str) -> str:
    """Look a key up; fails for `bad`.

    Args:
        key: The key.
    """
    if key == "bad":
        raise ValueError(f"no such key (token {PLANTED})")
    return f"value of {key}"


def tooling_model(messages: Messages, info: AgentInfo) -> ModelResponse:
    """Calls `lookup` with the prompt as key, then answers (two priced requests per run)."""
    if _returned(messages):
        return _priced("done")
    response = _priced("")
    return response.model_copy(
        update={
            "parts": [
                ToolCallPart(tool_name="lookup", args={"key": _prompt(messages)}, tool_call_id="l1")
            ]
        }
    )


def member_model(messages: Messages, info: AgentInfo) -> ModelResponse:
    return _priced(
        f"member on {_prompt(messages)}", model="claude-sonnet-4-5", provider="anthropic"
    )


def leader_model(messages: Messages, info: AgentInfo) -> ModelResponse:
    if _returned(messages):
        return _priced("leader done")
    response = _priced("")
    call = ToolCallPart(
        tool_name="delegate_task",
        args={"member": "member", "task": _prompt(messages)},
        tool_call_id="t1",
    )
    return response.model_copy(update={"parts": [call]})


def registry() -> Registry:
    member = Agent(
        name="member",
        model=FunctionModel(member_model, model_name="claude-sonnet-4-5"),
        description="Helps.",
    )
    return Registry(
        [
            Agent(
                name="tooling",
                model=FunctionModel(tooling_model, model_name="gpt-4o"),
                tools=[lookup],
            ),
            Agent(name="local", model=TestModel()),
            Agent(name="gated", model=FunctionModel(gated_model), tools=[gate], tool_timeout=None),
            Team(
                name="crew",
                members=[member],
                model=FunctionModel(leader_model, model_name="gpt-4o"),
            ),
        ]
    )


def one_price(model: str = "gpt-4o", provider: str = "openai") -> Decimal:
    """The library's own price of one `_priced` request (the table may change between versions,
    so the tests compare with it rather than with a number written here)."""
    usage = PriceUsage(input_tokens=1000, output_tokens=500, cache_read_tokens=200)
    return calc_price(usage, model, provider_id=provider).total_price


def scrape(
    api: httpx.Client, **options: Any
) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = api.get("/metrics", **options)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: dict[Any, float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture
def api(serve: Any) -> httpx.Client:
    return serve(registry=registry())[1]


def test_runs_tokens_cost_and_tool_errors_are_counted(api: httpx.Client) -> None:
    before = scrape(api)
    for key in ("good", "bad"):
        run = api.post("/v1/agents/tooling/runs", json={"input": key}).json()
        assert run["status"] == "completed", run
    after = scrape(api)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("covey_runs_total", agent="tooling", status="completed") == 2
    assert delta("covey_run_duration_seconds_count", agent="tooling", status="completed") == 2
    m = {"model": "gpt-4o", "provider": "openai"}
    assert delta("covey_model_requests_total", **m, outcome="completed") == 4
    assert (
        delta("covey_model_request_duration_seconds_count", model="gpt-4o", outcome="completed")
        == 4
    )
    assert delta("covey_tokens_total", **m, kind="input") == 4000
    assert delta("covey_tokens_total", **m, kind="output") == 2000
    assert delta("covey_tokens_total", **m, kind="cache_read") == 800
    assert delta("covey_cost_usd_total", **m) == pytest.approx(float(4 * one_price()))
    assert delta("covey_tool_calls_total", tool="lookup", outcome="completed") == 1
    assert delta("covey_tool_calls_total", tool="lookup", outcome="failed") == 1
    assert delta("covey_tool_errors_total", tool="lookup") == 1
    assert value(after, "covey_runs_in_flight", agent="tooling") == 0
    assert value(after, "covey_agents") == 3
    assert value(after, "covey_teams") == 1
    assert value(after, "covey_accepting_runs") == 1


def test_a_local_model_is_counted_but_never_priced(api: httpx.Client) -> None:
    assert api.post("/v1/agents/local/runs", json={"input": "hi"}).json()["status"] == "completed"
    samples = scrape(api)
    assert value(samples, "covey_model_requests_unpriced_total", model="test", provider="test") == 1
    assert value(samples, "covey_cost_usd_total", model="test", provider="test") == 0
    cost = api.get("/v1/costs").json()
    assert cost["unpriced_requests"] == 1
    assert cost["cost_usd"] == 0


def test_runs_in_flight_rise_and_fall(api: httpx.Client, gates: Path) -> None:
    accepted = api.post("/v1/agents/gated/runs", json={"input": "wait", "background": True})
    assert accepted.status_code == 202
    run_id = accepted.json()["run_id"]
    # The run is in flight until its gate opens (the tool waits on the gate file).
    assert value(scrape(api), "covey_runs_in_flight", agent="gated") == 1
    (gates / "wait").touch()
    with api.stream("GET", f"/v1/runs/{run_id}/events") as events:
        for _ in events.iter_lines():
            pass
    assert api.get(f"/v1/runs/{run_id}").json()["status"] == "completed"
    samples = scrape(api)
    assert value(samples, "covey_runs_in_flight", agent="gated") == 0
    assert value(samples, "covey_runs_total", agent="gated", status="completed") == 1


def test_a_team_run_costs_its_own_requests_plus_its_members(api: httpx.Client) -> None:
    run = api.post("/v1/teams/crew/runs", json={"input": "plan"}).json()
    assert run["status"] == "completed", run
    cost = api.get(f"/v1/costs/runs/{run['run_id']}").json()
    leader = 2 * one_price()
    member = one_price("claude-sonnet-4-5", "anthropic")
    assert cost["cost_usd"] == pytest.approx(float(leader))
    assert cost["total_cost_usd"] == pytest.approx(float(leader + member))
    assert {(m["model"], m["requests"]) for m in cost["by_model"]} == {
        ("gpt-4o", 2),
        ("claude-sonnet-4-5", 1),
    }
    assert cost["prices"].startswith("genai-prices ")
    # The tenant's total counts every run once: the team run and its member run.
    tenant = api.get("/v1/costs").json()
    assert tenant["runs"] == 2
    assert tenant["cost_usd"] == pytest.approx(float(leader + member))
    samples = scrape(api)
    assert value(samples, "covey_runs_total", agent="member", status="completed") == 1
    assert value(samples, "covey_runs_total", agent="crew", status="completed") == 1


def test_costs_per_session(api: httpx.Client) -> None:
    for session in ("s1", "s1", "s2"):
        body = {"input": "good", "session_id": session}
        assert api.post("/v1/agents/tooling/runs", json=body).json()["status"] == "completed"
    s1 = api.get("/v1/costs", params={"session_id": "s1"}).json()
    assert s1["runs"] == 2
    assert s1["cost_usd"] == pytest.approx(float(4 * one_price()))
    assert api.get("/v1/costs", params={"session_id": "s2"}).json()["runs"] == 1
    bad = api.get("/v1/costs", params={"session_id": "bad\nid"})
    assert bad.status_code == 400
    assert bad.json()["type"] == "urn:covey:problem:validation-error"
    assert api.get("/v1/costs/runs/no-such-run").status_code == 404


@pytest.fixture
def jwt_api(serve: Any) -> httpx.Client:
    return serve(registry=registry(), auth="jwt", jwt_secret=SECRET)[1]


def test_metrics_need_admin_and_costs_stay_in_their_scope(jwt_api: httpx.Client) -> None:
    api = jwt_api
    alice, bob = bearer(token("alice")), bearer(token("bob"))
    admin = bearer(token("root", scope="admin"))
    other_tenant_admin = bearer(token("root", tenant="globex", scope="admin"))
    assert api.get("/metrics").status_code == 401
    assert api.get("/metrics", headers=alice).status_code == 403
    for who, times in ((alice, 1), (bob, 2)):
        for _ in range(times):
            run = api.post("/v1/agents/tooling/runs", json={"input": "good"}, headers=who)
            assert run.json()["status"] == "completed"
    two = float(2 * one_price())
    mine = api.get("/v1/costs", headers=alice).json()
    assert (mine["user_id"], mine["runs"]) == ("alice", 1)
    assert mine["cost_usd"] == pytest.approx(two)
    assert api.get("/v1/costs", headers=bob).json()["cost_usd"] == pytest.approx(2 * two)
    # A user never reads another user's costs, nor another tenant's.
    refused = api.get("/v1/costs", params={"user_id": "bob"}, headers=alice)
    assert refused.status_code == 403
    tenant = api.get("/v1/costs", headers=admin).json()
    assert (tenant["tenant_id"], tenant["user_id"], tenant["runs"]) == ("acme", None, 3)
    assert tenant["cost_usd"] == pytest.approx(3 * two)
    only_bob = api.get("/v1/costs", params={"user_id": "bob"}, headers=admin).json()
    assert only_bob["runs"] == 2
    assert api.get("/v1/costs", headers=other_tenant_admin).json()["runs"] == 0
    samples = scrape(api, headers=admin)
    assert value(samples, "covey_runs_total", agent="tooling", status="completed") == 3


def test_no_prompt_argument_error_or_user_reaches_the_metrics(jwt_api: httpx.Client) -> None:
    api = jwt_api
    user = bearer(token(f"user-{PLANTED}"))
    for key in (PLANTED, "bad"):
        api.post("/v1/agents/tooling/runs", json={"input": key}, headers=user)
    text = api.get("/metrics", headers=bearer(token("root", scope="admin"))).text
    assert "covey_tool_errors_total" in text
    for secret in (PLANTED, "user-", "acme", SECRET):
        assert secret not in text


async def test_made_up_tool_names_cannot_blow_up_the_label_space() -> None:
    """A model (or a prompt injection steering it) calling hundreds of tools that do not exist
    makes at most `max_label_values` tool series, plus `_other`."""
    names = [f"no_such_tool_{i}" for i in range(60)]

    def wild(messages: Messages, info: AgentInfo) -> ModelResponse:
        if _returned(messages):
            return ModelResponse(parts=[TextPart(content="gave up")])
        calls = [
            ToolCallPart(tool_name=n, args={}, tool_call_id=f"c{i}") for i, n in enumerate(names)
        ]
        return ModelResponse(parts=calls)

    failed: list[str] = []

    def count(event: Any, scope: Any) -> None:
        if event.type == "tool_call.failed":
            failed.append(event.tool_name)

    metrics = RunMetrics(max_label_values=5)
    add_observer(count)
    try:
        async with metrics.running(warm=False):
            await Agent(name="wild", model=FunctionModel(wild), tools=[lookup]).run("go")
    finally:
        remove_observer(count)
    assert len(set(failed)) == 60
    families = {f.name: f for f in text_string_to_metric_families(metrics.render_now())}
    tools = {s.labels["tool"] for s in families["covey_tool_errors"].samples}
    assert len(tools) == 6
    assert "_other" in tools
    assert sum(
        s.value for s in families["covey_tool_errors"].samples if s.name.endswith("_total")
    ) == len(failed)


async def test_an_observer_removed_at_exit_counts_nothing_more() -> None:
    metrics = RunMetrics()
    agent = Agent(name="quiet", model=TestModel())
    async with metrics.running(warm=False):
        await agent.run("one")
    await agent.run("two")
    families = {f.name: f for f in text_string_to_metric_families(metrics.render_now())}
    runs = [s for s in families["covey_runs"].samples if s.name == "covey_runs_total"]
    assert [(s.labels, s.value) for s in runs] == [({"agent": "quiet", "status": "completed"}, 1.0)]


def test_a_cost_listing_is_bounded_and_says_so(
    api: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    from covey.runtime import costs

    monkeypatch.setattr(costs, "PAGE_SIZE", 2)
    monkeypatch.setattr(costs, "MAX_COST_RUNS", 3)
    for _ in range(5):
        assert api.post("/v1/agents/local/runs", json={"input": "hi"}).status_code == 200
    cost = api.get("/v1/costs").json()
    assert (cost["runs"], cost["truncated"]) == (3, True)
    monkeypatch.setattr(costs, "MAX_COST_RUNS", 5)
    cost = api.get("/v1/costs").json()
    assert (cost["runs"], cost["truncated"]) == (5, False)
