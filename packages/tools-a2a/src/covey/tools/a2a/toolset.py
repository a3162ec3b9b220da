"""`A2AToolset`: a remote A2A agent as one tool a Covey agent can call.

The toolset reads the remote agent's card (`{url}/.well-known/agent-card.json`) when entered,
and offers one tool, `ask_<agent name>`, that sends the model's message to it with the official
`a2a-sdk` client and answers with what it said. A Covey session keeps one A2A context per
remote agent, so a conversation with the remote agent continues across calls (and a task that
asked for input gets the next message). Deny by default: the card's endpoint must be on the
card's own origin (a card pointing elsewhere would receive the bearer token), answers are cut
at `max_chars`, and every failure is an error result the model reads, never an exception.
"""

from __future__ import annotations

import contextlib
import re
import uuid
from collections import OrderedDict
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlsplit

import anyio
from pydantic import SecretStr

from covey.spec.context import RunContext
from covey.spec.errors import ConfigurationError, ToolNotFoundError
from covey.spec.tools import ToolArgumentsError, ToolDefinition, ToolResult, Toolset
from covey.tools.a2a._results import result_of

__all__ = ["A2AToolset"]

CARD_PATH = "/.well-known/agent-card.json"
_MAX_CONTEXTS = 1024
_NAME = re.compile(r"[^A-Za-z0-9_-]+")


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, (parts.hostname or "").lower(), port


