"""`VertexModel` and `VertexEmbedder`: Gemini on Google Cloud's Vertex AI.

The same adapter as `GoogleModel` / `GoogleEmbedder` (messages, tools, thinking and thought
signatures, streaming, usage, errors), through `google-genai` with `vertexai=True`: requests go
to `https://{location}-aiplatform.googleapis.com/v1beta1/projects/{project}/locations/{location}/
publishers/google/models/{model}:generateContent` (or `aiplatform.googleapis.com` for the
`global` location) with an OAuth access token from Google Cloud credentials, or with an
express-mode API key. Importing this module imports neither the SDK nor google-auth.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

from covey.models.google._vertex_config import VertexAuth, vertex_client_builder
from covey.models.google.chat import GeminiChatModel
from covey.models.google.embeddings import GeminiEmbedder
from covey.spec.adapter_kit import LazyClient, require_model_name
from covey.spec.errors import CoveyError
from covey.spec.models import ModelProfile

if TYPE_CHECKING:
    from google import genai

__all__ = ["VERTEX_PROVIDER", "VertexEmbedder", "VertexModel"]

VERTEX_PROVIDER = "vertex"
"""The `provider` of these adapters: the prefix of `vertex:<model>` strings."""


async def _close(client: genai.Client) -> None:
    await client.aio.aclose()


def _map_vertex_error(
    exc: BaseException, *, model_name: str, secrets: Sequence[str]
) -> CoveyError | None:
    from covey.models.google._errors import VERTEX_ERRORS, map_auth_error, map_error

    error = map_auth_error(exc, model_name=model_name, secrets=secrets)
    if error is not None:
        return error
    return map_error(exc, model_name=model_name, secrets=secrets, errors=VERTEX_ERRORS)


class VertexModel(GeminiChatModel):
    """A Gemini model on Vertex AI, authenticated with Google Cloud credentials.

    Example:
        ```python
        model = VertexModel("gemini-2.5-flash", project="my-project", location="us-central1")
        response = await model.request([ModelRequest.user("Hi")], None, ModelRequestParams())
        ```

    Credentials, in order: `credentials`, else `credentials_file`, else Application Default
    Credentials (`GOOGLE_APPLICATION_CREDENTIALS`, `gcloud auth application-default login`,
    the metadata server on Google Cloud). They are loaded on the first request, in a worker
    thread; google-auth refreshes the access token when it expires. With `api_key` (Vertex AI
    express mode) no credentials or project are used.

    Args:
        model_name: The model, e.g. `gemini-2.5-flash`, or a full resource name
            (`projects/.../endpoints/...` for a tuned model).
        project: The Google Cloud project; default `GOOGLE_CLOUD_PROJECT`, then the project the
            credentials name.
        location: A region such as `us-central1`, or `global`; default `GOOGLE_CLOUD_LOCATION`,
            then `global` (google-genai's default).
        credentials: Ready `google.auth.credentials.Credentials`.
        credentials_file: A service-account key file (or any credentials JSON google-auth reads).
        api_key: A Vertex AI express-mode API key, instead of the above.
        base_url: Another endpoint (a private endpoint, a proxy, a fake server); default
            `GOOGLE_VERTEX_BASE_URL`, then Google's. The path (`/v1beta1/projects/...`) is kept.
        profile: What the model can do; by default derived from `model_name`.
        http_client: An `httpx2.AsyncClient` (or `httpx.AsyncClient`) for the SDK. You close it.

    Raises:
        ConfigurationError: An empty model name, or `api_key` mixed with credentials.
    """

    def __init__(
        self,
        model_name: str,
        *,
        project: str | None = None,
        location: str | None = None,
        credentials: Any = None,
        credentials_file: str | os.PathLike[str] | None = None,
        api_key: str | SecretStr | None = None,
        base_url: str | None = None,
        profile: ModelProfile | None = None,
        http_client: object | None = None,
    ) -> None:
        self._model_name = require_model_name(
            model_name, adapter="VertexModel", example="gemini-2.5-flash"
        )
        self._auth = VertexAuth(
            project=project,
            location=location,
            credentials=credentials,
            credentials_file=credentials_file,
            api_key=api_key,
        )
        self._profile = profile
        self._clients = LazyClient(vertex_client_builder(self._auth, base_url, http_client), _close)

    @property
    def provider(self) -> str:
        """Always `vertex`."""
        return VERTEX_PROVIDER

    async def _client(self) -> genai.Client:
        await self._auth.target()
        return await self._clients.get()

    def _secrets(self) -> Sequence[str]:
        return self._auth.secrets()

    def _map_error(self, exc: BaseException) -> CoveyError | None:
        return _map_vertex_error(exc, model_name=self._model_name, secrets=self._secrets())

    def __repr__(self) -> str:
        return f"VertexModel(model_name={self._model_name!r}, auth={self._auth!r})"


class VertexEmbedder(GeminiEmbedder):
    """Text embeddings on Vertex AI: `gemini-embedding-001`, `text-embedding-005`,
    `text-multilingual-embedding-002`.

    Task types, reduced `dimensions` (re-normalised to unit length) and `name`
    (`vertex:<model>` or `vertex:<model>:<dimensions>`) work as in `GoogleEmbedder`. The SDK
    picks the endpoint: `:predict` for the `text-embedding-*` models, `:embedContent` /
    `:batchEmbedContents` for Gemini ones.

    Args:
        model_name: The embedding model; default `gemini-embedding-001`.
        dimensions: A reduced vector length; default the model's full size (3072 for
            `gemini-embedding-001`, 768 for `text-embedding-005`).
        project, location, credentials, credentials_file, api_key, base_url, http_client:
            As for `VertexModel`.
    """

    def __init__(
        self,
        model_name: str = "gemini-embedding-001",
        *,
        dimensions: int | None = None,
        project: str | None = None,
        location: str | None = None,
        credentials: Any = None,
        credentials_file: str | os.PathLike[str] | None = None,
        api_key: str | SecretStr | None = None,
        base_url: str | None = None,
        http_client: object | None = None,
    ) -> None:
        self._setup(model_name, dimensions, adapter="VertexEmbedder")
        self._auth = VertexAuth(
            project=project,
            location=location,
            credentials=credentials,
            credentials_file=credentials_file,
            api_key=api_key,
        )
        self._clients = LazyClient(vertex_client_builder(self._auth, base_url, http_client), _close)

    @property
    def provider(self) -> str:
        """Always `vertex`."""
        return VERTEX_PROVIDER

    async def _client(self) -> genai.Client:
        await self._auth.target()
        return await self._clients.get()

    def _secrets(self) -> Sequence[str]:
        return self._auth.secrets()

    def _map_error(self, exc: BaseException) -> CoveyError | None:
        return _map_vertex_error(exc, model_name=self._model_name, secrets=self._secrets())

    def __repr__(self) -> str:
        return f"VertexEmbedder(model_name={self._model_name!r}, dimensions={self.dimensions})"
