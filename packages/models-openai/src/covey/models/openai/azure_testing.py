"""`FakeAzureOpenAIServer`: a loopback server that speaks Azure OpenAI's wire format, for tests.

Its `url` is the resource endpoint. It answers what the `AsyncAzureOpenAI` client sends:
`POST /openai/deployments/<deployment>/chat/completions?api-version=...` (streams open with
Azure's `prompt_filter_results` chunk), `.../embeddings`, `POST /openai/responses`, and the
same under the version-less `/openai/v1/`. Like Azure it refuses a request without
`api-version` (400), for an unknown deployment (404), and without the resource key in `api-key`
or an accepted Entra token in `Authorization: Bearer` (401). Scripted replies and the echo
defaults are `FakeOpenAIServer`'s; the helpers below build Azure's own answers: a filtered
prompt, a filtered completion, throttling.

```python
from covey.models.openai.azure import AzureOpenAIChatModel
from covey.models.openai.azure_testing import FakeAzureOpenAIServer

with FakeAzureOpenAIServer(api_key="azure-key-1234") as server:
    model = AzureOpenAIChatModel("my-gpt-4o", endpoint=server.url, api_key="azure-key-1234")
    ...  # server.requests[0].headers["api-key"], server.deployment(server.requests[0])
```
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import parse_qs, urlsplit

from covey.models.openai.testing import (
    FakeOpenAIServer,
    FakeReply,
    RecordedRequest,
    Responder,
    chat_chunks,
    chat_completion,
)

__all__ = [
    "SAFE_RESULTS",
    "FakeAzureOpenAIServer",
    "azure_error",
    "filtered_completion_reply",
    "filtered_prompt_reply",
    "throttled_reply",
]

_DEPLOYMENT_PATH = re.compile(r"^/openai/deployments/([^/]+)/(chat/completions|embeddings)$")

SAFE_RESULTS: Mapping[str, Mapping[str, Any]] = {
    "hate": {"filtered": False, "severity": "safe"},
    "self_harm": {"filtered": False, "severity": "safe"},
    "sexual": {"filtered": False, "severity": "safe"},
    "violence": {"filtered": False, "severity": "safe"},
}
"""Azure's `content_filter_results` of text that passed."""


