"""The adapter kit: credentials, the per-loop client, the one error mapping, redaction.

A failure here breaks every provider adapter the same way: fix `covey/spec/adapter_kit/`.
"""

from __future__ import annotations

import asyncio
import traceback

import anyio
import pytest
from pydantic import SecretStr

from covey.spec.adapter_kit import (
    ContextOverflow,
    Credentials,
    LazyClient,
    ProviderErrors,
    redact,
    redact_exception,
    redact_value,
    require_model_name,
)
from covey.spec.errors import (
    AuthenticationError,
    ConfigurationError,
    ContextOverflowError,
    ModelConnectionError,
    ModelHTTPError,
    ModelServerError,
    RateLimitedError,
)

ACME = ProviderErrors(
    provider="Acme",
    api_key_env="ACME_API_KEY",
    overflow=ContextOverflow(codes=frozenset({"too_long"}), patterns=(r"prompt is too long",)),
    quota_codes=frozenset({"insufficient_quota"}),
    auth_codes=frozenset({"API_KEY_INVALID"}),
    status_by_code={"overloaded_error": 529},
)


# --- credentials ---------------------------------------------------------------------------------


def test_explicit_key_wins_and_is_never_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACME_API_KEY", "from-the-environment")
    keys = Credentials(SecretStr("sk-explicit-123456"), env_vars="ACME_API_KEY", provider="Acme")
    assert keys.api_key().get_secret_value() == "sk-explicit-123456"
    assert "sk-explicit" not in repr(keys)
    assert set(keys.secrets()) == {"sk-explicit-123456", "from-the-environment"}


def test_environment_variables_in_order_and_blank_is_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FIRST_KEY", raising=False)
    monkeypatch.setenv("SECOND_KEY", "second")
    keys = Credentials("  ", env_vars=("FIRST_KEY", "SECOND_KEY"), provider="Acme")
    assert keys.api_key().get_secret_value() == "second"


def test_missing_key_is_one_configuration_error_naming_the_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("FIRST_KEY", "SECOND_KEY"):
        monkeypatch.delenv(name, raising=False)
    keys = Credentials(None, env_vars=("FIRST_KEY", "SECOND_KEY"), provider="Acme")
    with pytest.raises(ConfigurationError, match="set the FIRST_KEY or SECOND_KEY environment"):
        keys.api_key()
    local = Credentials(None, env_vars="FIRST_KEY", provider="Local", required=False)
    assert local.api_key().get_secret_value() == "not-needed"
    assert local.secrets() == ()


def test_an_empty_model_name_is_a_configuration_error() -> None:
    assert require_model_name(" m ", adapter="AcmeModel", example="acme-1") == "m"
    with pytest.raises(ConfigurationError, match=r"AcmeModel\('acme-1'\)"):
        require_model_name("", adapter="AcmeModel", example="acme-1")


# --- redaction -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    [
        "sk-abcdef123456",
        "sk-proj-abcdef123456",
        "sk-ant-api03-abcdef123456",
        "gsk_abcdef123456",
        "xai-abcdef123456",
        "AIzaSyA-abcdefghijklmnopqrstuvwx",
    ],
)
def test_key_shapes_are_redacted(key: str) -> None:
    assert key not in redact(f"Incorrect API key provided: {key}.")


def test_bearer_tokens_labels_and_the_configured_key_are_redacted() -> None:
    text = "auth Bearer abc.def-ghi, x-api-key: plainvalue99 and my-own-key here"
    assert redact(text, ["my-own-key"]) == (
        "auth Bearer [REDACTED], x-api-key: [REDACTED] and [REDACTED] here"
    )
    assert redact("ok", ["ok"]) == "ok"  # too short to be a key: words stay


def test_bodies_and_exception_chains_are_redacted() -> None:
    body = {"error": {"message": "bad key sk-abcdef123456", "list": ["Bearer tok.en"]}}
    assert "sk-abcdef" not in repr(redact_value(body))
    assert "tok.en" not in repr(redact_value(body))
    own, shaped = "my-own-" + "key", "sk-" + "abcdef123456"  # not in the traceback's source
    try:
        try:
            raise ValueError(f"inner {own}")
        except ValueError as inner:
            raise RuntimeError(f"outer {shaped}") from inner
    except RuntimeError as outer:
        redact_exception(outer, ["my-own-key"])
        shown = "".join(traceback.format_exception(outer))
    assert "my-own-key" not in shown
    assert "sk-abcdef123456" not in shown


