"""ModelSettings to request fields, per model family and per compatible server."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import httpx2
import pytest

from covey.models.openai import OpenAIChatModel
from covey.models.openai._settings import reasoning_effort
from covey.models.openai.profiles import openai_model_profile
from covey.spec import (
    ModelRequest,
    ModelRequestParams,
    ModelSettings,
    SystemPart,
    ToolDefinition,
    UserPart,
)

TEXT_COMPLETION = json.loads((Path(__file__).parent / "wire" / "chat_completion.json").read_text())

TOOL = ToolDefinition(name="t")
ALL = ModelSettings(
    max_tokens=256,
    temperature=0.2,
    top_p=0.9,
    stop=("END",),
    seed=7,
    presence_penalty=0.1,
    frequency_penalty=0.3,
    parallel_tool_calls=False,
    timeout=12.5,
    extra_headers={"X-Trace": "abc"},
    extra_body={"service_tier": "flex", "user": "u-1"},
)


def chat(mock: Any, name: str, provider: str = "openai") -> OpenAIChatModel:
    return OpenAIChatModel(name, provider=provider, api_key="key-123456", http_client=mock.client)


async def test_every_setting_on_gpt_4_1(mock_openai: Any) -> None:
    mock = mock_openai(httpx2.Response(200, json=TEXT_COMPLETION))
    await chat(mock, "gpt-4.1").request(
        [ModelRequest.user("Hi")], ALL, ModelRequestParams(function_tools=[TOOL])
    )
    body = mock.body()
    assert {k: v for k, v in body.items() if k not in ("messages", "tools")} == {
        "model": "gpt-4.1",
        "max_completion_tokens": 256,
        "temperature": 0.2,
        "top_p": 0.9,
        "stop": ["END"],
        "seed": 7,
        "presence_penalty": 0.1,
        "frequency_penalty": 0.3,
        "parallel_tool_calls": False,
        "service_tier": "flex",
        "user": "u-1",
    }
    request = mock.requests[0]
    assert request.headers["x-trace"] == "abc"
    assert request.extensions["timeout"]["read"] == 12.5


async def test_reasoning_model_drops_sampling_and_uses_developer_role(mock_openai: Any) -> None:
    mock = mock_openai(httpx2.Response(200, json=TEXT_COMPLETION))
    with pytest.warns(UserWarning, match="is left out for 'o4-mini'") as caught:
        await chat(mock, "o4-mini").request(
            [ModelRequest(parts=[SystemPart(content="Rules."), UserPart(content="Hi")])],
            ModelSettings(max_tokens=100, temperature=0.5, top_p=0.5, reasoning_effort="high"),
            ModelRequestParams(),
        )
    assert sorted(str(w.message).split(" is left out")[0] for w in caught) == [
        "ModelSettings.temperature",
        "ModelSettings.top_p",
    ]
    assert mock.body() == {
        "model": "o4-mini",
        "messages": [
            {"role": "developer", "content": "Rules."},
            {"role": "user", "content": "Hi"},
        ],
        "max_completion_tokens": 100,
        "reasoning_effort": "high",
    }


@pytest.mark.parametrize(
    ("budget", "effort"), [(0, "minimal"), (1024, "low"), (4096, "medium"), (20000, "high")]
)
async def test_thinking_budget_becomes_reasoning_effort(
    mock_openai: Any, budget: int, effort: str
) -> None:
    mock = mock_openai(httpx2.Response(200, json=TEXT_COMPLETION))
    await chat(mock, "gpt-5").request(
        [ModelRequest.user("Hi")], ModelSettings(thinking_budget=budget), ModelRequestParams()
    )
    assert mock.body()["reasoning_effort"] == effort


@pytest.mark.parametrize("effort", ["none", "minimal", "xhigh"])
async def test_every_reasoning_effort_is_sent_as_is(mock_openai: Any, effort: str) -> None:
    """Fails if an effort the API names (`none`, `xhigh`) is changed or dropped on the way."""
    mock = mock_openai(httpx2.Response(200, json=TEXT_COMPLETION))
    await chat(mock, "gpt-5.2").request(
        [ModelRequest.user("Hi")], ModelSettings(reasoning_effort=effort), ModelRequestParams()
    )
    assert mock.body()["reasoning_effort"] == effort


def test_explicit_effort_wins_over_budget() -> None:
    profile = openai_model_profile("o3")
    settings = ModelSettings(thinking_budget=0, reasoning_effort="high")
    assert reasoning_effort(settings, profile) == "high"
    assert (
        reasoning_effort(ModelSettings(thinking_budget=0), openai_model_profile("gpt-4.1")) is None
    )


async def test_reasoning_effort_on_a_non_reasoning_model_is_dropped(mock_openai: Any) -> None:
    mock = mock_openai(httpx2.Response(200, json=TEXT_COMPLETION))
    with pytest.warns(UserWarning, match="reasoning_effort"):
        await chat(mock, "gpt-4o-mini").request(
            [ModelRequest.user("Hi")], ModelSettings(reasoning_effort="low"), ModelRequestParams()
        )
    assert "reasoning_effort" not in mock.body()


async def test_compatible_server_uses_max_tokens(mock_openai: Any) -> None:
    mock = mock_openai(httpx2.Response(200, json=TEXT_COMPLETION))
    await chat(mock, "llama3.2", "ollama").request(
        [ModelRequest.user("Hi")], ModelSettings(max_tokens=64, seed=1), ModelRequestParams()
    )
    assert str(mock.requests[0].url) == "http://localhost:11434/v1/chat/completions"
    assert mock.body()["max_tokens"] == 64
    assert mock.body()["seed"] == 1
    assert "max_completion_tokens" not in mock.body()


async def test_mistral_quirks(mock_openai: Any) -> None:
    mock = mock_openai(httpx2.Response(200, json=TEXT_COMPLETION))
    m = chat(mock, "mistral-large-latest", "mistral")
    body, _ = m.build_request(
        [ModelRequest.user("Hi")],
        ModelSettings(seed=3),
        ModelRequestParams(function_tools=[TOOL], tool_choice="required"),
        stream=True,
    )
    # Mistral forbids unknown fields: no stream_options, `random_seed`, and `any` to force tools.
    assert "stream_options" not in body
    assert body["random_seed"] == 3
    assert "seed" not in body
    assert body["tool_choice"] == "any"


async def test_drop_warning_is_given_once_per_model(mock_openai: Any) -> None:
    mock = mock_openai(
        httpx2.Response(200, json=TEXT_COMPLETION), httpx2.Response(200, json=TEXT_COMPLETION)
    )
    m = chat(mock, "o3-pro-warn-once")
    settings = ModelSettings(frequency_penalty=1.0)
    with pytest.warns(UserWarning, match="frequency_penalty is left out"):
        await m.request([ModelRequest.user("Hi")], settings, ModelRequestParams())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        await m.request([ModelRequest.user("Hi")], settings, ModelRequestParams())


def test_sdk_clients_of_every_event_loop_share_one_tls_context() -> None:
    # `run_sync` runs each call on a new event loop, which gets its own SDK client; loading the
    # CA bundle for each one cost ~90 ms of CPU per call. Every client verifies with one context.
    import asyncio

    from covey.models.openai._client import shared_ssl_context

    model = OpenAIChatModel("gpt-4.1", api_key="sk-test", base_url="https://api.example.test/v1")

    async def tls_context() -> object:
        client = await model._client()  # pyright: ignore[reportPrivateUsage]
        pool = client._client._transport._pool  # pyright: ignore[reportPrivateUsage, reportUnknownMemberType, reportAttributeAccessIssue, reportUnknownVariableType]
        return pool._ssl_context  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]

    first, second = asyncio.run(tls_context()), asyncio.run(tls_context())
    assert first is second is shared_ssl_context()
    # A client the caller passes in is used as it is.
    own = httpx2.AsyncClient()
    mine = OpenAIChatModel("gpt-4.1", api_key="sk-test", http_client=own)
    assert asyncio.run(mine._client())._client is own  # pyright: ignore[reportPrivateUsage]