def azure_error(
    http_status: int,
    message: str,
    *,
    code: str,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> FakeReply:
    """An error in Azure's shape: `{"error": {"code", "message", ...extra}}`."""
    error: dict[str, Any] = {"code": code, "message": message, **extra}
    return FakeReply(status=http_status, json={"error": error}, headers=dict(headers or {}))


def _results(categories: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    return {**{k: dict(v) for k, v in SAFE_RESULTS.items()}, **categories}


def filtered_prompt_reply(categories: Mapping[str, Mapping[str, Any]]) -> FakeReply:
    """Azure's answer to a prompt its content filter blocks: HTTP 400, `code: content_filter`,
    the categories in `innererror.content_filter_result`."""
    return azure_error(
        400,
        "The response was filtered due to the prompt triggering Azure OpenAI's content "
        "management policy. Please modify your prompt and retry. To learn more about our "
        "content filtering policies please read our documentation: "
        "https://go.microsoft.com/fwlink/?linkid=2198766",
        code="content_filter",
        param="prompt",
        status=400,
        innererror={
            "code": "ResponsibleAIPolicyViolation",
            "content_filter_result": _results(categories),
        },
    )


def filtered_completion_reply(
    categories: Mapping[str, Mapping[str, Any]],
    *,
    text: str = "",
    stream: bool = False,
    model: str = "gpt-4o-2024-11-20",
) -> FakeReply:
    """A completion the content filter cut short: `finish_reason: content_filter`, the
    choice's `content_filter_results` naming the categories, `text` what came before."""
    results = _results(categories)
    if not stream:
        completion = chat_completion(text=text or None, model=model, finish_reason="content_filter")
        completion["choices"][0]["content_filter_results"] = results
        return FakeReply(json=completion)
    chunks = chat_chunks(text=text, model=model, finish_reason="content_filter")
    for chunk in chunks:
        if isinstance(chunk, dict):
            for choice in chunk.get("choices", []):
                if choice.get("finish_reason") == "content_filter":
                    choice["content_filter_results"] = results
    return FakeReply(sse=[_prompt_filter_chunk(), *chunks])


def throttled_reply(*, retry_after: float = 1, retry_after_ms: int | None = None) -> FakeReply:
    """Azure's 429 when a deployment's tokens-per-minute quota is used up, with the
    `retry-after` (seconds) and, when given, `retry-after-ms` headers."""
    headers = {"retry-after": f"{retry_after:g}"}
    if retry_after_ms is not None:
        headers["retry-after-ms"] = str(retry_after_ms)
    return azure_error(
        429,
        "Requests to the ChatCompletions_Create Operation under Azure OpenAI API version "
        "2024-10-21 have exceeded token rate limit of your current OpenAI S0 pricing tier. "
        f"Please retry after {retry_after:g} seconds.",
        code="429",
        headers=headers,
    )


def _prompt_filter_chunk() -> dict[str, Any]:
    """The first chunk of every Azure chat stream: no choices, the prompt's filter results."""
    return {
        "choices": [],
        "created": 0,
        "id": "",
        "model": "",
        "object": "",
        "prompt_filter_results": [
            {"prompt_index": 0, "content_filter_results": _results({})},
        ],
    }


def _with_azure_stream(answer: FakeReply) -> FakeReply:
    """A chat stream as Azure sends it: the prompt filter chunk first."""
    if answer.sse is None or answer.status != 200:
        return answer
    first = answer.sse[0] if answer.sse else None
    if isinstance(first, Mapping) and "prompt_filter_results" in first:
        return answer
    return FakeReply(
        status=answer.status,
        sse=[_prompt_filter_chunk(), *answer.sse],
        headers=answer.headers,
        delay=answer.delay,
    )


class FakeAzureOpenAIServer(FakeOpenAIServer):
    """An Azure OpenAI resource on 127.0.0.1, in a daemon thread; `url` is its endpoint.

    Args:
        replies: Scripted answers (as `FakeOpenAIServer`); chat streams get Azure's prompt
            filter chunk first.
        api_key: The resource key `api-key` must carry (`None`: keys are refused).
        tokens: Entra tokens accepted as `Authorization: Bearer <token>`.
        deployments: The deployment names that exist (`None`: any name).
        embedding_dimensions: The default vector length of embeddings.
    """

    url_path = ""

    def __init__(
        self,
        replies: Sequence[FakeReply | Responder] | Responder | None = None,
        *,
        api_key: str | None = None,
        tokens: Iterable[str] = (),
        deployments: Iterable[str] | None = None,
        embedding_dimensions: int = 64,
    ) -> None:
        super().__init__(replies, embedding_dimensions=embedding_dimensions)
        self.api_key = api_key
        self.tokens = set(tokens)
        self.deployments = set(deployments) if deployments is not None else None

    @staticmethod
    def deployment(request: RecordedRequest) -> str | None:
        """The deployment a request went to: from its path, else its body's `model`."""
        path = urlsplit(request.path).path
        match = _DEPLOYMENT_PATH.match(path)
        if match:
            return match.group(1)
        body = request.json_or_none()
        model = body.get("model") if isinstance(body, dict) else None  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
        return model if isinstance(model, str) else None

    @staticmethod
    def api_version(request: RecordedRequest) -> str | None:
        """The request's `api-version` query parameter."""
        values = parse_qs(urlsplit(request.path).query).get("api-version")
        return values[0] if values else None

    def _authorised(self, request: RecordedRequest, *, v1: bool) -> bool:
        key = request.headers.get("api-key")
        if key is not None:
            return self.api_key is not None and key == self.api_key
        scheme, _, credential = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not credential:
            return False
        # The v1 API also takes the resource key as a bearer token (the plain OpenAI client).
        return credential in self.tokens or (v1 and credential == self.api_key)

    def _refusal(self, request: RecordedRequest) -> FakeReply | None:
        path = urlsplit(request.path).path
        v1 = path.startswith("/openai/v1/")
        if not self._authorised(request, v1=v1):
            return azure_error(
                401,
                "Access denied due to invalid subscription key or wrong API endpoint. Make sure "
                "to provide a valid key for an active subscription and use a correct regional "
                "API endpoint for your resource.",
                code="401",
            )
        if not v1 and self.api_version(request) is None:
            return azure_error(
                400,
                "The api-version query parameter (?api-version=) is required for all requests.",
                code="MissingApiVersionParameter",
            )
        known = (
            v1
            or _DEPLOYMENT_PATH.match(path) is not None
            or path in ("/openai/responses", "/openai/models")
        )
        if not known:
            return azure_error(404, "Resource not found", code="404")
        deployment = self.deployment(request)
        if self.deployments is not None and deployment not in self.deployments:
            return azure_error(
                404,
                "The API deployment for this resource does not exist. If you created the "
                "deployment within the last 5 minutes, please wait a moment and try again.",
                code="DeploymentNotFound",
            )
        return None

    def answer(self, request: RecordedRequest) -> FakeReply:
        """Refuse as Azure does (bad auth, no `api-version`, unknown path or deployment),
        else answer as `FakeOpenAIServer` (scripted, responder, default)."""
        refusal = self._refusal(request)
        if refusal is not None:
            self.record(request, take_scripted=False)
            return refusal
        answer = super().answer(request)
        if urlsplit(request.path).path.endswith("/chat/completions"):
            return _with_azure_stream(answer)
        return answer
