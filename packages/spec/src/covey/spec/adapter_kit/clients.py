"""`LazyClient`: an SDK client built on first use, one per event loop.

An SDK's async client holds a connection pool whose sockets belong to the event loop that opened
them. `agent.run_sync` starts a new loop for every call (and so does `asyncio.run`), so a client
kept from an earlier call would send on a closed loop ("Event loop is closed"). `LazyClient`
builds one client per running loop, never hands it to another loop, and closes it inside its
own loop when that loop shuts down (or when `aclose` is called).
"""

from __future__ import annotations

import contextlib
import threading
import weakref
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

__all__ = ["LazyClient"]

ClientT = TypeVar("ClientT")


@dataclass(slots=True)
class _Entry(Generic[ClientT]):
    client: ClientT
    keeper: AsyncGenerator[None]


def _current_loop() -> object:
    import asyncio  # here, not at import: an adapter module's import stays light

    try:
        return asyncio.get_running_loop()
    except RuntimeError:  # another anyio backend (trio): its run token is per loop, too
        from anyio.lowlevel import current_token

        return current_token().native_token


class LazyClient(Generic[ClientT]):
    """Builds an SDK client on the first `get()` in each event loop, and closes it with the loop.

    Args:
        build: Makes a new client (reads credentials, imports the SDK). Called once per loop.
        close: Closes a client this holder built; called inside the loop that built it.

    Example:
        ```python
        import asyncio

        from covey.spec.adapter_kit import LazyClient

        built: list[object] = []


        async def close(client: object) -> None:
            built.remove(client)


        clients = LazyClient(lambda: built.append(object()) or built[-1], close)


        async def main() -> object:
            return await clients.get()


        first, second = asyncio.run(main()), asyncio.run(main())
        assert first is not second  # one client per event loop
        assert built == []  # each was closed when its loop shut down
        ```
    """

    __slots__ = ("__weakref__", "_build", "_close", "_entries", "_lock")

    def __init__(
        self, build: Callable[[], ClientT], close: Callable[[ClientT], Awaitable[None]]
    ) -> None:
        self._build = build
        self._close = close
        # Keyed weakly by loop: a loop that is gone takes its entry with it.
        self._entries: weakref.WeakKeyDictionary[object, _Entry[ClientT]] = (
            weakref.WeakKeyDictionary()
        )
        self._lock = threading.Lock()

    async def get(self) -> ClientT:
        """The running loop's client, built now if this loop has none yet.

        Raises:
            Whatever `build` raises (a `ConfigurationError` for a missing key), every time
            until it succeeds.
        """
        loop = _current_loop()
        entry = self._entries.get(loop)
        if entry is not None:
            return entry.client
        client = self._build()
        keeper = self._keeper(client)
        # The first step registers the generator with the loop, which closes it (running the
        # `finally` below, inside this loop) at shutdown: `asyncio.run`, `anyio.run`, `run_sync`.
        await keeper.asend(None)
        with self._lock:
            current = self._entries.get(loop)
            if current is None:
                self._entries[loop] = _Entry(client, keeper)
                return client
        await keeper.aclose()  # another task of this loop built one first
        return current.client

    async def _keeper(self, client: ClientT) -> AsyncGenerator[None]:
        try:
            yield
        finally:
            # Closing at loop shutdown is best effort: a failure there helps no one.
            with contextlib.suppress(Exception):
                await self._close(client)

    def built(self) -> bool:
        """Whether the running loop (or, outside a loop, any loop) has a client now."""
        try:
            loop = _current_loop()
        except Exception:
            return len(self._entries) > 0
        return loop in self._entries

    async def aclose(self) -> None:
        """Close this loop's client now, and forget every other loop's (each loop closes its
        own at shutdown). The next `get()` builds a new one. Safe to call twice."""
        with self._lock:
            entries = dict(self._entries)
            self._entries.clear()
        mine = entries.pop(_current_loop(), None)
        if mine is not None:
            await mine.keeper.aclose()

    def __repr__(self) -> str:
        return f"LazyClient(loops={len(self._entries)})"
