"""A VertexModel conversation over loopback with real credentials (a service-account key, a
signed JWT, a minted token): tools, streaming and not, exact usage; error statuses; secrets
(the private key, the access token) absent from errors, reprs and logs; embeddings."""

from __future__ import annotations

import json
import logging
import math
import traceback
from pathlib import Path
from typing import Any

import pytest

from covey.models.google import VertexEmbedder, VertexModel
from covey.models.google.testing import (
    error_answer,
    function_call_answer,
    text_answer,
    usage_metadata,
)
from covey.models.google.testing_vertex import FakeGoogleOAuthServer, FakeVertexServer
from covey.spec import ModelRequest, ModelRequestParams, ToolDefinition, ToolReturnPart
from covey.spec.errors import (
    AuthenticationError,
    ContextOverflowError,
    CoveyError,
    ModelHTTPError,
    RateLimitedError,
)
from covey.spec.models import FinalResponseEvent, ModelResponse

pytestmark = pytest.mark.usefixtures("clean_google_env")

WEATHER = ToolDefinition(
    name="get_weather",
    description="Current weather in a city.",
    parameters_json_schema={
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
)


def read_json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


@pytest.fixture
async def model(service_account: Path, vertex: FakeVertexServer) -> Any:
    model = VertexModel(
        "gemini-2.5-flash",
        credentials_file=service_account,
        location="us-central1",
        base_url=vertex.url,
    )
    yield model
    await model.aclose()


async def complete(model: VertexModel, history: list[Any], stream: bool) -> ModelResponse:
    params = ModelRequestParams(function_tools=[WEATHER])
    if not stream:
        return await model.request(history, None, params)
    events = [e async for e in model.request_stream(history, None, params)]
    final = events[-1]
    assert isinstance(final, FinalResponseEvent)
    return final.response


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
async def test_tool_conversation_with_exact_usage(
    model: VertexModel, vertex: FakeVertexServer, oauth: FakeGoogleOAuthServer, stream: bool
) -> None:
    vertex.add(
        function_call_answer(
            "get_weather",
            {"city": "Paris"},
            usage=usage_metadata(31, 7, thoughts=5, cached=10),
        ),
        text_answer("Sunny, 21 C.", usage=usage_metadata(52, 9)),
    )
    history: list[Any] = [ModelRequest.user("Weather in Paris?")]
    first = await complete(model, history, stream)
    [call] = first.tool_calls()
    assert (call.tool_name, call.args_as_dict()) == ("get_weather", {"city": "Paris"})
    assert (first.usage.input_tokens, first.usage.output_tokens) == (31, 12)
    assert (first.usage.reasoning_tokens, first.usage.cache_read_tokens) == (5, 10)

    result = ToolReturnPart(
        tool_name="get_weather", content="sunny, 21 C", tool_call_id=call.tool_call_id
    )
    history += [first, ModelRequest(parts=[result])]
    second = await complete(model, history, stream)
    assert second.text() == "Sunny, 21 C."
    assert (second.usage.input_tokens, second.usage.output_tokens) == (52, 9)

    declared = vertex.requests[0].body["tools"][0]["functionDeclarations"][0]
    assert declared["name"] == "get_weather"
    sent = vertex.requests[1].body["contents"]
    assert sent[1]["parts"][0]["functionCall"] == {"name": "get_weather", "args": {"city": "Paris"}}
    assert sent[2]["parts"][0]["functionResponse"] == {
        "name": "get_weather",
        "response": {"output": "sunny, 21 C"},
    }
    action = "streamGenerateContent" if stream else "generateContent"
    assert [r.action for r in vertex.requests] == [action, action]
    assert {r.headers["authorization"] for r in vertex.requests} == {f"Bearer {oauth.issued[0]}"}


async def test_rate_limit_carries_retry_after(model: VertexModel, vertex: FakeVertexServer) -> None:
    vertex.add(error_answer(429, "Quota exceeded for aiplatform.googleapis.com", retry_delay="7s"))
    with pytest.raises(RateLimitedError) as caught:
        await model.request([ModelRequest.user("Hi")], None, ModelRequestParams())
    assert caught.value.retry_after == 7.0
    assert caught.value.status_code == 429
    assert "Vertex AI" in str(caught.value)


async def test_permission_denied_is_an_authentication_error(
    model: VertexModel, vertex: FakeVertexServer
) -> None:
    vertex.add(
        error_answer(
            403,
            "Permission 'aiplatform.endpoints.predict' denied on resource "
            "'//aiplatform.googleapis.com/projects/covey-test-project/locations/us-central1/"
            "publishers/google/models/gemini-2.5-flash' (or it may not exist).",
            reason="IAM_PERMISSION_DENIED",
        )
    )
    with pytest.raises(AuthenticationError) as caught:
        await model.request([ModelRequest.user("Hi")], None, ModelRequestParams())
    assert caught.value.status_code == 403
    assert "aiplatform.endpoints.predict" in str(caught.value)


async def test_bad_request_and_context_overflow(
    model: VertexModel, vertex: FakeVertexServer
) -> None:
    vertex.add(
        error_answer(400, "Unable to submit request because it has an empty text parameter."),
        error_answer(
            400,
            "The input token count (1200000) exceeds the maximum number of tokens allowed "
            "(1048576).",
        ),
    )
    with pytest.raises(ModelHTTPError) as caught:
        await model.request([ModelRequest.user("Hi")], None, ModelRequestParams())
    assert type(caught.value) is ModelHTTPError
    assert caught.value.status_code == 400
    with pytest.raises(ContextOverflowError):
        await model.request([ModelRequest.user("Hi")], None, ModelRequestParams())


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
async def test_access_token_and_private_key_never_shown(
    model: VertexModel,
    vertex: FakeVertexServer,
    oauth: FakeGoogleOAuthServer,
    service_account: Path,
    caplog: pytest.LogCaptureFixture,
    stream: bool,
) -> None:
    """A proxy that echoes the Authorization header and the key back in its error: neither the
    error, its chain, the model's repr nor any log line (google-genai's, google-auth's, ours at
    DEBUG) shows them."""
    caplog.set_level(logging.DEBUG)
    info = read_json(service_account)
    key_lines = [line for line in info["private_key"].splitlines() if len(line) > 40]

    def echo(request: Any) -> Any:
        header = request.headers["authorization"]
        bare = header.removeprefix("Bearer ")  # the token alone, with no "Bearer" to spot it by
        leaked = f"{header} (token {bare}) {info['private_key']} {key_lines[3]}"
        return error_answer(401, f"Bad credentials: {leaked}")

    vertex.add(text_answer("warm-up"))  # mint the token first, so the echo can include it
    await model.request([ModelRequest.user("Hi")], None, ModelRequestParams())
    [token] = oauth.issued
    vertex.add(echo(vertex.last_request))
    with pytest.raises(AuthenticationError) as caught:
        await complete(model, [ModelRequest.user("Hi")], stream)
    error: CoveyError = caught.value
    logging.getLogger("covey.test").error("request failed", exc_info=error)
    shown = {
        "str": str(error),
        "repr": repr(error),
        "body": repr(getattr(error, "body", None)),
        "traceback": "".join(traceback.format_exception(error)),
        "logs": caplog.text,
        "model repr": repr(model),
    }
    for where, text in shown.items():
        assert token not in text, f"the access token appears in the {where}"
        assert info["private_key"] not in text, f"the private key appears in the {where}"
        for line in key_lines:
            assert line not in text, f"a line of the private key appears in the {where}"
    assert "Bad credentials" in str(error)


# --- embeddings ----------------------------------------------------------------------------------


@pytest.fixture
async def embedders(service_account: Path, vertex: FakeVertexServer) -> Any:
    made: list[VertexEmbedder] = []

    def make(model_name: str, **kwargs: Any) -> VertexEmbedder:
        embedder = VertexEmbedder(
            model_name, credentials_file=service_account, base_url=vertex.url, **kwargs
        )
        made.append(embedder)
        return embedder

    yield make
    for embedder in made:
        await embedder.aclose()


async def test_text_embedding_005_uses_predict(embedders: Any, vertex: FakeVertexServer) -> None:
    embedder: VertexEmbedder = embedders("text-embedding-005")
    assert (embedder.dimensions, embedder.name, embedder.provider) == (
        768,
        "vertex:text-embedding-005",
        "vertex",
    )
    vectors = await embedder.embed(["red apples", "green pears"], input_type="query")
    assert [len(v) for v in vectors] == [768, 768]
    request = vertex.requests[0]
    assert request.path == (
        "/v1beta1/projects/covey-test-project/locations/global/publishers/google/models/"
        "text-embedding-005:predict"
    )
    assert request.body == {
        "instances": [
            {"content": "red apples", "task_type": "RETRIEVAL_QUERY"},
            {"content": "green pears", "task_type": "RETRIEVAL_QUERY"},
        ]
    }


async def test_gemini_embedding_reduced_dimensions_are_unit_vectors(
    embedders: Any, vertex: FakeVertexServer
) -> None:
    embedder: VertexEmbedder = embedders("gemini-embedding-001", dimensions=256)
    assert embedder.name == "vertex:gemini-embedding-001:256"
    batch = await embedder.embed(["one", "two", "three"])
    single = await embedder.embed(["four"])
    assert [len(v) for v in [*batch, *single]] == [256] * 4
    assert all(math.isclose(math.hypot(*v), 1.0) for v in [*batch, *single])
    assert [r.action for r in vertex.requests] == ["batchEmbedContents", "embedContent"]
    first = vertex.requests[0].body["requests"][0]
    assert first["embedContentConfig"] == {
        "taskType": "RETRIEVAL_DOCUMENT",
        "outputDimensionality": 256,
    }


async def test_embedding_errors_are_mapped(embedders: Any, vertex: FakeVertexServer) -> None:
    vertex.add(error_answer(429, "Quota exceeded", retry_delay="3s"))
    with pytest.raises(RateLimitedError) as caught:
        await embedders("text-embedding-005").embed(["x"])
    assert caught.value.retry_after == 3.0
