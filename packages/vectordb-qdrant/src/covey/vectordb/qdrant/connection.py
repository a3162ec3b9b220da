"""`Connection`: one qdrant-client, opened on first use, with errors in Covey's terms.

A server is reached through `AsyncQdrantClient` over HTTP. Local mode's async client computes
inside its coroutines without ever awaiting, so it would hold the event loop for the length of a
brute-force search: its calls run on an event loop of their own in a worker thread, one at a
time (local mode is not thread-safe). That is the only difference between the two.
"""

from __future__ import annotations

import asyncio
import math
import os
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

import anyio
from pydantic import SecretStr

from covey.spec.errors import ConfigurationError, VectorStoreError

if TYPE_CHECKING:
    from qdrant_client import AsyncQdrantClient

__all__ = ["API_KEY_ENV", "Connection", "NotFoundAnswerError"]

API_KEY_ENV = "QDRANT_API_KEY"

T = TypeVar("T")


class NotFoundAnswerError(Exception):
    """The server answered 404 (the caller knows what was not found)."""


class Connection:
    """A lazily opened qdrant-client for a server URL, `":memory:"` or a folder."""

    def __init__(self, location: str, *, api_key: SecretStr | None, timeout: float | None) -> None:
        self.server = location.startswith(("http://", "https://"))
        if self.server:
            parts = urlsplit(location)
            if parts.username is not None or parts.password is not None:
                raise ConfigurationError(
                    f"Credentials do not belong in the Qdrant URL; give api_key= or set "
                    f"{API_KEY_ENV}."
                )
            if api_key is None and os.environ.get(API_KEY_ENV):
                api_key = SecretStr(os.environ[API_KEY_ENV])
        self.location = location
        self._api_key = api_key
        self._timeout = None if timeout is None else max(1, math.ceil(timeout))
        self._client: AsyncQdrantClient | None = None
        self._closed = False
        self._local_loop: asyncio.AbstractEventLoop | None = None
        self._local_limiter = anyio.CapacityLimiter(1)

    def _open(self) -> AsyncQdrantClient:
        if self._client is None:
            if self._closed:
                raise VectorStoreError(f"The Qdrant store at {self.location} is closed")
            from qdrant_client import AsyncQdrantClient

            if self.server:
                key = self._api_key.get_secret_value() if self._api_key else None
                # No version probe: it is a thread and a request per client, and only warns.
                self._client = AsyncQdrantClient(
                    url=self.location,
                    api_key=key,
                    timeout=self._timeout,
                    check_compatibility=False,
                )
            elif self.location == ":memory:":
                self._client = AsyncQdrantClient(location=":memory:")
            else:
                Path(self.location).mkdir(parents=True, exist_ok=True)
                self._client = AsyncQdrantClient(
                    path=self.location, force_disable_check_same_thread=True
                )
        return self._client

    async def call(self, make: Callable[[AsyncQdrantClient], Coroutine[Any, Any, T]]) -> T:
        """Run `make(client)`; a 404 raises `NotFoundAnswerError`, other failures
        `VectorStoreError` (local mode's own `ValueError`s pass through)."""
        if self.server:
            return await self._guard(make(self._open()))

        def run() -> T:
            if self._local_loop is None:
                self._local_loop = asyncio.new_event_loop()
            # Opening local mode reads the whole folder: here too, off the event loop.
            return self._local_loop.run_until_complete(make(self._open()))

        return await anyio.to_thread.run_sync(run, limiter=self._local_limiter)

    async def _guard(self, call: Coroutine[Any, Any, T]) -> T:
        from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

        try:
            return await call
        except UnexpectedResponse as e:
            if e.status_code == 404:
                raise NotFoundAnswerError() from None
            body = e.content.decode("utf-8", "replace")[:300]
            raise VectorStoreError(
                f"Qdrant at {self.location} answered {e.status_code}: {body}"
            ) from None
        except ResponseHandlingException as e:
            raise VectorStoreError(
                f"Could not reach Qdrant at {self.location}: {type(e.source).__name__}. "
                "Check that the server is running and the URL is right."
            ) from None

    async def close(self) -> None:
        """Close the client (local mode on disk flushes its folder). Safe to call twice."""
        self._closed = True
        client, self._client = self._client, None
        if client is None:
            return
        if self.server:
            await client.close()
            return

        def run() -> None:
            assert self._local_loop is not None
            self._local_loop.run_until_complete(client.close())
            self._local_loop.close()
            self._local_loop = None

        await anyio.to_thread.run_sync(run, limiter=self._local_limiter)
