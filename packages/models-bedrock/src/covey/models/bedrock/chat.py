"""`BedrockModel`: models on Amazon Bedrock over Converse and ConverseStream, through boto3."""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any, Literal, NoReturn, TypeVar

from covey.models.bedrock._client import BedrockClient
from covey.models.bedrock._errors import BEDROCK_ERRORS, guardrail_error, map_error
from covey.models.bedrock._messages import PROVIDER_NAME
from covey.models.bedrock._profile import bedrock_profile
from covey.models.bedrock._request import Guardrail, build_request
from covey.models.bedrock._response import GUARDRAIL_STOP, dig, map_response
from covey.models.bedrock._stream import StreamState, assemble_stream
from covey.spec.adapter_kit import require_model_name
from covey.spec.messages import ModelResponse
from covey.spec.models import (
    ChatModel,
    FinalResponseEvent,
    ModelMessages,
    ModelProfile,
    ModelRequestParams,
    ModelSettings,
    ModelStreamEvent,
)

__all__ = ["BedrockModel"]

T = TypeVar("T")

_STREAM_BUFFER = 64
"""Events the pump thread may read ahead of the consumer before it waits."""


class BedrockModel(ChatModel):
    """A model on Amazon Bedrock, through the Converse API.

    The model id is a Bedrock model id (`anthropic.claude-sonnet-4-5-20250929-v1:0`,
    `amazon.nova-pro-v1:0`), a cross-region inference profile (`us.anthropic...`) or an
    inference profile ARN. Credentials and region come from the standard AWS chain (the
    environment, `AWS_PROFILE` and `~/.aws`, SSO, the container or instance role), read on the
    first request, in a worker thread; constructing the model does no I/O and imports no SDK.

    botocore is synchronous: each call runs in a worker thread, and a ConverseStream is read in
    a worker thread that hands its events to the event loop, so the loop never blocks. Closing
    or cancelling a stream closes the HTTP response. botocore's own retries are off: Covey's
    run loop retries throttling (`RateLimitedError`), 5xx (`ModelServerError`) and dropped
    connections, each attempt an event.

    Settings map as `build_request` says (`max_tokens`, `temperature`, `top_p`, `stop` →
    `inferenceConfig`; `thinking_budget` → Claude's reasoning; `top_k` and `extra_body` →
    `additionalModelRequestFields`; `prompt_cache` → cache points, on by default for models
    that cache; `timeout` bounds the whole call).

    Example:
        ```python
        from covey.models.bedrock import BedrockModel

        model = BedrockModel("us.anthropic.claude-sonnet-4-5-20250929-v1:0", region_name="us-west-2")
        ```

    Args:
        model_id: The model id, inference profile id or ARN.
        region_name: The AWS region; defaults to the chain's (`AWS_REGION`, the profile's).
        profile_name: A named profile of the AWS config files.
        endpoint_url: Another endpoint URL (a VPC endpoint, a proxy, a test server).
        session: A ready `boto3.Session` (its credentials and region).
        client: A ready `bedrock-runtime` client; used as is and never closed by the model.
        config: A `botocore.config.Config` merged over the model's (retries off, 600 s read
            timeout).
        guardrail: A Bedrock guardrail applied to every request.
        on_guardrail: `"raise"` (the default): an intervention raises
            `BedrockGuardrailIntervened`, so the run fails with a `guardrail.tripped` event;
            `"respond"`: the guardrail's message is the response, with finish reason
            `content_filter`.
        profile: Overrides the capability profile derived from the model id.
    """

    def __init__(
        self,
        model_id: str,
        *,
        region_name: str | None = None,
        profile_name: str | None = None,
        endpoint_url: str | None = None,
        session: Any = None,
        client: Any = None,
        config: Any = None,
        guardrail: Guardrail | None = None,
        on_guardrail: Literal["raise", "respond"] = "raise",
        profile: ModelProfile | None = None,
    ) -> None:
        model_id = require_model_name(
            model_id, adapter="BedrockModel", example="anthropic.claude-sonnet-4-5-20250929-v1:0"
        )
        if on_guardrail not in ("raise", "respond"):
            from covey.spec.errors import ConfigurationError

            raise ConfigurationError(
                f"on_guardrail must be 'raise' or 'respond', got {on_guardrail!r}."
            )
        self._model_id = model_id
        self._clients = BedrockClient(
            region_name=region_name,
            profile_name=profile_name,
            endpoint_url=endpoint_url,
            session=session,
            client=client,
            config=config,
        )
        self._guardrail = guardrail
        self._on_guardrail = on_guardrail
        self._profile = profile if profile is not None else bedrock_profile(model_id)

    @property
    def model_name(self) -> str:
        """The model id or inference profile."""
        return self._model_id

    @property
    def provider(self) -> str:
        """Always `bedrock`."""
        return PROVIDER_NAME

    @property
    def profile(self) -> ModelProfile:
        """What the model can do."""
        return self._profile

    def _raise(self, exc: BaseException) -> NoReturn:
        if isinstance(exc, TimeoutError):
            raise BEDROCK_ERRORS.connection_error(
                model_name=self._model_id, timed_out=True
            ) from None
        if not isinstance(exc, Exception):
            raise exc
        mapped = map_error(exc, model_name=self._model_id, secrets=self._clients.secrets())
        if mapped is exc:
            raise exc
        raise mapped from exc

    async def _call(self, function: Callable[[], T], deadline: float | None) -> T:
        import anyio
        import anyio.to_thread

        try:
            with anyio.fail_after(_left(deadline)):
                # Abandoned on cancellation: the thread ends with its HTTP call, the loop at once.
                return await anyio.to_thread.run_sync(function, abandon_on_cancel=True)
        except Exception as exc:
            self._raise(exc)

    async def request(
        self,
        messages: ModelMessages,
        settings: ModelSettings | None,
        params: ModelRequestParams,
    ) -> ModelResponse:
        """Send one Converse request and return the whole response.

        Raises:
            ConfigurationError: no credentials or region, or media Converse does not take.
            RateLimitedError: throttling (429 `ThrottlingException`, `ModelNotReadyException`).
            AuthenticationError: credentials refused or lacking permission (401/403).
            ContextOverflowError: the prompt is longer than the model's context window.
            ModelServerError: 5xx (`ServiceUnavailableException`, `InternalServerException`).
            ModelHTTPError: any other error status.
            ModelConnectionError: Bedrock could not be reached, or the call timed out.
            BedrockGuardrailIntervened: the guardrail blocked the input or the output (with
                `on_guardrail="raise"`).
        """
        settings = settings or ModelSettings()
        kwargs = build_request(
            self._model_id,
            messages,
            settings,
            params,
            profile=self._profile,
            guardrail=self._guardrail,
        )
        deadline = _deadline(settings.timeout)
        client = await self._call(self._clients.get_sync, deadline)
        body: Mapping[str, Any] = await self._call(
            functools.partial(client.converse, **kwargs), deadline
        )
        response = map_response(body, model_name=self._model_id)
        if body.get("stopReason") == GUARDRAIL_STOP:
            self._guardrail_intervened(body.get("trace"), response.text())
        return response

    def _guardrail_intervened(self, trace: Any, text: str) -> None:
        if self._on_guardrail == "raise":
            raise guardrail_error(
                trace,
                guardrail_id=self._guardrail.identifier if self._guardrail else None,
                blocked_message=text,
            )

    async def request_stream(
        self,
        messages: ModelMessages,
        settings: ModelSettings | None,
        params: ModelRequestParams,
    ) -> AsyncIterator[ModelStreamEvent]:
        """Stream one ConverseStream request: part events as they arrive, then the response.

        An exception event inside the stream (`throttlingException`,
        `serviceUnavailableException`, `modelStreamErrorException`...) raises the same errors
        as `request` does for the matching HTTP error. With a guardrail that intervenes (and
        `on_guardrail="raise"`), the parts streamed so far are followed by
        `BedrockGuardrailIntervened` instead of the final response.

        Raises:
            As for `request`; `UnexpectedModelBehavior` when the stream ends before
            `messageStop`.
        """
        import anyio
        import anyio.lowlevel

        settings = settings or ModelSettings()
        kwargs = build_request(
            self._model_id,
            messages,
            settings,
            params,
            profile=self._profile,
            guardrail=self._guardrail,
            streaming=True,
        )
        deadline = _deadline(settings.timeout)
        client = await self._call(self._clients.get_sync, deadline)
        answer: Mapping[str, Any] = await self._call(
            functools.partial(client.converse_stream, **kwargs), deadline
        )
        stream = answer["stream"]
        request_id: str | None = dig(answer, "ResponseMetadata", "RequestId")
        send, receive = anyio.create_memory_object_stream[tuple[bool, Any]](_STREAM_BUFFER)
        pump = threading.Thread(
            target=_pump,
            args=(stream, send, anyio.lowlevel.current_token()),
            name=f"bedrock-stream-{self._model_id}",
            daemon=True,
        )
        pump.start()
        state = StreamState()
        events = assemble_stream(
            _received(receive), model_name=self._model_id, request_id=request_id, state=state
        )
        try:
            while True:
                # The time limit covers each wait for an event, never a `yield` (a cancel scope
                # must not span one).
                with anyio.fail_after(_left(deadline)):
                    try:
                        event = await anext(events)
                    except StopAsyncIteration:
                        break
                if isinstance(event, FinalResponseEvent) and state.stop_reason == GUARDRAIL_STOP:
                    self._guardrail_intervened(state.trace, "".join(state.texts))
                yield event
        except Exception as exc:
            self._raise(exc)
        finally:
            await events.aclose()
            receive.close()
            _abort(stream)

    async def aclose(self) -> None:
        """Close the boto3 client built by the model (not one passed in). Safe to call twice."""
        self._clients.close()

    def __repr__(self) -> str:
        region = f", region_name={self._clients.region_name!r}" if self._clients.region_name else ""
        return f"BedrockModel(model_id={self._model_id!r}{region})"


