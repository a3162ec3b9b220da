"""One supervised connection to an MCP server, owned by one task.

The SDK's transports are nested anyio contexts (task groups, cancel scopes) that must be left by
the task that entered them. A toolset is entered by many runs, in many tasks, and the first run
to enter is rarely the last to leave; so no run ever holds the connection. A dedicated owner
task (created on the event loop, outside every run's cancel scope) opens the transport and the
`ClientSession`, lists the tools, then serves the calls that runs put on a memory stream, each in
its own child task, and answers each through an event. When the server exits or the transport
breaks, the owner fails the calls in flight with an "unavailable" message, waits (exponential
backoff, jittered, capped) and connects again, for as long as the toolset is entered.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
from collections.abc import AsyncGenerator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, Self, cast

import anyio
from anyio.abc import TaskGroup
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from covey.spec.errors import ConfigurationError
from covey.tools.mcp._transports import CALL_HEADERS, TransportFactory

if TYPE_CHECKING:
    from mcp_types import CallToolResult, Tool

    from mcp.client import Client
    from mcp.client._transport import ReadStream, TransportStreams
    from mcp.shared.message import SessionMessage

__all__ = ["Backoff", "Connection", "Protocol", "State"]

logger = logging.getLogger("covey.tools.mcp")

State = Literal["idle", "connecting", "up", "down", "closed"]
Protocol = Literal["auto", "legacy"]
"""How a session starts: `"auto"` asks the server (`server/discover`) for the newest protocol
both sides speak and falls back to the `initialize` handshake; `"legacy"` always does the
handshake (the 2025 protocol era)."""


@dataclass(frozen=True, slots=True)
class Backoff:
    """How long the owner waits between reconnect attempts.

    Attempt `n` (from 0) waits `min(maximum, initial * multiplier**n)`, scaled by a random factor
    in `[1 - jitter, 1 + jitter]` so that many workers do not reconnect in step. The count starts
    again after a connection that came up.
    """

    initial: float = 0.5
    maximum: float = 30.0
    multiplier: float = 2.0
    jitter: float = 0.2

    def __post_init__(self) -> None:
        if not (0 < self.initial <= self.maximum) or self.multiplier < 1:
            raise ConfigurationError(
                f"Backoff needs 0 < initial <= maximum and multiplier >= 1, got {self!r}."
            )
        if not 0 <= self.jitter < 1:
            raise ConfigurationError(f"Backoff jitter must be in [0, 1), got {self.jitter!r}.")

    def delay(self, attempt: int) -> float:
        base = min(self.maximum, self.initial * self.multiplier ** min(attempt, 64))
        return base * random.uniform(1 - self.jitter, 1 + self.jitter)


class _Call:
    """A `tools/call` handed to the owner task; the caller waits on `done`."""

    __slots__ = ("arguments", "done", "headers", "name", "outcome", "scope", "timeout")

    def __init__(
        self,
        name: str,
        arguments: dict[str, Any],
        headers: Mapping[str, str] | None,
        timeout: float | None,
    ) -> None:
        self.name = name
        self.arguments = arguments
        self.headers = headers
        self.timeout = timeout
        self.done = anyio.Event()
        self.outcome: CallToolResult | str = "The call did not complete."
        self.scope: anyio.CancelScope | None = None

    def finish(self, outcome: CallToolResult | str) -> None:
        if not self.done.is_set():
            self.outcome = outcome
            self.done.set()


class _WatchedRead:
    """The transport's read stream, setting `lost` when it ends (the server went away)."""

    def __init__(
        self, inner: ReadStream[SessionMessage | Exception], on_end: Callable[[], None]
    ) -> None:
        self._inner = inner
        self._on_end = on_end

    @property
    def last_context(self) -> Any:
        return getattr(self._inner, "last_context", None)

    async def receive(self) -> SessionMessage | Exception:
        try:
            return await self._inner.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError, anyio.BrokenResourceError):
            self._on_end()
            raise

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> SessionMessage | Exception:
        try:
            return await self.receive()
        except anyio.EndOfStream:
            raise StopAsyncIteration from None

    async def aclose(self) -> None:
        self._on_end()
        await self._inner.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> bool | None:
        await self.aclose()
        return None


