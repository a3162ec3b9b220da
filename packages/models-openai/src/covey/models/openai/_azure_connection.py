"""Where and how to reach an Azure OpenAI resource: endpoint, API version, and an API key or an
Entra ID token provider. Builds the SDK's `AsyncAzureOpenAI` client (or, for the `v1` API, the
plain `AsyncOpenAI` client on `<endpoint>/openai/v1`) on first use."""

from __future__ import annotations

import inspect
import ipaddress
import os
from collections import deque
from collections.abc import Awaitable, Callable, Generator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit

from pydantic import SecretStr

from covey.models.openai._azure_filter import prompt_filter_error
from covey.models.openai._client import Connection, openai_env_header_names, shared_ssl_context
from covey.models.openai._errors import provider_errors
from covey.models.openai._sdk import import_openai
from covey.models.openai.providers import OpenAICompatibleProvider
from covey.spec.adapter_kit import ProviderErrors, redact, redact_exception
from covey.spec.errors import AuthenticationError, ConfigurationError

if TYPE_CHECKING:
    import httpx2
    from openai import AsyncOpenAI

__all__ = [
    "AZURE_PROVIDER",
    "DEFAULT_API_VERSION",
    "RESPONSES_API_VERSION",
    "AzureConnection",
    "TokenProvider",
]

DEFAULT_API_VERSION = "2024-10-21"
"""The API version chat completions and embeddings use when none is set: the latest GA one."""

RESPONSES_API_VERSION = "2025-04-01-preview"
"""The API version the Responses API uses when none is set (it needs a preview version)."""

ENDPOINT_ENV = "AZURE_OPENAI_ENDPOINT"
API_KEY_ENV = "AZURE_OPENAI_API_KEY"
API_VERSION_ENV = "OPENAI_API_VERSION"

TokenProvider = Callable[[], "str | Awaitable[str]"]
"""Returns an Entra ID bearer token for `https://cognitiveservices.azure.com/.default`, sync or
async, e.g. `azure.identity.get_bearer_token_provider(DefaultAzureCredential(), scope)`."""

AZURE_PROVIDER = OpenAICompatibleProvider(
    name="azure",
    base_url="",
    api_key_env=API_KEY_ENV,
    base_url_env=ENDPOINT_ENV,
    # Azure serves OpenAI's own models: a deployment named after its model gets that model's
    # profile, any other name the GPT-4.1 class one (pass `profile=` for a reasoning model).
    openai_profiles=True,
)
"""Azure OpenAI as a provider record (not in `PROVIDERS`: it needs its own client)."""