# --- errors --------------------------------------------------------------------------------------


def test_statuses_map_to_one_hierarchy() -> None:
    def error(status: int, **kwargs: object) -> ModelHTTPError:
        return ACME.from_status(status, model_name="acme-1", message="boom", **kwargs)  # pyright: ignore[reportArgumentType]

    limited = error(429, headers={"retry-after": "7"})
    assert isinstance(limited, RateLimitedError)
    assert limited.retry_after == 7
    assert error(429, retry_after=3.0).retry_after == 3.0  # from the body, when no header
    assert type(error(429, code="insufficient_quota")) is ModelHTTPError  # waiting won't help
    assert isinstance(error(401), AuthenticationError)
    assert "ACME_API_KEY" in str(error(403))
    assert isinstance(error(400, code="API_KEY_INVALID"), AuthenticationError)
    assert isinstance(error(400, code="too_long"), ContextOverflowError)
    assert isinstance(error(529), ModelServerError)
    assert isinstance(error(ACME.status_for("overloaded_error")), ModelServerError)
    assert type(error(404)) is ModelHTTPError


def test_overflow_patterns_are_data() -> None:
    overflow = ContextOverflow(patterns=(r"prompt is too long", r"input token count"))
    assert overflow.matches("Prompt is too long: 215000 tokens")
    assert overflow.matches("The input token count (2000000) exceeds")
    assert not overflow.matches("Invalid value for temperature")
    error = ACME.from_status(400, model_name="m", message="prompt is too long: 9 > 8")
    assert isinstance(error, ContextOverflowError)


def test_messages_and_bodies_never_hold_a_secret() -> None:
    body = {"error": {"message": "key my-own-key and Bearer tok.en.123"}}
    error = ACME.from_status(
        401, model_name="m", message=body["error"]["message"], body=body, secrets=["my-own-key"]
    )
    for text in (str(error), repr(error), repr(error.body)):
        assert "my-own-key" not in text
        assert "tok.en.123" not in text


def test_connection_errors() -> None:
    timed_out = ACME.connection_error(model_name="m", timed_out=True)
    assert isinstance(timed_out, ModelConnectionError)
    assert "timed out" in str(timed_out)
    refused = ACME.connection_error(model_name="m", reason="refused sk-abcdef123456")
    assert "sk-abcdef" not in str(refused)


# --- the client ----------------------------------------------------------------------------------


class _Client:
    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.closed_in: asyncio.AbstractEventLoop | None = None

    async def close(self) -> None:
        self.closed_in = asyncio.get_running_loop()


def _holder() -> tuple[LazyClient[_Client], list[_Client]]:
    built: list[_Client] = []

    def build() -> _Client:
        built.append(_Client())
        return built[-1]

    async def close(client: _Client) -> None:
        await client.close()

    return LazyClient(build, close), built


def test_one_client_per_loop_closed_inside_its_own_loop() -> None:
    clients, built = _holder()

    async def use() -> _Client:
        first = await clients.get()
        assert await clients.get() is first  # reused within a loop
        return first

    results = [asyncio.run(use()), anyio.run(use), asyncio.run(use())]
    assert len({id(c) for c in results}) == 3, "a client must never serve a second loop"
    for client in built:
        assert client.closed_in is client.loop, "closed by its own loop when that loop ended"


async def test_aclose_closes_now_and_the_next_get_builds_again() -> None:
    clients, built = _holder()
    first = await clients.get()
    await clients.aclose()
    assert first.closed_in is asyncio.get_running_loop()
    await clients.aclose()  # twice is fine
    assert await clients.get() is not first
    assert len(built) == 2


async def test_a_failing_build_raises_every_time() -> None:
    def build() -> _Client:
        raise ConfigurationError("no key")

    async def close(client: _Client) -> None:
        await client.close()

    clients: LazyClient[_Client] = LazyClient(build, close)
    for _ in range(2):
        with pytest.raises(ConfigurationError):
            await clients.get()
    assert not clients.built()
