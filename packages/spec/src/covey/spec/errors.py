"""One error hierarchy for every Covey package.

Every error says what happened, what was expected and what to do. None of them ever holds a
secret in its message or its repr: keys are `pydantic.SecretStr` wherever they are stored.
"""

from __future__ import annotations

from typing import Any, Literal

__all__ = [
    "ApprovalRequired",
    "AuthenticationError",
    "ConfigurationError",
    "ConflictError",
    "ContextOverflowError",
    "CoveyError",
    "DuplicatePluginError",
    "EmbedderMismatchError",
    "GuardrailTripped",
    "Interrupted",
    "InvalidInputError",
    "ModelConnectionError",
    "ModelError",
    "ModelHTTPError",
    "ModelRetry",
    "ModelServerError",
    "NotFoundError",
    "OutputValidationError",
    "PluginNotFoundError",
    "RateLimitedError",
    "RunCancelled",
    "RunTimeout",
    "SchemaVersionError",
    "StoreError",
    "ToolError",
    "ToolNotFoundError",
    "ToolTimeoutError",
    "UnexpectedModelBehavior",
    "UsageLimitExceeded",
    "VectorStoreError",
    "install_line",
]


def install_line(kind: str, name: str) -> str:
    """The `pip install` line of `covey-<kind>-<name>`, the distribution the naming rule gives.

    Plugins registered under another distribution's name (an alias such as `ollama`, served by
    `covey-models-openai`) are looked up in `covey.spec.plugins.KNOWN_PROVIDERS` first.
    """
    return f"pip install covey-{kind}-{name}"


class CoveyError(Exception):
    """Base of every error Covey raises on purpose."""


# --- configuration -------------------------------------------------------------------------------


class ConfigurationError(CoveyError):
    """Something the user configured cannot work as given."""


class PluginNotFoundError(ConfigurationError):
    """No installed distribution provides the plugin asked for."""

    def __init__(
        self,
        kind: str,
        name: str,
        available: list[str] | None = None,
        *,
        distribution: str | None = None,
    ) -> None:
        self.kind = kind
        self.name = name
        self.available = sorted(available or [])
        self.install = f"pip install {distribution}" if distribution else install_line(kind, name)
        have = ", ".join(self.available) if self.available else "none"
        super().__init__(
            f"No {kind} plugin named {name!r} is installed (installed: {have}). "
            f"Install it with: {self.install}"
        )


class DuplicatePluginError(ConfigurationError):
    """Two distributions register the same plugin name in one group."""

    def __init__(self, group: str, name: str, first: str, second: str) -> None:
        self.group = group
        self.name = name
        self.distributions = (first, second)
        super().__init__(
            f"Plugin {name!r} in entry-point group {group!r} is registered by two distributions, "
            f"{first} and {second}. Uninstall one of them."
        )


# --- models --------------------------------------------------------------------------------------


class ModelError(CoveyError):
    """A model request failed."""

    def __init__(self, message: str, *, model_name: str | None = None) -> None:
        self.model_name = model_name
        super().__init__(message)


class ModelHTTPError(ModelError):
    """The provider answered with an HTTP error status."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        model_name: str | None = None,
        body: Any = None,
    ) -> None:
        self.status_code = status_code
        self.body = body
        super().__init__(f"{message} (HTTP {status_code})", model_name=model_name)


class RateLimitedError(ModelHTTPError):
    """The provider is rate limiting; `retry_after` is the wait it asked for, in seconds."""

    def __init__(
        self,
        message: str = "Rate limited by the model provider",
        *,
        status_code: int = 429,
        model_name: str | None = None,
        body: Any = None,
        retry_after: float | None = None,
    ) -> None:
        self.retry_after = retry_after
        super().__init__(message, status_code=status_code, model_name=model_name, body=body)


class AuthenticationError(ModelHTTPError):
    """The provider refused the credentials (401/403). Check the API key variable."""


class ContextOverflowError(ModelHTTPError):
    """The request is longer than the model's context window."""


class ModelServerError(ModelHTTPError):
    """The provider failed or is overloaded (5xx, 529); retrying later may work."""


class ModelConnectionError(ModelError):
    """The provider could not be reached or timed out."""


class UnexpectedModelBehavior(CoveyError):  # noqa: N818 - the established name (pydantic-ai)
    """The model answered in a way the run cannot use (empty, malformed, endless retries)."""


