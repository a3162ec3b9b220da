"""An `Agent(model="bedrock:...")` runs a tool conversation end to end through real boto3 and the
fake Bedrock runtime, streamed and not, with exact usage; throttling is retried by Covey's run
loop (botocore's own retries are off); a guardrail intervention fails the run as a tripped
guardrail."""

from __future__ import annotations

from typing import Any

import pytest

from covey.core import Agent
from covey.core.retry import RetryPolicy
from covey.models.bedrock import BedrockModel
from covey.models.bedrock.testing import (
    FakeBedrockServer,
    FakeResponse,
    converse_response,
    text_response,
    tool_call_response,
)
from covey.spec import events as ev
from covey.spec.runs import RunStatus

MODEL = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"


def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"21 C and sunny in {city}"


@pytest.fixture
def env_server(server: FakeBedrockServer, monkeypatch: pytest.MonkeyPatch) -> FakeBedrockServer:
    # A model string carries no arguments: region and endpoint come from the AWS chain.
    monkeypatch.setenv("AWS_REGION", "us-west-2")
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", server.url)
    return server


def _script(server: FakeBedrockServer) -> None:
    server.add(
        tool_call_response(
            "get_weather",
            {"city": "Paris"},
            tool_use_id="tooluse_1",
            text="Let me check.",
            input_tokens=100,
            output_tokens=20,
            cache_write_tokens=1000,
        ),
        text_response(
            "It is 21 C and sunny in Paris.",
            input_tokens=150,
            output_tokens=12,
            cache_read_tokens=1000,
        ),
    )


def _check_conversation(server: FakeBedrockServer, result: Any) -> None:
    assert result.status is RunStatus.COMPLETED, result.error
    assert result.output == "It is 21 C and sunny in Paris."
    # Bedrock counts cached tokens apart from inputTokens; Covey's input_tokens counts them all.
    assert result.usage.input_tokens == (100 + 1000) + (150 + 1000)
    assert result.usage.output_tokens == 20 + 12
    assert result.usage.cache_write_tokens == 1000
    assert result.usage.cache_read_tokens == 1000
    assert result.usage.requests == 2
    assert result.usage.tool_calls == 1
    assert [r.model_id for r in server.requests] == [MODEL, MODEL]
    assert all(r.headers["authorization"].startswith("AWS4-HMAC-SHA256 ") for r in server.requests)
    assert "/us-west-2/bedrock/aws4_request" in server.requests[0].headers["authorization"]
    second = server.requests[1].body
    assert second["toolConfig"]["tools"][0]["toolSpec"]["name"] == "get_weather"
    assistant, user = second["messages"][1], second["messages"][2]
    assert assistant["content"][1] == {
        "toolUse": {"toolUseId": "tooluse_1", "name": "get_weather", "input": {"city": "Paris"}}
    }
    assert user["content"][0]["toolResult"]["toolUseId"] == "tooluse_1"
    assert user["content"][0]["toolResult"]["content"] == [{"text": "21 C and sunny in Paris"}]


async def test_agent_runs_a_tool_conversation(env_server: FakeBedrockServer) -> None:
    _script(env_server)
    agent = Agent(model=f"bedrock:{MODEL}", tools=[get_weather])
    result = await agent.run("Weather in Paris?")
    _check_conversation(env_server, result)
    assert isinstance(agent.resolved_model(), BedrockModel)


async def test_agent_streams_a_tool_conversation(env_server: FakeBedrockServer) -> None:
    _script(env_server)
    agent = Agent(model=f"bedrock:{MODEL}", tools=[get_weather])
    events = [event async for event in agent.run_stream("Weather in Paris?")]
    final = events[-1]
    assert isinstance(final, ev.RunCompleted)
    _check_conversation(env_server, final.result)
    assert all(r.operation == "converse-stream" for r in env_server.requests)
    deltas = "".join(e.delta for e in events if isinstance(e, ev.TextDelta))
    assert deltas == "Let me check.It is 21 C and sunny in Paris."


@pytest.mark.parametrize("stream", [False, True])
async def test_throttling_is_retried_by_the_run_loop(
    env_server: FakeBedrockServer, stream: bool
) -> None:
    env_server.add(
        FakeResponse.error(429, "ThrottlingException", "Too many requests, please wait."),
        FakeResponse.error(503, "ServiceUnavailableException", "Service unavailable."),
        text_response("finally", input_tokens=7, output_tokens=3),
    )
    agent = Agent(
        model=f"bedrock:{MODEL}",
        retry=RetryPolicy(max_attempts=3, initial_delay=0.0, max_delay=0.0, jitter=0),
    )
    if stream:
        events = [event async for event in agent.run_stream("hi")]
        final = events[-1]
        assert isinstance(final, ev.RunCompleted)
        result = final.result
    else:
        events = []
        result = await agent.run("hi")
    assert result.output == "finally"
    # Three HTTP requests: botocore sent each once (its retries are off), Covey retried twice.
    assert len(env_server.requests) == 3
    assert result.usage.input_tokens == 7
    if stream:
        retries = [e for e in events if isinstance(e, ev.ModelRequestRetry)]
        assert [r.error.type for r in retries] == ["RateLimitedError", "ModelServerError"]


async def test_throttling_inside_the_event_stream_is_retried(env_server: FakeBedrockServer) -> None:
    env_server.add(
        FakeResponse.stream(
            [("messageStart", {"role": "assistant"}), ("throttlingException", {"message": "slow"})]
        ),
        text_response("after the throttle"),
    )
    agent = Agent(
        model=f"bedrock:{MODEL}",
        retry=RetryPolicy(max_attempts=2, initial_delay=0.0, max_delay=0.0, jitter=0),
    )
    events = [event async for event in agent.run_stream("hi")]
    final = events[-1]
    assert isinstance(final, ev.RunCompleted)
    assert final.result.output == "after the throttle"
    assert [e.error.type for e in events if isinstance(e, ev.ModelRequestRetry)] == [
        "RateLimitedError"
    ]


@pytest.mark.parametrize("stream", [False, True])
async def test_guardrail_intervention_fails_the_run_as_a_tripped_guardrail(
    make_model: Any, server: FakeBedrockServer, stream: bool
) -> None:
    from covey.models.bedrock import Guardrail

    trace = {
        "guardrail": {
            "inputAssessment": {
                "gr-1": {
                    "topicPolicy": {
                        "topics": [{"name": "Investments", "type": "DENY", "action": "BLOCKED"}]
                    }
                }
            }
        }
    }
    server.add(
        converse_response(
            [{"text": "Sorry, I cannot discuss that."}],
            stop_reason="guardrail_intervened",
            trace=trace,
        )
    )
    model = make_model(MODEL, guardrail=Guardrail("gr-1", "1"))
    agent = Agent(model=model)
    events = (
        [event async for event in agent.run_stream("Which stock should I buy?")] if stream else None
    )
    result = events[-1].result if events else await agent.run("Which stock should I buy?")
    assert result.status is RunStatus.FAILED
    assert result.error is not None
    assert result.error.type == "BedrockGuardrailIntervened"
    assert result.error.details["guardrail"] == "bedrock:gr-1"
    assert result.error.details["stage"] == "input"
    assert "Which stock" not in result.error.message
    assert server.requests[0].body["guardrailConfig"] == {
        "guardrailIdentifier": "gr-1",
        "guardrailVersion": "1",
        "trace": "enabled",
    }
    if events:
        tripped = [e for e in events if isinstance(e, ev.GuardrailTripped)]
        assert len(tripped) == 1
        assert tripped[0].stage == "input"
