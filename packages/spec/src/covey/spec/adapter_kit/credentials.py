"""Where an adapter's API key comes from, kept as a `SecretStr`."""

from __future__ import annotations

import os
from collections.abc import Sequence

from pydantic import SecretStr

from covey.spec.errors import ConfigurationError

__all__ = ["Credentials", "require_model_name"]


def require_model_name(model_name: str, *, adapter: str, example: str) -> str:
    """`model_name` stripped, or a `ConfigurationError` when it is empty.

    Args:
        model_name: What the user passed.
        adapter: The class name, e.g. `AnthropicModel`.
        example: A model name to show, e.g. `claude-sonnet-4-5`.
    """
    name = model_name.strip() if isinstance(model_name, str) else ""  # pyright: ignore[reportUnnecessaryIsInstance]
    if not name:
        raise ConfigurationError(
            f"{adapter} needs a model name, e.g. {adapter}({example!r}); got {model_name!r}."
        )
    return name


class Credentials:
    """An API key: the one passed to the adapter, else the first environment variable set.

    Nothing is read from the environment until `api_key()` is called, so constructing a model
    does no work. The key is only ever held as a `SecretStr`; `repr` shows where it comes from,
    never its value.

    Args:
        api_key: The key passed to the adapter (`None` or blank: read the environment).
        env_vars: The variables to read, in order, e.g. `("GEMINI_API_KEY", "GOOGLE_API_KEY")`.
        provider: The provider's name for messages, e.g. `Anthropic`.
        required: False for local servers that take no key; `placeholder` is sent instead.
        placeholder: The value an SDK gets when no key is needed (most refuse an empty one).

    Example:
        ```python
        from covey.spec.adapter_kit import Credentials

        key = Credentials("sk-test-123", env_vars=("ACME_API_KEY",), provider="Acme").api_key()
        assert key.get_secret_value() == "sk-test-123"
        ```
    """

    __slots__ = ("_explicit", "env_vars", "placeholder", "provider", "required")

    def __init__(
        self,
        api_key: str | SecretStr | None,
        *,
        env_vars: str | Sequence[str],
        provider: str,
        required: bool = True,
        placeholder: str = "not-needed",
    ) -> None:
        secret = SecretStr(api_key) if isinstance(api_key, str) else api_key
        self._explicit = (
            secret if secret is not None and secret.get_secret_value().strip() else None
        )
        self.env_vars = (env_vars,) if isinstance(env_vars, str) else tuple(env_vars)
        self.provider = provider
        self.required = required
        self.placeholder = placeholder

    def api_key(self) -> SecretStr:
        """The key to send.

        Raises:
            ConfigurationError: a key is required and none is passed or set; the message names
                the variable to set.
        """
        if self._explicit is not None:
            return self._explicit
        for name in self.env_vars:
            value = os.environ.get(name, "").strip()
            if value:
                return SecretStr(value)
        if not self.required:
            return SecretStr(self.placeholder)
        raise ConfigurationError(
            f"No API key for {self.provider}: set the {' or '.join(self.env_vars)} environment "
            f"variable, or pass api_key=... to the model."
        )

    def secrets(self) -> tuple[str, ...]:
        """Every value that must never be shown: the passed key and the variables' values."""
        values: list[str] = []
        if self._explicit is not None:
            values.append(self._explicit.get_secret_value())
        values.extend(os.environ.get(name, "").strip() for name in self.env_vars)
        return tuple(v for v in values if v and v != self.placeholder)

    def __repr__(self) -> str:
        source = "api_key=**********" if self._explicit is not None else f"env={self.env_vars!r}"
        return f"Credentials(provider={self.provider!r}, {source})"