class OutputValidationError(UnexpectedModelBehavior):
    """The model's structured output stayed invalid after every allowed retry."""

    def __init__(self, message: str, *, errors: list[dict[str, Any]] | None = None) -> None:
        self.errors = errors or []
        super().__init__(message)


# --- tools ---------------------------------------------------------------------------------------


class ModelRetry(CoveyError):  # noqa: N818 - the name says what it asks for, as in pydantic-ai
    """Raised by a tool (or output validator) to send `message` back to the model for a retry."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


class ToolError(CoveyError):
    """A tool failed."""

    def __init__(self, message: str, *, tool_name: str | None = None) -> None:
        self.tool_name = tool_name
        super().__init__(message)


class ApprovalRequired(CoveyError):  # noqa: N818 - a request, named for what it asks
    """Raised by a toolset's `call_tool` when this call needs a person's approval to run.

    For a decision a toolset can only take once it sees the arguments (a shell command that is
    not on the allow-list); tools that always need approval say so statically with
    `ToolDefinition.requires_approval`. The run pauses with an `approval` requirement whose
    description is `reason`; once a person approves and the run resumes, `call_tool` is called
    again with the same arguments and `ctx.tool_call_approved` set, and then runs the call. A
    rejected call never runs: the model is told it was rejected.
    """

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class ToolNotFoundError(ToolError):
    """The model called a tool that does not exist."""


class ToolTimeoutError(ToolError):
    """A tool ran past its timeout."""

    def __init__(self, tool_name: str, timeout: float) -> None:
        self.timeout = timeout
        super().__init__(f"Tool {tool_name!r} timed out after {timeout:g} s", tool_name=tool_name)


# --- runs ----------------------------------------------------------------------------------------


class UsageLimitExceeded(CoveyError):  # noqa: N818 - public name fixed by the API
    """A run hit one of its `UsageLimits`; it stops instead of calling the model or tools again."""

    def __init__(self, message: str, *, limit: str | None = None) -> None:
        self.limit = limit
        super().__init__(message)


class RunCancelled(CoveyError):  # noqa: N818 - public name fixed by the API
    """The run was cancelled."""


class RunTimeout(CoveyError):  # noqa: N818 - named like RunCancelled, the state it reports
    """A run took longer than its time limit and was stopped; it ends `failed` with this error.

    Args:
        message: What happened and what to do (raise the limit, or make the run shorter).
        timeout: The limit, in seconds.
    """

    def __init__(self, message: str, *, timeout: float | None = None) -> None:
        self.timeout = timeout
        super().__init__(message)


class Interrupted(CoveyError):  # noqa: N818 - the error type stored on interrupted runs
    """The process running a run stopped (a server shutting down) before the run finished.

    The run is stored with status `interrupted` and this error; start it again.
    """


class GuardrailTripped(CoveyError):  # noqa: N818 - public name fixed by the API
    """A guardrail hook stopped the run; `reason` says why.

    `stage` is `"input"` for a pre-run hook and `"output"` for a post-run hook or an output
    validator; the run loop fills it in when the guardrail did not. The run ends `failed` with
    this error in `result.error` (its `details` carry `reason`, `guardrail` and `stage`) after a
    `guardrail.tripped` event. `reason` is shown to callers: never put the offending text in it.
    """

    def __init__(
        self,
        reason: str,
        *,
        guardrail: str | None = None,
        stage: Literal["input", "output"] | None = None,
    ) -> None:
        self.reason = reason
        self.guardrail = guardrail
        self.stage: Literal["input", "output"] | None = stage
        prefix = f"Guardrail {guardrail!r} tripped" if guardrail else "Guardrail tripped"
        super().__init__(f"{prefix}: {reason}")


# --- storage -------------------------------------------------------------------------------------


class StoreError(CoveyError):
    """A store operation failed; the transaction was rolled back."""


class NotFoundError(StoreError):
    """No row with that id exists in the caller's scope."""


class ConflictError(StoreError):
    """An optimistic-concurrency check failed: someone else updated the row first. Reload, retry."""


class InvalidInputError(StoreError):
    """The data given to the store is malformed or too large; nothing was written."""


class SchemaVersionError(StoreError):
    """The database schema is newer than this code, or not migrated."""


class VectorStoreError(CoveyError):
    """A vector store operation failed."""


class EmbedderMismatchError(VectorStoreError):
    """A collection was created with another embedder or dimension than the one used now."""