def _safe_url(url: str) -> str:
    """`url` without user info, for messages."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return parts._replace(netloc=netloc, query="", fragment="").geturl()


class A2AToolset(Toolset):
    """One remote A2A agent as the tool `ask_<name>`.

    Args:
        url: The agent's URL; its card is at `{url}/.well-known/agent-card.json` (for a Covey
            runtime: `http://host/a2a/<agent>`).
        name: The tool's name (`ask_<card name>` by default).
        token: A bearer token sent with every request (kept as a `SecretStr`).
        headers: More headers sent with every request.
        timeout: Seconds one call may take, the remote run included.
        max_chars: The longest answer passed to the model; longer ones are cut.
        allow_other_origin: Accept a card whose endpoint is on another origin than the card
            (off: the token would go to a host the caller never named).
        streaming: Use `SendStreamingMessage` when the card offers it: the task id is known
            at once, so a timeout or a cancelled run cancels the remote task.
    """

    def __init__(
        self,
        url: str,
        *,
        name: str | None = None,
        token: str | SecretStr | None = None,
        headers: dict[str, str] | None = None,
        timeout: float = 120.0,
        max_chars: int = 20_000,
        allow_other_origin: bool = False,
        streaming: bool = True,
        id: str | None = None,
    ) -> None:
        if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).hostname:
            raise ConfigurationError(f"A2AToolset needs an http(s) URL, got {_safe_url(url)!r}")
        if timeout <= 0 or max_chars <= 0:
            raise ConfigurationError("A2AToolset: timeout and max_chars must be positive")
        self.url = url.rstrip("/")
        self._name = name
        self._token = SecretStr(token) if isinstance(token, str) else token
        self._headers = dict(headers or {})
        self.timeout = timeout
        self.max_chars = max_chars
        self.allow_other_origin = allow_other_origin
        self.streaming = streaming
        self.id = id
        self._entered = 0
        self._lock = anyio.Lock()
        self._http: Any = None
        self._client: Any = None
        self._card: Any = None
        self._contexts: OrderedDict[str, tuple[str, str | None]] = OrderedDict()
        """Covey session → (A2A context id, the task waiting for input or None)."""

    def __repr__(self) -> str:
        return f"A2AToolset({_safe_url(self.url)!r}, name={self._name!r})"

    # --- lifecycle -----------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        async with self._lock:
            if self._entered == 0:
                await self._connect()
            self._entered += 1
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        async with self._lock:
            self._entered -= 1
            if self._entered == 0:
                await self._close()

    async def _connect(self) -> None:
        import httpx

        from a2a.client import A2ACardResolver, ClientConfig, ClientFactory

        headers = dict(self._headers)
        if self._token is not None:
            headers["Authorization"] = f"Bearer {self._token.get_secret_value()}"
        # No redirects: a redirect could carry the token to another host.
        http = httpx.AsyncClient(headers=headers, timeout=self.timeout, follow_redirects=False)
        try:
            resolver = A2ACardResolver(http, self.url, agent_card_path=CARD_PATH)
            with anyio.fail_after(self.timeout):
                card = await resolver.get_agent_card()
            self._check_card(card)
            config = ClientConfig(streaming=self.streaming, httpx_client=http)
            self._client = ClientFactory(config).create(card)
        except BaseException:
            await http.aclose()
            raise
        self._http, self._card = http, card

    def _check_card(self, card: Any) -> None:
        interfaces = list(card.supported_interfaces)
        if not interfaces:
            raise ConfigurationError(f"The agent card at {_safe_url(self.url)} names no endpoint")
        if self.allow_other_origin:
            return
        for interface in interfaces:
            if _origin(interface.url) != _origin(self.url):
                raise ConfigurationError(
                    f"The agent card at {_safe_url(self.url)} sends calls to "
                    f"{_safe_url(interface.url)}, another origin; pass allow_other_origin=True "
                    "if you trust it with your credentials"
                )

    async def _close(self) -> None:
        client, http = self._client, self._http
        self._client = self._http = None
        if client is not None:
            await client.close()
        if http is not None:
            await http.aclose()

    # --- tools ---------------------------------------------------------------------------------

    @property
    def tool_name(self) -> str:
        """`ask_<card name>` (or the name given), safe for every provider."""
        if self._name:
            return self._name
        card_name = self._card.name if self._card is not None else ""
        return ("ask_" + _NAME.sub("_", card_name).strip("_"))[:64] or "ask_agent"

    def _definition(self) -> ToolDefinition:
        card = self._card
        skills = "; ".join(f"{s.name}: {s.description}" for s in card.skills if s.description)
        description = f"Ask the remote agent {card.name!r}. {card.description}".strip()
        if skills:
            description += f" Skills: {skills}"
        return ToolDefinition(
            name=self.tool_name,
            description=description[:1024],
            parameters_json_schema={
                "type": "object",
                "properties": {
                    "message": {
                        "type": "string",
                        "minLength": 1,
                        "description": "What to ask or tell the remote agent.",
                    }
                },
                "required": ["message"],
                "additionalProperties": False,
            },
            metadata={"a2a_url": _safe_url(self.url)},
        )

    async def list_tools(self, ctx: RunContext[Any]) -> list[ToolDefinition]:
        """The one tool (the card is read when the toolset is entered)."""
        if self._card is None:
            async with self:
                return [self._definition()]
        return [self._definition()]

    async def call_tool(self, name: str, args: dict[str, Any], ctx: RunContext[Any]) -> ToolResult:
        """Send the message; the remote agent's answer, or an error result."""
        if self._client is None:
            async with self:
                return await self.call_tool(name, args, ctx)
        if name != self.tool_name:
            raise ToolNotFoundError(f"No tool {name!r}; this toolset has {self.tool_name!r}")
        message = _message_arg(name, args)
        return await self._ask(message, ctx)

    async def _ask(self, text: str, ctx: RunContext[Any]) -> ToolResult:
        from a2a.types.a2a_pb2 import Message, Part, Role, SendMessageRequest

        session = ctx.session_id or ""
        context_id, waiting = self._contexts.get(session, ("", None)) if session else ("", None)
        request = SendMessageRequest(
            message=Message(
                message_id=str(uuid.uuid4()),
                role=Role.ROLE_USER,
                parts=[Part(text=text)],
                context_id=context_id,
                task_id=waiting or "",
            )
        )
        agent = self._card.name
        answer = _Answer()
        try:
            with anyio.fail_after(self.timeout):
                async for response in self._client.send_message(request):
                    answer.take(response)
        except TimeoutError:
            await self._cancel_remote(answer.task_id)
            return ToolResult(
                content=f"The remote agent {agent!r} did not answer within {self.timeout:g} s.",
                is_error=True,
                metadata={"task_id": answer.task_id, "state": "timed_out"},
            )
        except anyio.get_cancelled_exc_class():
            # The run was cancelled: stop the remote task too, instead of leaving it running.
            await self._cancel_remote(answer.task_id)
            raise
        except Exception as exc:  # the SDK's and httpx's errors: the model hears, the run goes on
            return ToolResult(content=_failure(agent, exc, self._token), is_error=True)
        last = answer.last
        result = result_of(last, agent=agent, limit=self.max_chars)
        if session and last is not None:
            asks = result.metadata.get("state") in ("input_required", "auth_required")
            self._remember(
                session, last.context_id, result.metadata.get("task_id") if asks else None
            )
        return result

    async def _cancel_remote(self, task_id: str) -> None:
        """Best effort, shielded and bounded: ask the remote agent to cancel `task_id`."""
        if not task_id or self._client is None:
            return
        from a2a.types.a2a_pb2 import CancelTaskRequest

        # Gone, or already ended: nothing more to stop.
        with (
            anyio.CancelScope(shield=True),
            anyio.move_on_after(min(self.timeout, 5.0)),
            contextlib.suppress(Exception),
        ):
            await self._client.cancel_task(CancelTaskRequest(id=task_id))

    def _remember(self, session: str, context_id: str, waiting: str | None) -> None:
        self._contexts[session] = (context_id, waiting)
        self._contexts.move_to_end(session)
        while len(self._contexts) > _MAX_CONTEXTS:
            self._contexts.popitem(last=False)


