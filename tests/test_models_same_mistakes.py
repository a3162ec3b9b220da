"""The same mistake gives the same error type, and the same kind of message, in every provider
adapter: they all take credentials and model names through `covey.spec.adapter_kit`."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from covey.spec import ModelRequest, ModelRequestParams
from covey.spec.errors import ConfigurationError
from covey.spec.models import ChatModel


def _openai(name: str) -> ChatModel:
    from covey.models.openai import OpenAIChatModel

    return OpenAIChatModel(name)


def _responses(name: str) -> ChatModel:
    from covey.models.openai import OpenAIResponsesModel

    return OpenAIResponsesModel(name)


def _anthropic(name: str) -> ChatModel:
    from covey.models.anthropic import AnthropicModel

    return AnthropicModel(name)


def _google(name: str) -> ChatModel:
    from covey.models.google import GoogleModel

    return GoogleModel(name)


ADAPTERS: dict[str, tuple[Callable[[str], ChatModel], str, tuple[str, ...]]] = {
    "openai-chat": (_openai, "gpt-4.1", ("OPENAI_API_KEY",)),
    "openai-responses": (_responses, "gpt-4.1", ("OPENAI_API_KEY",)),
    "anthropic": (_anthropic, "claude-sonnet-4-6", ("ANTHROPIC_API_KEY",)),
    "google": (_google, "gemini-2.5-flash", ("GEMINI_API_KEY", "GOOGLE_API_KEY")),
}


@pytest.mark.parametrize("adapter", list(ADAPTERS))
@pytest.mark.parametrize("name", ["", "   "])
def test_an_empty_model_name_is_a_configuration_error(adapter: str, name: str) -> None:
    make, _, _ = ADAPTERS[adapter]
    with pytest.raises(ConfigurationError, match="needs a model name"):
        make(name)


@pytest.mark.parametrize("adapter", list(ADAPTERS))
async def test_a_missing_key_is_one_configuration_error_naming_the_variable(
    adapter: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    make, model_name, variables = ADAPTERS[adapter]
    for variable in variables:
        monkeypatch.delenv(variable, raising=False)
    model = make(model_name)  # construction reads nothing
    with pytest.raises(ConfigurationError) as caught:
        await model.request([ModelRequest.user("hi")], None, ModelRequestParams())
    expected = f"set the {' or '.join(variables)} environment variable, or pass api_key="
    assert expected in str(caught.value)