def _deadline(timeout: float | None) -> float | None:
    """When a call with `ModelSettings.timeout` must be over, on the loop's clock."""
    import anyio

    return None if timeout is None else anyio.current_time() + timeout


def _left(deadline: float | None) -> float | None:
    import anyio

    return None if deadline is None else max(0.0, deadline - anyio.current_time())


async def _received(receive: Any) -> AsyncIterator[Mapping[str, Any]]:
    """The events the pump thread sends; an exception it sends is raised here."""
    async for ok, item in receive:
        if not ok:
            raise item
        yield item


def _abort(stream: Any) -> None:
    """Wake the pump thread if it is blocked reading the response, without blocking the loop.

    Closing the response from this thread would not wake a `recv` blocked on its socket, and
    would itself wait for the reader's buffer lock, blocking the event loop. Shutting down the
    socket's read side (urllib3's `HTTPResponse.shutdown`) does wake it: the read fails, the
    pump finds the channel closed, closes the response itself and ends.
    """
    raw = getattr(stream, "_raw_stream", None)
    with contextlib.suppress(Exception):  # already released to the pool: nothing is blocked
        raw.shutdown()  # pyright: ignore[reportOptionalMemberAccess]


def _pump(stream: Any, send: Any, token: Any) -> None:
    """Read the event stream (blocking) and hand each event to the loop; stop when the
    consumer is gone. Runs in its own daemon thread."""
    from anyio import BrokenResourceError, ClosedResourceError, from_thread

    try:
        try:
            for event in stream:
                from_thread.run(send.send, (True, event), token=token)
        except (BrokenResourceError, ClosedResourceError, RuntimeError):
            return  # the consumer closed the channel, or its loop is gone
        except Exception as exc:
            try:
                from_thread.run(send.send, (False, exc), token=token)
            except Exception:
                return
    finally:
        with contextlib.suppress(Exception):
            from_thread.run_sync(send.close, token=token)
        with contextlib.suppress(Exception):
            stream.close()  # here, in the thread that reads it