class _Answer:
    """The remote agent's answer as it arrives: a `Message`, or a `Task` kept up to date from
    its status and artifact updates (a streamed answer), so the task id is known early."""

    def __init__(self) -> None:
        self.last: Any = None

    @property
    def task_id(self) -> str:
        last = self.last
        return str(last.id) if last is not None and last.DESCRIPTOR.name == "Task" else ""

    def take(self, response: Any) -> None:
        from a2a.server.tasks.task_manager import append_artifact_to_task
        from a2a.types.a2a_pb2 import Task

        kind = response.WhichOneof("payload")
        if kind in ("task", "message"):
            self.last = getattr(response, kind)
            return
        task = self.last
        if task is None or task.DESCRIPTOR.name != "Task":
            update = getattr(response, kind)
            task = self.last = Task(id=update.task_id, context_id=update.context_id)
        if kind == "status_update":
            task.status.CopyFrom(response.status_update.status)
        elif kind == "artifact_update":
            append_artifact_to_task(task, response.artifact_update)


def _message_arg(name: str, args: dict[str, Any]) -> str:
    message = args.get("message")
    extra = set(args) - {"message"}
    if not isinstance(message, str) or not message.strip() or extra:
        errors: list[dict[str, Any]] = []
        if not isinstance(message, str):
            errors.append({"loc": ("message",), "msg": "a string is required"})
        elif not message.strip():
            errors.append({"loc": ("message",), "msg": "the message is empty"})
        errors += [{"loc": (key,), "msg": "unexpected argument"} for key in sorted(extra)]
        raise ToolArgumentsError(name, errors)
    return message


def _failure(agent: str, exc: BaseException, token: SecretStr | None) -> str:
    """What the model reads about a failed call: the error's kind and message, no secret."""
    detail = str(exc) or type(exc).__name__
    if token is not None:
        detail = detail.replace(token.get_secret_value(), "***")
    return f"Calling the remote agent {agent!r} failed ({type(exc).__name__}): {detail[:500]}"
