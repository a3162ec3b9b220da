"""What is Bedrock's about its errors: AWS error codes, overflow wording and botocore's
exceptions. The mapping itself is the adapter kit's (`covey.spec.adapter_kit.ProviderErrors`)."""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from typing import Any, Literal, cast

from covey.spec.adapter_kit import ContextOverflow, ProviderErrors, redact, redact_exception
from covey.spec.errors import (
    AuthenticationError,
    ConfigurationError,
    CoveyError,
    GuardrailTripped,
)

__all__ = ["BEDROCK_ERRORS", "BedrockGuardrailIntervened", "map_error"]

CREDENTIALS_HINT = (
    "Check the AWS credentials (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN, "
    "AWS_PROFILE, or the instance role), their IAM permission bedrock:InvokeModel (and "
    "InvokeModelWithResponseStream), and that the model is enabled in the region"
)

BEDROCK_ERRORS = ProviderErrors(
    provider="Amazon Bedrock",
    api_key_env="AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY",
    # "Input is too long for requested model.", "prompt is too long: 215000 tokens > 200000
    # maximum" (Claude, relayed), "Too many input tokens", "...exceeds the context window".
    overflow=ContextOverflow(
        patterns=(
            r"input is too long",
            r"prompt is too long",
            r"too many (?:input )?tokens",
            r"exceed(?:s|ed)? (?:the )?(?:model'?s? )?(?:context|maximum input)",
            r"context (?:window|length)",
        )
    ),
    auth_codes=frozenset(
        {
            "AccessDeniedException",
            "UnrecognizedClientException",
            "InvalidSignatureException",
            "ExpiredTokenException",
            "IncompleteSignature",
            "MissingAuthenticationTokenException",
        }
    ),
    # The status an error code stands for when it comes without one: exceptions inside a
    # ConverseStream event stream (lower camel case there) and codes botocore raised itself.
    status_by_code={
        "throttlingException": 429,
        "ThrottlingException": 429,
        "ModelNotReadyException": 429,
        "serviceUnavailableException": 503,
        "ServiceUnavailableException": 503,
        "internalServerException": 500,
        "InternalServerException": 500,
        "modelStreamErrorException": 500,
        "ModelStreamErrorException": 500,
        "validationException": 400,
        "ValidationException": 400,
    },
)
"""Amazon Bedrock's error conventions."""

# Codes that mean "retry later" whatever status they came with.
_RATE_LIMITED = frozenset({"ThrottlingException", "throttlingException", "ModelNotReadyException"})
_TIMED_OUT = frozenset({"ModelTimeoutException"})


class BedrockGuardrailIntervened(GuardrailTripped):
    """A Bedrock guardrail blocked the input or the output (`stopReason` `guardrail_intervened`).

    The run ends `failed` with this error after a `guardrail.tripped` event, as for Covey's own
    guardrails. `reason` names the guardrail and the kinds of policy that fired (never the text
    that fired them); `stage` is `"input"` or `"output"` when the guardrail's trace says which.

    Attributes:
        guardrail_id: The guardrail's identifier, as configured.
        policies: The policy kinds that intervened (`contentPolicy`, `topicPolicy`...), from
            the trace (empty when the trace is off).
        blocked_message: The message the guardrail answers with instead (configured on the
            guardrail, not written by the model).
    """

    def __init__(
        self,
        *,
        guardrail_id: str | None,
        stage: Literal["input", "output"] | None,
        policies: Sequence[str] = (),
        blocked_message: str = "",
    ) -> None:
        self.guardrail_id = guardrail_id
        self.policies = tuple(policies)
        self.blocked_message = blocked_message
        where = {"input": "the input", "output": "the output"}.get(stage or "", "the request")
        which = f" ({', '.join(self.policies)})" if self.policies else ""
        super().__init__(
            f"Amazon Bedrock guardrail intervened on {where}{which}",
            guardrail=f"bedrock:{guardrail_id}" if guardrail_id else "bedrock",
            stage=stage,
        )


def guardrail_error(
    trace: Mapping[str, Any] | None, *, guardrail_id: str | None, blocked_message: str
) -> BedrockGuardrailIntervened:
    """The error for a `guardrail_intervened` stop, read from the response's `trace`."""
    guardrail = cast(Mapping[str, Any], (trace or {}).get("guardrail") or {})
    stage: Literal["input", "output"] | None = None
    policies: list[str] = []
    outputs = cast(list[Mapping[str, Any]], guardrail.get("outputAssessments") or [])
    if isinstance(outputs, Mapping):  # keyed by guardrail id on the wire
        outputs = [a for group in cast(Mapping[str, Any], outputs).values() for a in group]
    inputs = cast(Mapping[str, Any], guardrail.get("inputAssessment") or {})
    if _intervened(inputs.values()):
        stage = "input"
        policies = _policies(inputs.values())
    elif _intervened(outputs):
        stage = "output"
        policies = _policies(outputs)
    return BedrockGuardrailIntervened(
        guardrail_id=guardrail_id, stage=stage, policies=policies, blocked_message=blocked_message
    )


