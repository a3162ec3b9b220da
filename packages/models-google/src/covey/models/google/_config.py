"""Credentials, base URL and the lazily built `google-genai` client."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING

from pydantic import SecretStr

from covey.spec.adapter_kit import Credentials
from covey.spec.errors import ConfigurationError

if TYPE_CHECKING:
    from google import genai

__all__ = [
    "API_KEY_ENV_VARS",
    "API_VERSION",
    "BASE_URL_ENV_VAR",
    "build_client",
    "client_builder",
    "close_client",
    "credentials",
    "resolve_base_url",
]

API_KEY_ENV_VARS = ("GEMINI_API_KEY", "GOOGLE_API_KEY")
"""Where the key is looked up when none is passed, in this order."""
BASE_URL_ENV_VAR = "GOOGLE_GEMINI_BASE_URL"
"""The Gemini API base URL override the SDK itself honours."""
API_VERSION = "v1beta"
"""Every Gemini feature Covey uses (thinking, JSON schema for tools and output) is in v1beta."""


def credentials(api_key: str | SecretStr | None) -> Credentials:
    """The key given to the constructor, else `GEMINI_API_KEY`, else `GOOGLE_API_KEY`."""
    return Credentials(api_key, env_vars=API_KEY_ENV_VARS, provider="Gemini")


def resolve_base_url(base_url: str | None) -> str | None:
    """The base URL given to the constructor, else `GOOGLE_GEMINI_BASE_URL`, else the SDK's."""
    if base_url:
        return base_url
    return os.environ.get(BASE_URL_ENV_VAR, "").strip() or None


def build_client(
    *, api_key: SecretStr, base_url: str | None, http_client: object | None
) -> genai.Client:
    """A Gemini API client with the SDK's own retries off: Covey's run loop owns retries."""
    try:
        from google import genai
        from google.genai import types
    except ImportError as exc:  # pragma: no cover - google-genai is a hard dependency
        raise ConfigurationError(
            "The google-genai SDK is not installed: pip install covey-models-google"
        ) from exc

    options = types.HttpOptions(
        api_version=API_VERSION,
        base_url=base_url,
        # attempts=1: one try; it also stops the SDK's hidden reconnect-and-retry under aiohttp.
        retry_options=types.HttpRetryOptions(attempts=1),
        # The SDK checks the client's type itself (an httpx or httpx2 AsyncClient).
        httpx_async_client=http_client,  # pyright: ignore[reportArgumentType]
    )
    # vertexai=False: the key is a Gemini API key whatever GOOGLE_GENAI_USE_VERTEXAI says.
    return genai.Client(vertexai=False, api_key=api_key.get_secret_value(), http_options=options)


def client_builder(
    keys: Credentials, base_url: str | None, http_client: object | None
) -> Callable[[], genai.Client]:
    """What `LazyClient` calls to build a client in each event loop."""

    def build() -> genai.Client:
        return build_client(
            api_key=keys.api_key(), base_url=resolve_base_url(base_url), http_client=http_client
        )

    return build


async def close_client(client: genai.Client) -> None:
    """Close the SDK's own HTTP client (an `http_client` passed in stays open)."""
    await client.aio.aclose()
