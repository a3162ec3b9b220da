"""The boto3 `bedrock-runtime` client: built once in a worker thread, from the AWS chain.

botocore has no asyncio. Its clients are thread-safe and tied to no event loop, so one client
serves every loop and every worker thread; building it (reading profiles, maybe asking the
instance metadata service for credentials, loading the service model) is blocking work, so it
happens in a worker thread too.
"""

from __future__ import annotations

import importlib
import logging
import os
import threading
from typing import Any

from covey.spec.adapter_kit import redact

__all__ = ["SECRET_ENV_VARS", "BedrockClient"]

SECRET_ENV_VARS = ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_BEARER_TOKEN_BEDROCK")
"""Environment variables whose values are never shown in an error, a repr or a log."""

_DEFAULT_CONFIG: dict[str, Any] = {
    # One retry policy: Covey's run loop retries (each attempt an event, `retry_after`
    # honoured), so botocore's own retries are off. A `config` passed in may turn them back on.
    "retries": {"total_max_attempts": 1, "mode": "standard"},
    "connect_timeout": 10,
    # Long generations take minutes before their first byte (botocore's default is 60 s).
    "read_timeout": 600,
    "user_agent_extra": "covey-models-bedrock",
}

_known_secrets: set[str] = set()
_secrets_lock = threading.Lock()
_filter_installed: set[str] = set()


class _RedactingFilter(logging.Filter):
    """Removes AWS secrets from botocore's debug logs (it logs signed headers, among them the
    session token, and error bodies, which may echo anything)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:
            return True
        with _secrets_lock:
            secrets = tuple(_known_secrets)
        clean = redact(message, secrets)
        if clean != message:
            record.msg, record.args = clean, None
        return True


_FILTER = _RedactingFilter()


def _install_log_filter() -> None:
    names = [
        name
        for name in list(logging.root.manager.loggerDict)
        if name.split(".", 1)[0] in ("botocore", "boto3", "urllib3")
    ]
    for name in names:
        if name not in _filter_installed:
            logging.getLogger(name).addFilter(_FILTER)
            _filter_installed.add(name)


class BedrockClient:
    """Holds the `bedrock-runtime` client of one model or embedder, and its secrets.

    Args:
        region_name: The AWS region; else the chain's (`AWS_REGION`, the profile...).
        profile_name: A profile of `~/.aws/config`; else `AWS_PROFILE` or the default chain.
        endpoint_url: Another endpoint (a VPC endpoint, a proxy, a test server).
        session: A ready `boto3.Session` to build the client from.
        client: A ready `bedrock-runtime` client, used as is (and never closed here).
        config: A `botocore.config.Config` merged over Covey's defaults (retries off, a 600 s
            read timeout).
    """

    __slots__ = (
        "_built",
        "_client",
        "_config",
        "_endpoint_url",
        "_lock",
        "_profile_name",
        "_ready",
        "_region_name",
        "_secrets",
        "_session",
    )

    def __init__(
        self,
        *,
        region_name: str | None = None,
        profile_name: str | None = None,
        endpoint_url: str | None = None,
        session: Any = None,
        client: Any = None,
        config: Any = None,
    ) -> None:
        self._region_name = region_name
        self._profile_name = profile_name
        self._endpoint_url = endpoint_url
        self._session = session
        self._config = config
        self._client: Any = client
        self._built = False
        self._ready = False
        self._secrets: tuple[str, ...] = ()
        self._lock = threading.Lock()

    @property
    def region_name(self) -> str | None:
        """The region passed in (the chain's is only known once the client is built)."""
        return self._region_name

    def get_sync(self) -> Any:
        """The client, built now if needed (blocking: call it from a worker thread).

        Raises:
            botocore.exceptions.BotoCoreError: no region, an unknown profile... (the caller
                maps it).
        """
        with self._lock:
            if not self._ready:
                if self._client is None:
                    self._client = self._build()
                    self._built = True
                self._secrets = _credential_secrets(self._client)
                with _secrets_lock:
                    _known_secrets.update(s for s in self._secrets if len(s) >= 4)
                _install_log_filter()
                self._ready = True
            return self._client

    async def get(self) -> Any:
        """The client; the first call builds it in a worker thread."""
        if self._ready:
            return self._client
        import anyio.to_thread

        return await anyio.to_thread.run_sync(self.get_sync)

    def _build(self) -> Any:
        # boto3 ships no type information: its modules are used as `Any`.
        boto3: Any = importlib.import_module("boto3")
        config_module: Any = importlib.import_module("botocore.config")

        config: Any = config_module.Config(**_DEFAULT_CONFIG)
        if self._config is not None:
            config = config.merge(self._config)
        session: Any = self._session or boto3.Session(
            profile_name=self._profile_name, botocore_session=_botocore_session()
        )
        # botocore reads AWS_DEFAULT_REGION and the profile; AWS_REGION (what the other AWS SDKs,
        # Lambda and ECS use) comes after both.
        region = self._region_name or session.region_name or os.environ.get("AWS_REGION") or None
        client: Any = session.client(
            "bedrock-runtime",
            region_name=region,
            endpoint_url=self._endpoint_url,
            config=config,
        )
        return client

    def secrets(self) -> tuple[str, ...]:
        """Every value never to show: the client's secret key and session token, and the
        secret environment variables."""
        values = [*self._secrets, *(os.environ.get(name, "").strip() for name in SECRET_ENV_VARS)]
        return tuple(v for v in values if len(v) >= 4)

    def close(self) -> None:
        """Close a client built here (its connection pool); one passed in stays open."""
        with self._lock:
            client, built = self._client, self._built
            if built:
                self._client, self._built, self._ready = None, False, False
        if built and client is not None:
            client.close()


_shared_loader: Any = None


def _botocore_session() -> Any:
    """A new botocore session (its own credentials chain and config) sharing the process's one
    data loader, so the service model and endpoint files are parsed once per process rather than
    once per client (~250 ms each)."""
    global _shared_loader
    botocore_session: Any = importlib.import_module("botocore.session")
    session = botocore_session.Session()
    with _secrets_lock:
        if _shared_loader is None:
            loaders: Any = importlib.import_module("botocore.loaders")
            _shared_loader = loaders.create_loader()
        loader = _shared_loader
    session.register_component("data_loader", loader)
    return session


def _credential_secrets(client: Any) -> tuple[str, ...]:
    """The secret key and session token the client signs with (read once, when it is built)."""
    try:
        credentials = client._request_signer._credentials
        if credentials is None:
            return ()
        frozen = credentials.get_frozen_credentials()
    except Exception:  # no credentials yet: the request will say so
        return ()
    return tuple(v for v in (frozen.secret_key, frozen.token) if v)