def _intervened(assessments: Any) -> bool:
    return any(_policies([a]) for a in assessments)


def _policies(assessments: Any) -> list[str]:
    # Only the policy kinds: a policy's details can quote the text that fired it (a PII match,
    # a custom word), which must not reach an error message.
    found: list[str] = []
    for assessment in assessments:
        if isinstance(assessment, Mapping):
            for key, value in cast(Mapping[str, Any], assessment).items():
                if key.endswith("Policy") and value and key not in found:
                    found.append(key)
    return found


def map_error(exc: Exception, *, model_name: str, secrets: Sequence[str] = ()) -> Exception:
    """The Covey error for an exception raised by botocore.

    A `ClientError` (an HTTP error, or an exception event inside a stream) maps by its status,
    or by its code when it came without one: throttling → `RateLimitedError` (retryable, with
    `retry_after` from the headers), 401/403 and signature/token codes →
    `AuthenticationError`, overflow wording → `ContextOverflowError`, 5xx →
    `ModelServerError`. Connection failures and timeouts → `ModelConnectionError`; missing
    credentials or region → `ConfigurationError`. botocore's exception is redacted in place
    (it is chained to the returned error). Other exceptions are returned unchanged.
    """
    boto: Any = importlib.import_module("botocore.exceptions")  # untyped: used as `Any`

    if isinstance(exc, CoveyError):
        return exc
    broken = _broken_stream(exc)
    if broken is not None:
        return BEDROCK_ERRORS.connection_error(
            model_name=model_name, reason=f"the response stream broke ({broken})"
        )
    if not isinstance(exc, boto.BotoCoreError | boto.ClientError):
        return exc
    redact_exception(exc, secrets)
    errors = BEDROCK_ERRORS
    if isinstance(exc, boto.ClientError):
        response = cast(Mapping[str, Any], cast(Any, exc).response)
        error = cast(Mapping[str, Any], response.get("Error") or {})
        meta = cast(Mapping[str, Any], response.get("ResponseMetadata") or {})
        code = str(error.get("Code") or "") or None
        message = str(error.get("Message") or "") or None
        status = int(meta.get("HTTPStatusCode") or 0) or errors.status_for(code)
        if code in _RATE_LIMITED:
            status = 429
        if code in _TIMED_OUT:
            return errors.connection_error(model_name=model_name, timed_out=True)
        headers = cast(Mapping[str, str], meta.get("HTTPHeaders") or {})
        mapped = errors.from_status(
            status,
            model_name=model_name,
            message=message,
            code=code,
            body={"message": message, "code": code},
            headers=headers,
            secrets=secrets,
        )
        if isinstance(mapped, AuthenticationError):
            text = str(mapped).rsplit(". Check the key", 1)[0]
            mapped = AuthenticationError(
                f"{text}. {CREDENTIALS_HINT}",
                status_code=mapped.status_code,
                model_name=model_name,
                body=mapped.body,
            )
        return mapped
    if isinstance(exc, boto.ReadTimeoutError | boto.ConnectTimeoutError):
        return errors.connection_error(model_name=model_name, timed_out=True)
    if isinstance(
        exc, boto.EndpointConnectionError | boto.ConnectionClosedError | boto.HTTPClientError
    ):
        return errors.connection_error(model_name=model_name, reason=str(exc), secrets=secrets)
    if isinstance(exc, boto.NoCredentialsError | boto.PartialCredentialsError):
        return ConfigurationError(
            f"No AWS credentials for Amazon Bedrock (model {model_name!r}): set "
            f"AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, or pass "
            f"profile_name=... or session=... to the model; on AWS, attach a role."
        )
    if isinstance(exc, boto.NoRegionError):
        return ConfigurationError(
            f"No AWS region for Amazon Bedrock (model {model_name!r}): set AWS_REGION (or "
            f"AWS_DEFAULT_REGION), or pass region_name=... to the model."
        )
    if isinstance(exc, boto.ProfileNotFound):
        return ConfigurationError(f"Amazon Bedrock: {redact(str(exc), secrets)}")
    if isinstance(exc, boto.ParamValidationError):
        return ConfigurationError(
            f"Amazon Bedrock refused the request for model {model_name!r} before sending it: "
            f"{redact(str(exc), secrets)}"
        )
    return exc


def _broken_stream(exc: Exception) -> str | None:
    """Why a response broke in transit, for errors botocore lets through from below: a frame
    of the event stream that fails its checksum or length, or urllib3's error for a connection
    that dropped mid-response. `None` for anything else."""
    eventstream: Any = importlib.import_module("botocore.eventstream")
    if isinstance(exc, eventstream.ParserError):
        return f"corrupted event: {type(exc).__name__}"
    urllib3_exceptions: Any = importlib.import_module("urllib3.exceptions")
    if isinstance(exc, urllib3_exceptions.HTTPError):
        return f"connection: {type(exc).__name__}"
    return None
