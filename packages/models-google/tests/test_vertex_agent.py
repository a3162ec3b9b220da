"""An agent given the model string `"vertex:gemini-2.5-flash"` runs a tool conversation end to
end, configured the way a Google Cloud user configures it (GOOGLE_CLOUD_PROJECT,
GOOGLE_CLOUD_LOCATION, GOOGLE_APPLICATION_CREDENTIALS), through the real google-genai SDK and
google-auth against loopback fakes of Vertex AI and Google's token endpoint."""

from __future__ import annotations

from pathlib import Path

import pytest

from covey.core import Agent, RunStatus
from covey.core.retry import RetryPolicy
from covey.models.google import VertexModel
from covey.models.google.testing import (
    error_answer,
    function_call_answer,
    text_answer,
    usage_metadata,
)
from covey.models.google.testing_vertex import FakeGoogleOAuthServer, FakeVertexServer
from covey.spec import events as ev
from covey.spec.plugins import refresh

pytestmark = pytest.mark.usefixtures("clean_google_env")


def get_weather(city: str) -> str:
    """Current weather.

    Args:
        city: The city.
    """
    return f"21 C and sunny in {city}"


@pytest.fixture
def google_cloud_env(
    clean_google_env: None,
    monkeypatch: pytest.MonkeyPatch,
    service_account: Path,
    vertex: FakeVertexServer,
) -> None:
    """The variables a Google Cloud user sets (after the machine's own are cleared)."""
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "acme-prod")
    monkeypatch.setenv("GOOGLE_CLOUD_LOCATION", "europe-west1")
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(service_account))
    monkeypatch.setenv("GOOGLE_VERTEX_BASE_URL", vertex.url)
    refresh()


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.usefixtures("google_cloud_env")
async def test_agent_runs_a_tool_conversation_on_vertex(
    vertex: FakeVertexServer, oauth: FakeGoogleOAuthServer, stream: bool
) -> None:
    vertex.add(
        function_call_answer("get_weather", {"city": "Paris"}, usage=usage_metadata(30, 7)),
        text_answer("It is 21 C and sunny in Paris.", usage=usage_metadata(50, 9)),
    )
    agent = Agent(model="vertex:gemini-2.5-flash", tools=[get_weather])
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
    assert result.usage.input_tokens == 80
    assert result.usage.output_tokens == 16
    assert len(vertex.requests) == 2, "exactly two requests reached Vertex AI"
    assert {r.project for r in vertex.requests} == {"acme-prod"}
    assert {r.location for r in vertex.requests} == {"europe-west1"}
    assert len(oauth.issued) == 1 and oauth.requests[0].verified
    assert {r.headers["authorization"] for r in vertex.requests} == {f"Bearer {oauth.issued[0]}"}


async def test_resource_exhausted_is_retried_then_succeeds(
    service_account: Path, vertex: FakeVertexServer
) -> None:
    vertex.add(
        error_answer(429, "Resource exhausted. Please try again later.", retry_delay="0s"),
        text_answer("Made it.", usage=usage_metadata(12, 3)),
    )
    model = VertexModel(
        "gemini-2.5-flash", project="p", credentials_file=service_account, base_url=vertex.url
    )
    agent = Agent(model=model, retry=RetryPolicy(max_attempts=2, initial_delay=0, jitter=0))
    events = [e async for e in agent.run_stream("Hi")]
    await model.aclose()
    retries = [e for e in events if isinstance(e, ev.ModelRequestRetry)]
    final = events[-1]
    assert isinstance(final, ev.RunCompleted)
    assert final.result.output == "Made it."
    assert len(retries) == 1
    assert retries[0].delay == 0.0
    assert "RESOURCE_EXHAUSTED" in retries[0].error.message or "429" in retries[0].error.message
    assert len(vertex.requests) == 2
    assert final.result.usage.input_tokens == 12


def test_install_hints_in_covey_spec_name_this_distribution() -> None:
    """`vertex:` and `gemini:` without this package installed say to install covey-models-google
    (the naming rule alone would name a covey-models-vertex that does not exist)."""
    from covey.spec.plugins import KNOWN_PROVIDERS

    assert KNOWN_PROVIDERS[("models", "vertex")] == "covey-models-google"
    assert KNOWN_PROVIDERS[("embedders", "vertex")] == "covey-models-google"
    assert KNOWN_PROVIDERS[("models", "gemini")] == "covey-models-google"
