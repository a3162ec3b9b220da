"""Connection settings shared by the chat models and the embedder, and the lazily built client."""

from __future__ import annotations

import os
import ssl
from collections.abc import Generator, Mapping
from contextlib import contextmanager
from functools import cache
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

from covey.models.openai._errors import map_sdk_error, provider_errors
from covey.models.openai._sdk import import_openai
from covey.models.openai.providers import OpenAICompatibleProvider
from covey.spec.adapter_kit import Credentials, LazyClient, ProviderErrors

if TYPE_CHECKING:
    import httpx2
    from openai import AsyncOpenAI

__all__ = ["PLACEHOLDER_API_KEY", "Connection", "openai_env_header_names", "shared_ssl_context"]

PLACEHOLDER_API_KEY = "not-needed"
"""Sent to local servers that take no key: the SDK refuses an empty one."""


@cache
def shared_ssl_context() -> ssl.SSLContext:
    """The TLS context every SDK client of this process verifies servers with (built once; an
    `SSLContext` is safe to share between threads and event loops)."""
    import httpx2

    return httpx2.create_ssl_context()


def openai_env_header_names() -> list[str]:
    """The header names set in `OPENAI_CUSTOM_HEADERS`, which the SDK adds to every request."""
    names: list[str] = []
    for line in os.environ.get("OPENAI_CUSTOM_HEADERS", "").split("\n"):
        name, colon, _ = line.partition(":")
        if colon and name.strip():
            names.append(name.strip())
    return names


class Connection:
    """Where and how to reach one provider; builds the SDK client on the first request, one
    per event loop (`covey.spec.adapter_kit.LazyClient`).

    Nothing here does I/O or reads the environment until `client()` is called.
    """

    __slots__ = (
        "_base_url",
        "_clients",
        "_errors",
        "_headers",
        "_http_client",
        "_org",
        "credentials",
        "provider",
    )

    def __init__(
        self,
        provider: OpenAICompatibleProvider,
        *,
        api_key: str | SecretStr | None,
        base_url: str | None,
        organization: str | None,
        default_headers: Mapping[str, str] | None,
        http_client: httpx2.AsyncClient | None,
    ) -> None:
        self.provider = provider
        self.credentials = Credentials(
            api_key,
            env_vars=provider.api_key_env,
            provider=provider.name,
            required=provider.requires_api_key,
            placeholder=PLACEHOLDER_API_KEY,
        )
        self._errors: ProviderErrors | None = None
        self._base_url = base_url
        self._org = organization
        self._headers = dict(default_headers) if default_headers else None
        self._http_client = http_client
        self._clients: LazyClient[AsyncOpenAI] = LazyClient(self._build, self._close)

    @property
    def errors(self) -> ProviderErrors:
        """How the provider's errors map to Covey's (built on first use)."""
        errors = self._errors
        if errors is None:
            provider = self.provider
            errors = self._errors = provider_errors(provider.name, provider.api_key_env)
        return errors

    @property
    def base_url(self) -> str:
        """The base URL requests go to (argument, else the provider's variable, else default)."""
        return self.provider.resolve_base_url(self._base_url)

    def api_key(self) -> SecretStr:
        """The API key: the argument, else the provider's variable, else a placeholder.

        Raises:
            ConfigurationError: the provider needs a key and none is set.
        """
        return self.credentials.api_key()

    def secrets(self) -> tuple[str, ...]:
        """Values that must never appear in an error message."""
        return self.credentials.secrets()

    async def client(self) -> AsyncOpenAI:
        """This event loop's SDK client, built on first use."""
        return await self._clients.get()

    def _build(self) -> AsyncOpenAI:
        """A new SDK client. SDK retries are off: Covey's run loop owns retries."""
        key = self.api_key()
        openai = import_openai()
        headers: dict[str, Any] | None = self._headers
        if not self.provider.forwards_openai_env:
            # The SDK adds headers from OPENAI_CUSTOM_HEADERS; they are meant for OpenAI, so
            # another server gets each of them omitted (an explicit header still wins).
            omitted: dict[str, Any] = {
                name: f"Bearer {key.get_secret_value()}"
                if name.lower() == "authorization"
                else openai.Omit()
                for name in openai_env_header_names()
            }
            headers = {**omitted, **(self._headers or {})} if omitted else self._headers
        http_client = self._http_client
        if http_client is None:
            # The SDK's own default client, on the process's one TLS context: building a context
            # loads the CA bundle (~60-90 ms), once per client otherwise, so once per `run_sync`.
            http_client = openai.DefaultAsyncHttpxClient(verify=shared_ssl_context())
        client: AsyncOpenAI = openai.AsyncOpenAI(
            api_key=key.get_secret_value(),
            base_url=self.base_url,
            organization=self._org,
            default_headers=headers,
            http_client=http_client,
            max_retries=0,
        )
        if not self.provider.forwards_openai_env:
            # The SDK reads these from the environment; they are OpenAI's, not this server's.
            client.organization = self._org
            client.project = None
        return client

    async def _close(self, client: AsyncOpenAI) -> None:
        if self._http_client is None:  # an HTTP client passed in stays the caller's
            await client.close()

    @contextmanager
    def sdk_errors(self, model_name: str) -> Generator[None]:
        """Re-raise the SDK's exceptions as Covey errors, chained, with secrets scrubbed."""
        openai = import_openai()
        try:
            yield
        except openai.OpenAIError as exc:
            mapped = map_sdk_error(
                exc, errors=self.errors, model_name=model_name, secrets=self.secrets()
            )
            if mapped is None:
                raise
            raise mapped from exc

    async def aclose(self) -> None:
        """Close this event loop's client if this connection built its own HTTP client."""
        await self._clients.aclose()