@asynccontextmanager
async def _watched(
    factory: TransportFactory, on_end: Callable[[], None]
) -> AsyncGenerator[TransportStreams, None]:
    async with factory() as (read, write):
        yield _WatchedRead(read, on_end), write


class Connection:
    """The owner task of one MCP connection and what callers see of it.

    `start()` creates the owner task (once per entry count going from 0 to 1) and `stop()`
    cancels it and waits for the transport to close (the subprocess is ended, the HTTP session
    deleted). `call()` may be used from any task of the same event loop.
    """

    def __init__(
        self,
        label: str,
        factory: TransportFactory,
        *,
        connect_timeout: float,
        backoff: Backoff,
        redact: Callable[[str], str],
        protocol: Protocol = "auto",
    ) -> None:
        self.label = label
        self.protocol: Protocol = protocol
        self._factory = factory
        self._connect_timeout = connect_timeout
        self._backoff = backoff
        self._redact = redact
        self.state: State = "idle"
        self.tools: list[Tool] | None = None
        """The last tool list the server gave (kept while it is down)."""
        self.tools_generation = 0
        self.last_error: str | None = None
        self.sessions_opened = 0
        self.protocol_version: str | None = None
        """The protocol version of the last session that came up."""
        self._task: asyncio.Task[None] | None = None
        self._scope: anyio.CancelScope | None = None
        self._attempted = anyio.Event()
        self._up = anyio.Event()
        self._changed = anyio.Event()
        self._fresh = anyio.Event()
        self._refresh_wanted = anyio.Event()
        self._pending: set[_Call] = set()
        self._send: MemoryObjectSendStream[_Call] | None = None
        self._receive: MemoryObjectReceiveStream[_Call] | None = None
        self._lost: anyio.Event | None = None

    # --- lifetime -------------------------------------------------------------------------

    def owned_elsewhere(self) -> bool | None:
        """None: no live owner. False: it runs on this event loop. True: on another live loop.

        An owner whose loop was closed (an `asyncio.run` that ended with the toolset still
        entered) is forgotten, so the toolset can connect again on this loop.
        """
        task = self._task
        if task is None or task.done():
            return None
        loop = task.get_loop()
        if loop is asyncio.get_running_loop():
            return False
        if loop.is_closed():
            self._task = None
            self._scope = None
            self.state = "idle"
            return None
        return True

    def start(self) -> None:
        if self._task is not None and not self._task.done():
            return
        self.state = "connecting"
        self._attempted = anyio.Event()
        self._up = anyio.Event()
        self._changed = anyio.Event()
        self._fresh = anyio.Event()
        self._fresh.set()
        self._refresh_wanted = anyio.Event()  # events are bound to the loop that waits on them
        self._send, self._receive = anyio.create_memory_object_stream[_Call](math.inf)
        # A task of the loop itself: no run's cancel scope is above it.
        self._task = asyncio.get_running_loop().create_task(
            self._own(), name=f"covey-mcp-{self.label}"
        )

    async def stop(self) -> None:
        task = self._task
        if task is None:
            return
        if self._scope is not None:
            self._scope.cancel()
        else:  # not running yet: its finally block may never run
            task.cancel()
        with anyio.CancelScope(shield=True):
            await asyncio.wait({task})
        self._task = None
        if self.state != "closed":
            self._down()
            self.state = "closed"

    async def wait_attempted(self) -> None:
        """Until the first connect attempt has succeeded or failed."""
        with anyio.move_on_after(self._connect_timeout + 5):
            await self._attempted.wait()

    async def wait_up(self) -> bool:
        while self.state not in ("up", "idle", "closed"):
            await self._up.wait()
        return self.state == "up"

    async def wait_fresh(self, limit: float) -> None:
        """Until a refresh asked for by a list-changed notification has finished."""
        with anyio.move_on_after(limit):
            await self._fresh.wait()

    async def wait_changed(self, since: int) -> None:
        while self.tools_generation <= since:
            await self._changed.wait()

    # --- the owner task -------------------------------------------------------------------

    async def _own(self) -> None:
        attempt = 0
        try:
            with anyio.CancelScope() as scope:
                self._scope = scope
                while True:
                    self.state = "connecting"
                    came_up = False
                    try:
                        came_up = await self._session()
                        self.last_error = self.last_error or "the server closed the connection"
                    except Exception as e:
                        self.last_error = self._describe(e)
                    self._down()
                    if came_up:
                        attempt = 0
                    delay = self._backoff.delay(attempt)
                    attempt += 1
                    logger.warning(
                        "MCP server %s is unavailable (%s); reconnecting in %.2f s",
                        self.label,
                        self.last_error,
                        delay,
                    )
                    await anyio.sleep(delay)
        finally:
            self._down()
            self.state = "closed"
            self._up.set()  # wake waiters: it will not come up
            self._scope = None

    def _lose(self, lost: anyio.Event) -> None:
        """The session behind `lost` is gone: callers see "down" from now on, not later."""
        if not lost.is_set():
            lost.set()
            if self._lost is lost:
                self.state = "down"
                if self._up.is_set():
                    self._up = anyio.Event()

    def _down(self) -> None:
        self.state = "down"
        if self._up.is_set():
            self._up = anyio.Event()
        self._lost = None
        self._attempted.set()
        self._fresh.set()
        message = self.unavailable()
        for call in list(self._pending):
            call.finish(message)

    async def _session(self) -> bool:
        from mcp_types import Implementation

        from mcp.client import Client

        lost = anyio.Event()
        deadline = anyio.current_time() + self._connect_timeout
        with anyio.CancelScope(deadline=deadline) as connect_scope:
            client_cm = Client(
                _watched(self._factory, lambda: self._lose(lost)),
                message_handler=self._on_message,
                mode=self.protocol,
                cache=None,
                client_info=Implementation(name="covey", version="0.1.0"),
            )
            async with client_cm as client:
                tools = await _list_all(client)
                connect_scope.deadline = math.inf
                self.last_error = None
                self._set_tools(tools)
                self.protocol_version = client.protocol_version
                self.sessions_opened += 1
                self._lost = lost
                async with anyio.create_task_group() as tg:
                    tg.start_soon(self._serve, client, tg, lost)
                    tg.start_soon(self._refresher, client)
                    if _wants_listen(client):
                        tg.start_soon(self._listen, client)
                    self.state = "up"
                    self._up.set()
                    self._attempted.set()
                    await lost.wait()
                    tg.cancel_scope.cancel()
                return True
        if connect_scope.cancelled_caught:
            raise TimeoutError(f"no answer within {self._connect_timeout:g} s")
        return False

    async def _serve(self, client: Client, tg: TaskGroup, lost: anyio.Event) -> None:
        assert self._receive is not None
        async for call in self._receive:
            if not call.done.is_set():
                tg.start_soon(self._run_call, client, call, lost)

    async def _run_call(self, client: Client, call: _Call, lost: anyio.Event) -> None:
        from mcp_types import CONNECTION_CLOSED
        from pydantic import ValidationError

        from mcp.shared.exceptions import MCPError

        token = CALL_HEADERS.set(call.headers)
        try:
            with anyio.CancelScope() as scope:
                call.scope = scope
                timeout = call.timeout if call.timeout is not None else math.inf
                with anyio.move_on_after(timeout) as timer:
                    try:
                        call.finish(await client.call_tool(call.name, call.arguments))
                    except MCPError as e:
                        if e.code == CONNECTION_CLOSED:
                            self.last_error = "the connection closed during a call"
                            self._lose(lost)
                            call.finish(self.unavailable())
                        else:
                            call.finish(
                                f"MCP server {self.label} refused the call to {call.name!r}: "
                                f"{self._redact(str(e))}"
                            )
                    except ValidationError:
                        call.finish(
                            f"MCP server {self.label} answered {call.name!r} with a result that "
                            "is not valid MCP."
                        )
                    except Exception as e:
                        # A transport failure (connection refused, reset, HTTP error): the
                        # session is no longer usable; reconnect.
                        self.last_error = self._describe(e)
                        self._lose(lost)
                        call.finish(self.unavailable())
                if timer.cancelled_caught:
                    call.finish(
                        f"MCP server {self.label} did not answer {call.name!r} within "
                        f"{call.timeout:g} s; the call was cancelled."
                    )
        finally:
            CALL_HEADERS.reset(token)
            call.finish(self.unavailable())

    # --- tool list --------------------------------------------------------------------------

    def _set_tools(self, tools: list[Tool]) -> None:
        self.tools = tools
        self.tools_generation += 1
        changed, self._changed = self._changed, anyio.Event()
        changed.set()

    async def _on_message(self, message: Any) -> None:
        from mcp_types import ToolListChangedNotification

        if isinstance(message, ToolListChangedNotification):
            self._tools_changed()

    def _tools_changed(self) -> None:
        if self._fresh.is_set():
            self._fresh = anyio.Event()
        self._refresh_wanted.set()

    async def _refresher(self, client: Client) -> None:
        while True:
            await self._refresh_wanted.wait()
            self._refresh_wanted = anyio.Event()
            try:
                tools = await _list_all(client)
            except Exception as e:
                logger.warning(
                    "MCP server %s: listing tools after a change failed: %s",
                    self.label,
                    self._describe(e),
                )
            else:
                self._set_tools(tools)
            if not self._refresh_wanted.is_set():
                self._fresh.set()

    async def _listen(self, client: Client) -> None:
        """2026-07-28 servers send list changes only to a `subscriptions/listen` stream."""
        try:
            async with client.listen(tools_list_changed=True) as subscription:
                async for _event in subscription:
                    self._tools_changed()
        except Exception as e:
            logger.debug("MCP server %s: no tool-change stream (%s)", self.label, e)

    # --- calls ------------------------------------------------------------------------------

    def unavailable(self) -> str:
        reason = self.last_error or ("not connected yet" if self.state == "connecting" else "down")
        return (
            f"MCP server {self.label} is unavailable: {reason}. It is being reconnected; the "
            "call did not run."
        )

    async def call(
        self,
        name: str,
        arguments: dict[str, Any],
        headers: Mapping[str, str] | None,
        call_timeout: float | None,
    ) -> CallToolResult | str:
        """Run `tools/call` on the owner task; a string is an error message for the model."""
        if self.state != "up" or self._send is None:
            return self.unavailable()
        call = _Call(name, arguments, headers, call_timeout)
        self._pending.add(call)
        try:
            self._send.send_nowait(call)
            await call.done.wait()
        finally:
            self._pending.discard(call)
            if not call.done.is_set():
                # The caller was cancelled (its run ended): cancel the request too.
                call.finish("The call was cancelled.")
                if call.scope is not None:
                    call.scope.cancel()
        return call.outcome

    def _describe(self, error: BaseException) -> str:
        leaf = _first_leaf(error)
        text = str(leaf).strip() or "no details"
        return self._redact(f"{type(leaf).__name__}: {text}")[:300]


def _first_leaf(error: BaseException) -> BaseException:
    leaf: BaseException = error
    while True:
        children = cast("tuple[BaseException, ...]", getattr(leaf, "exceptions", ()))
        is_group = isinstance(leaf, BaseExceptionGroup)
        if not is_group or not children:
            return leaf
        leaf = children[0]


def _wants_listen(client: Client) -> bool:
    from mcp_types.version import MODERN_PROTOCOL_VERSIONS

    try:
        tools = client.server_capabilities.tools
        return client.protocol_version in MODERN_PROTOCOL_VERSIONS and bool(
            tools and tools.list_changed
        )
    except Exception:
        return False


async def _list_all(client: Client) -> list[Tool]:
    tools: list[Tool] = []
    cursor: str | None = None
    for _ in range(100):  # a server whose cursor never ends cannot hang the connect
        page = await client.list_tools(cursor=cursor)
        tools.extend(page.tools)
        cursor = page.next_cursor
        if not cursor:
            break
    return tools