_KEEP_TOKENS = 4  # recent Entra tokens kept for redaction (a token lives about an hour)


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class AzureConnection(Connection):
    """An Azure OpenAI resource. Reads nothing from the environment until the first request.

    Args:
        endpoint: `https://<resource>.openai.azure.com` (else `AZURE_OPENAI_ENDPOINT`).
        api_version: e.g. `2024-10-21` (else `OPENAI_API_VERSION`, else `default_api_version`);
            `v1` selects the version-less `/openai/v1` API and the plain OpenAI client.
        default_api_version: The version used when neither is set.
        api_key: The resource key (else `AZURE_OPENAI_API_KEY`); sent as the `api-key` header.
        azure_ad_token_provider: Returns an Entra ID token (sync or async), called before every
            request; sent as `Authorization: Bearer`. Exclusive with `api_key`.
    """

    __slots__ = ("_api_version", "_default_version", "_token_provider", "_tokens")

    def __init__(
        self,
        *,
        endpoint: str | None,
        api_version: str | None,
        default_api_version: str,
        api_key: str | SecretStr | None,
        azure_ad_token_provider: TokenProvider | None,
        default_headers: Mapping[str, str] | None,
        http_client: httpx2.AsyncClient | None,
    ) -> None:
        if azure_ad_token_provider is not None and not callable(azure_ad_token_provider):
            raise ConfigurationError(
                "azure_ad_token_provider must be a function returning an Entra ID token, got "
                f"{type(azure_ad_token_provider).__name__}."
            )
        given_key = api_key.get_secret_value() if isinstance(api_key, SecretStr) else api_key
        if azure_ad_token_provider is not None and given_key and given_key.strip():
            raise ConfigurationError(
                "Pass either api_key or azure_ad_token_provider to an Azure OpenAI model, not both."
            )
        super().__init__(
            AZURE_PROVIDER,
            api_key=api_key,
            base_url=endpoint,
            organization=None,
            default_headers=default_headers,
            http_client=http_client,
        )
        self._api_version = api_version.strip() if api_version else None
        self._default_version = default_api_version
        self._token_provider = azure_ad_token_provider
        self._tokens: deque[str] = deque(maxlen=_KEEP_TOKENS)

    # -- settings --------------------------------------------------------------------------------

    @property
    def errors(self) -> ProviderErrors:
        """OpenAI's error conventions, under Azure's name."""
        errors = self._errors
        if errors is None:
            errors = self._errors = provider_errors("Azure OpenAI", API_KEY_ENV)
        return errors

    @property
    def endpoint(self) -> str | None:
        """The resource endpoint without a trailing `/` (argument, else the variable)."""
        value = self._base_url or os.environ.get(ENDPOINT_ENV, "")
        value = value.strip().rstrip("/")
        # A URL copied from the portal may carry the API path; the client adds it again.
        for suffix in ("/openai/v1", "/openai"):
            if value.lower().endswith(suffix):
                value = value[: -len(suffix)]
                break
        return value or None

    @property
    def base_url(self) -> str:
        """Where requests go: `<endpoint>/openai` (or `/openai/v1`); empty until an endpoint is set."""
        endpoint = self.endpoint
        if endpoint is None:
            return ""
        return f"{endpoint}/openai/v1" if self.api_version == "v1" else f"{endpoint}/openai"

    @property
    def api_version(self) -> str:
        """The `api-version` sent (argument, else `OPENAI_API_VERSION`, else the default)."""
        env = os.environ.get(API_VERSION_ENV, "").strip()
        return self._api_version or env or self._default_version

    @property
    def uses_entra_id(self) -> bool:
        """Whether requests carry an Entra ID token rather than the resource key."""
        return self._token_provider is not None

    def _endpoint(self) -> str:
        endpoint = self.endpoint
        if endpoint is None:
            raise ConfigurationError(
                f"No Azure OpenAI endpoint: set the {ENDPOINT_ENV} environment variable, or pass "
                f"endpoint='https://<resource>.openai.azure.com' to the model."
            )
        parts = urlsplit(endpoint)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise ConfigurationError(
                "The Azure OpenAI endpoint must be an https:// URL such as "
                f"https://<resource>.openai.azure.com, got {redact(endpoint, self.secrets())!r}."
            )
        if parts.query or parts.fragment or parts.username or parts.password:
            raise ConfigurationError(
                "The Azure OpenAI endpoint must be a plain URL (no credentials, query or "
                "fragment), such as https://<resource>.openai.azure.com."
            )
        if parts.scheme == "http" and not _is_loopback(parts.hostname):
            # The key or token would cross the network in clear text.
            raise ConfigurationError(
                "The Azure OpenAI endpoint must use https:// (plain http:// is only accepted for "
                f"a server on this machine), got {redact(endpoint, self.secrets())!r}."
            )
        return endpoint

    def api_key(self) -> SecretStr:
        """The resource key.

        Raises:
            ConfigurationError: neither a key nor a token provider is configured.
        """
        try:
            return self.credentials.api_key()
        except ConfigurationError:
            raise ConfigurationError(
                f"No credentials for Azure OpenAI: set the {API_KEY_ENV} environment variable, "
                f"pass api_key=..., or pass azure_ad_token_provider=... (a function returning an "
                f"Entra ID token) to the model."
            ) from None

    def secrets(self) -> tuple[str, ...]:
        """The key and the recent Entra tokens: never shown in an error."""
        return (*self.credentials.secrets(), *self._tokens)

    # -- the client -------------------------------------------------------------------------------

    async def _token(self) -> str:
        """A token from the user's provider, checked and remembered for redaction."""
        provider = self._token_provider
        assert provider is not None
        try:
            token: object
            if inspect.iscoroutinefunction(provider):
                token = await provider()
            else:
                # A sync provider (azure-identity's) may fetch a token over the network when
                # its cache is cold: in a worker thread, so the event loop is not blocked.
                import anyio.to_thread

                token = await anyio.to_thread.run_sync(provider)
            if inspect.isawaitable(token):
                token = await cast("Awaitable[object]", token)
        except Exception as exc:
            # Its message may name a credential this adapter never saw: only the type is shown
            # (the exception stays chained for the traceback).
            redact_exception(exc, self.secrets())
            raise ConfigurationError(
                f"azure_ad_token_provider failed with {type(exc).__name__}; no request was sent. "
                f"Check the Entra ID credential it uses."
            ) from exc
        if not isinstance(token, str) or not token.strip():
            raise ConfigurationError(
                "azure_ad_token_provider must return a non-empty Entra ID token (a string), got "
                f"{type(token).__name__}."
            )
        token = str.__str__(token).strip()
        if token not in self._tokens:
            self._tokens.append(token)
        return token

    def _build(self) -> AsyncOpenAI:
        """A new SDK client; its own retries are off, since Covey's run loop owns retries."""
        endpoint = self._endpoint()
        openai = import_openai()
        auth: dict[str, Any]
        if self._token_provider is not None:
            auth = {"azure_ad_token_provider": self._token}
        else:
            auth = {"api_key": self.api_key().get_secret_value()}
        # The SDK adds OPENAI_CUSTOM_HEADERS to every request; they are meant for OpenAI.
        omitted: dict[str, Any] = {name: openai.Omit() for name in openai_env_header_names()}
        headers = {**omitted, **(self._headers or {})} or None
        http_client = self._http_client or openai.DefaultAsyncHttpxClient(
            verify=shared_ssl_context()
        )
        version = self.api_version
        client: AsyncOpenAI
        if version == "v1":
            key: Any = auth.get("api_key") or self._token
            client = openai.AsyncOpenAI(
                api_key=key,
                base_url=f"{endpoint}/openai/v1",
                default_headers=headers,
                http_client=http_client,
                max_retries=0,
            )
        else:
            client = openai.AsyncAzureOpenAI(
                azure_endpoint=endpoint,
                api_version=version,
                default_headers=headers,
                http_client=http_client,
                max_retries=0,
                **auth,
            )
        # The SDK reads these from the environment; they are OpenAI's, not Azure's.
        client.organization = None
        client.project = None
        return client

    @contextmanager
    def sdk_errors(self, model_name: str) -> Generator[None]:
        """As `Connection.sdk_errors`, and a filtered prompt becomes a `ContentFilterError`."""
        openai = import_openai()
        try:
            with super().sdk_errors(model_name):
                yield
        except Exception as exc:
            cause: BaseException | None = exc.__cause__
            if isinstance(cause, openai.APIError):
                # The SDK's error, already redacted: a filtered prompt is a 400 whose body
                # (or, mid-stream, an error event) has code `content_filter`.
                status: object = getattr(cause, "status_code", None)
                filtered = prompt_filter_error(
                    cast(object, getattr(cause, "body", None)),
                    model_name=model_name,
                    status_code=status if isinstance(status, int) else None,
                    # An error status is the prompt's; an error event inside a stream came
                    # while the completion was being written.
                    stage="input" if isinstance(status, int) else "output",
                )
                if filtered is not None:
                    raise filtered from cause
            if isinstance(exc, AuthenticationError) and self.uses_entra_id:
                # The kit's hint names the key variable; here a token was refused.
                exc.args = (
                    str(exc).replace(
                        f"Check the key in {API_KEY_ENV} (or the api_key argument)",
                        "Check the Entra ID token of azure_ad_token_provider: its scope must be "
                        "https://cognitiveservices.azure.com/.default and its identity needs the "
                        "Cognitive Services OpenAI User role on the resource",
                    ),
                )
            raise
