"""An agent given a model *string* runs a tool-calling conversation end to end against each
provider's loopback fake server, streaming and not, with usage totals that add up.

The key and base URL come from the environment, exactly as a user would configure them; the
real provider SDK does the HTTP.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest

from covey.core import Agent, RunStatus
from covey.spec import events as ev
from covey.spec.plugins import refresh


def get_weather(city: str) -> str:
    """Current weather.

    Args:
        city: The city.
    """
    return f"21 C and sunny in {city}"


@dataclass
class Provider:
    model_string: str
    serve: Callable[[bool], Any]
    """`serve(stream)` returns a context manager yielding (base_url, server with `.requests`)
    for a two-turn script."""
    env: Callable[[str], dict[str, str]]
    expected_input_tokens: int
    expected_output_tokens: int


@contextmanager
def anthropic_server(stream: bool) -> Iterator[tuple[str, Any]]:
    from covey.models.anthropic.testing import (
        FakeAnthropicServer,
        text_message,
        tool_call_message,
    )

    script = [
        tool_call_message("get_weather", {"city": "Paris"}, input_tokens=30, output_tokens=7),
        text_message("It is 21 C and sunny in Paris.", input_tokens=50, output_tokens=9),
    ]
    with FakeAnthropicServer(script) as server:
        yield server.url, server


@contextmanager
def google_server(stream: bool) -> Iterator[tuple[str, Any]]:
    from covey.models.google.testing import (
        FakeGeminiServer,
        function_call_answer,
        text_answer,
        usage_metadata,
    )

    script = [
        function_call_answer("get_weather", {"city": "Paris"}, usage=usage_metadata(30, 7)),
        text_answer("It is 21 C and sunny in Paris.", usage=usage_metadata(50, 9)),
    ]
    with FakeGeminiServer(script) as server:
        yield server.url, server


@contextmanager
def openai_server(stream: bool) -> Iterator[tuple[str, Any]]:
    from covey.models.openai.testing import FakeOpenAIServer, FakeToolCall, reply

    def usage(prompt: int, completion: int) -> dict[str, int]:
        return {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }

    script = [
        reply(
            tool_calls=[FakeToolCall("get_weather", {"city": "Paris"}, call_id="call_1")],
            stream=stream,
            usage=usage(30, 7),
        ),
        reply(text="It is 21 C and sunny in Paris.", stream=stream, usage=usage(50, 9)),
    ]
    with FakeOpenAIServer(script) as server:
        yield server.url, server


PROVIDERS: dict[str, Provider] = {
    "anthropic": Provider(
        model_string="anthropic:claude-sonnet-4-5",
        serve=anthropic_server,
        env=lambda url: {"ANTHROPIC_API_KEY": "sk-ant-test", "ANTHROPIC_BASE_URL": url},
        expected_input_tokens=80,
        expected_output_tokens=16,
    ),
    "openai": Provider(
        model_string="openai:gpt-4.1",
        serve=openai_server,
        env=lambda url: {"OPENAI_API_KEY": "sk-test", "OPENAI_BASE_URL": url},
        expected_input_tokens=80,
        expected_output_tokens=16,
    ),
    "google": Provider(
        model_string="google:gemini-2.5-flash",
        serve=google_server,
        env=lambda url: {"GEMINI_API_KEY": "test-key", "GOOGLE_GEMINI_BASE_URL": url},
        expected_input_tokens=80,
        expected_output_tokens=16,
    ),
}


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize("name", sorted(PROVIDERS))
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
async def test_agent_runs_a_tool_conversation_from_a_model_string(
    name: str, stream: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    provider = PROVIDERS[name]
    refresh()
    with provider.serve(stream) as (url, server):
        for key, value in provider.env(url).items():
            monkeypatch.setenv(key, value)
        agent = Agent(model=provider.model_string, tools=[get_weather])
        if stream:
            events = [e async for e in agent.run_stream("Weather in Paris?")]
            final = events[-1]
            assert isinstance(final, ev.RunCompleted)
            result = final.result
            deltas = "".join(e.delta for e in events if isinstance(e, ev.TextDelta))
            assert deltas == result.output
        else:
            result = await agent.run("Weather in Paris?")
    assert result.status is RunStatus.COMPLETED, result.error
    assert result.output == "It is 21 C and sunny in Paris."
    assert [c.result for c in result.tool_calls] == ["21 C and sunny in Paris"]
    assert result.usage.requests == 2
    assert result.usage.tool_calls == 1
    assert result.usage.input_tokens == provider.expected_input_tokens
    assert result.usage.output_tokens == provider.expected_output_tokens
    assert len(server.requests) == 2, "exactly two requests reached the fake server"
