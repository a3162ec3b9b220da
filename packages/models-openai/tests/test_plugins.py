"""Entry points, the provider table and the profiles per model family."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from covey.models.openai import (
    COMPATIBLE_PROFILE,
    PROVIDERS,
    OpenAIChatModel,
    OpenAICompatibleProvider,
    OpenAIEmbedder,
    OpenAIModelProfile,
    OpenAIResponsesModel,
    get_provider,
    openai_model_profile,
)
from covey.spec.errors import ConfigurationError
from covey.spec.plugins import available, resolve_model

PYPROJECT = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
ENTRY_POINTS = PYPROJECT["project"]["entry-points"]


def test_every_provider_has_an_entry_point_and_back() -> None:
    models = ENTRY_POINTS["covey.models"]
    # Azure needs its own client, so it is not a record in PROVIDERS.
    assert set(models) == {*PROVIDERS, "openai-responses", "azure", "azure-responses"}
    assert set(ENTRY_POINTS["covey.embedders"]) == {"openai", "ollama", "azure"}
    installed = {p.name: p for p in available("models")}
    for name in models:
        assert installed[name].distribution == "covey-models-openai"
        assert installed[name].value == models[name]


@pytest.mark.parametrize("name", sorted(PROVIDERS))
def test_each_model_string_builds_a_chat_model_on_its_provider(name: str) -> None:
    model = resolve_model(f"{name}:some-model")
    assert isinstance(model, OpenAIChatModel)
    assert model.provider == name
    assert model.model_name == "some-model"
    record = PROVIDERS[name]
    assert model.base_url == record.base_url
    assert record.api_key_env == f"{name.upper()}_API_KEY"
    assert record.base_url_env == f"{name.upper()}_BASE_URL"


def test_provider_table() -> None:
    local = {n for n, p in PROVIDERS.items() if not p.requires_api_key}
    assert local == {"ollama", "vllm", "llamacpp", "lmstudio"}
    assert PROVIDERS["ollama"].base_url == "http://localhost:11434/v1"
    assert PROVIDERS["vllm"].base_url == "http://localhost:8000/v1"
    assert PROVIDERS["llamacpp"].base_url == "http://localhost:8080/v1"
    assert PROVIDERS["lmstudio"].base_url == "http://localhost:1234/v1"
    assert PROVIDERS["groq"].base_url == "https://api.groq.com/openai/v1"
    assert PROVIDERS["openrouter"].base_url == "https://openrouter.ai/api/v1"
    for record in PROVIDERS.values():
        assert record.base_url.startswith(("https://", "http://localhost:"))


def test_openai_responses_entry_point() -> None:
    model = resolve_model("openai-responses:o4-mini")
    assert isinstance(model, OpenAIResponsesModel)
    assert model.profile.supports_thinking


def test_unknown_provider() -> None:
    with pytest.raises(ConfigurationError, match="Unknown OpenAI-compatible provider 'nope'"):
        OpenAIChatModel("m", provider="nope")


def test_custom_provider_record() -> None:
    custom = OpenAICompatibleProvider(
        name="acme",
        base_url="http://127.0.0.1:9999/v1",
        api_key_env="ACME_KEY",
        base_url_env="ACME_URL",
        profile_tweaks={"supports_images": True},
    )
    model = OpenAIChatModel("acme-1", provider=custom)
    assert get_provider(custom) is custom
    assert model.provider == "acme"
    assert model.profile.supports_images
    assert model.profile.default_output_mode == "tool"


@pytest.mark.parametrize(
    ("name", "thinking", "schema", "images", "audio", "max_field", "sampling", "role"),
    [
        ("gpt-4.1", False, True, True, False, "max_completion_tokens", True, "system"),
        (
            "gpt-4.1-mini-2025-04-14",
            False,
            True,
            True,
            False,
            "max_completion_tokens",
            True,
            "system",
        ),
        ("gpt-4o", False, True, True, False, "max_completion_tokens", True, "system"),
        ("gpt-4o-audio-preview", False, True, True, True, "max_completion_tokens", True, "system"),
        ("gpt-5", True, True, True, False, "max_completion_tokens", False, "developer"),
        ("gpt-5-mini", True, True, True, False, "max_completion_tokens", False, "developer"),
        ("gpt-5-chat-latest", False, True, True, False, "max_completion_tokens", True, "system"),
        ("o1", True, True, True, False, "max_completion_tokens", False, "developer"),
        ("o3-mini", True, True, False, False, "max_completion_tokens", False, "developer"),
        ("o4-mini", True, True, True, False, "max_completion_tokens", False, "developer"),
        ("gpt-3.5-turbo", False, False, False, False, "max_completion_tokens", True, "system"),
        ("openai/gpt-4.1", False, True, True, False, "max_completion_tokens", True, "system"),
    ],
)
def test_openai_profiles(
    name: str,
    thinking: bool,
    schema: bool,
    images: bool,
    audio: bool,
    max_field: str,
    sampling: bool,
    role: str,
) -> None:
    profile = openai_model_profile(name)
    assert isinstance(profile, OpenAIModelProfile)
    assert profile.supports_thinking is thinking
    assert profile.supports_reasoning_effort is thinking
    assert profile.supports_json_schema_output is schema
    assert profile.default_output_mode == ("native" if schema else "tool")
    assert profile.supports_images is images
    assert profile.supports_audio is audio
    assert profile.max_tokens_field == max_field
    assert profile.supports_sampling is sampling
    assert profile.system_role == role
    assert profile.supports_tools


def test_compatible_profiles_are_conservative() -> None:
    assert COMPATIBLE_PROFILE.default_output_mode == "tool"
    assert not COMPATIBLE_PROFILE.supports_json_schema_output
    assert not COMPATIBLE_PROFILE.supports_images
    assert COMPATIBLE_PROFILE.max_tokens_field == "max_tokens"
    for name, record in PROVIDERS.items():
        profile = OpenAIChatModel("model-x", provider=name).profile
        if name == "openai":
            continue
        assert profile.default_output_mode == "tool", name
        assert profile.max_tokens_field == "max_tokens", name
        assert profile == COMPATIBLE_PROFILE.replace(**record.profile_tweaks)
    assert PROVIDERS["deepseek"].profile_for("deepseek-chat").supports_json_object_output
    assert not PROVIDERS["deepseek"].profile_for("deepseek-chat").supports_json_schema_output


def test_explicit_profile_wins() -> None:
    profile = COMPATIBLE_PROFILE.replace(supports_images=True)
    assert OpenAIChatModel("llava", provider="ollama", profile=profile).profile is profile


def test_embedder_factories() -> None:
    from covey.spec.plugins import resolve_embedder

    embedder = resolve_embedder("ollama:mxbai-embed-large")
    assert isinstance(embedder, OpenAIEmbedder)
    assert (embedder.provider, embedder.dimensions) == ("ollama", 1024)


def test_install_hints_in_covey_spec_name_this_distribution() -> None:
    from covey.spec.plugins import KNOWN_PROVIDERS

    for group, kind in (("covey.models", "models"), ("covey.embedders", "embedders")):
        for name in ENTRY_POINTS[group]:
            if name != "openai":  # the naming rule itself gives covey-models-openai
                assert KNOWN_PROVIDERS[(kind, name)] == "covey-models-openai", (kind, name)
