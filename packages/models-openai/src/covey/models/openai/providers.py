"""OpenAI and the OpenAI-compatible servers, as data.

Every server that speaks the Chat Completions protocol differs from OpenAI only in its base URL,
its API-key variable and a few quirks, so each one is one `OpenAICompatibleProvider` record in
`PROVIDERS`. The entry-point factories and the models read this table; nothing branches on a
provider's name. To reach a server that is not listed, build a record and pass it as `provider=`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from covey.models.openai.profiles import (
    COMPATIBLE_PROFILE,
    OpenAIModelProfile,
    openai_model_profile,
)
from covey.spec.errors import ConfigurationError

__all__ = ["PROVIDERS", "OpenAICompatibleProvider", "get_provider"]


@dataclass(frozen=True, slots=True, kw_only=True)
class OpenAICompatibleProvider:
    """One OpenAI-compatible endpoint: where it is, how it authenticates, what it accepts.

    Attributes:
        name: Short name, used as the entry-point name and in `ModelResponse.provider_name`.
        base_url: The default base URL (ending in `/v1`).
        api_key_env: The environment variable holding the API key.
        base_url_env: The environment variable that overrides `base_url`.
        requires_api_key: False for local servers, which then get a placeholder key.
        openai_profiles: Pick profiles from OpenAI's model families (only OpenAI itself).
        profile_tweaks: Changes to the conservative `COMPATIBLE_PROFILE` for this server.
        stream_usage_option: Send `stream_options: {"include_usage": true}` when streaming
            (some servers reject the field).
        seed_field: The request field that carries `ModelSettings.seed`.
        tool_choice_required: The `tool_choice` value that forces a tool call.
        reasoning_replay_field: The assistant-message field that carries thinking back to the
            server on replay (`None`: thinking is not sent back).
        forwards_openai_env: Whether the SDK may add `OPENAI_ORG_ID` / `OPENAI_PROJECT_ID`
            headers from the environment (only for OpenAI itself: they must not leak elsewhere).
    """

    name: str
    base_url: str
    api_key_env: str
    base_url_env: str
    requires_api_key: bool = True
    openai_profiles: bool = False
    profile_tweaks: Mapping[str, Any] = field(default_factory=dict[str, Any])
    stream_usage_option: bool = True
    seed_field: str = "seed"
    tool_choice_required: str = "required"
    reasoning_replay_field: str | None = None
    forwards_openai_env: bool = False

    def profile_for(self, model_name: str) -> OpenAIModelProfile:
        """The profile of `model_name` on this server."""
        if self.openai_profiles:
            return openai_model_profile(model_name)
        return COMPATIBLE_PROFILE.replace(**self.profile_tweaks)

    def resolve_base_url(self, explicit: str | None) -> str:
        """`explicit`, else the `base_url_env` variable, else the default."""
        return explicit or os.environ.get(self.base_url_env) or self.base_url


def _local(name: str, port: int, **tweaks: Any) -> OpenAICompatibleProvider:
    upper = name.upper()
    return OpenAICompatibleProvider(
        name=name,
        base_url=f"http://localhost:{port}/v1",
        api_key_env=f"{upper}_API_KEY",
        base_url_env=f"{upper}_BASE_URL",
        requires_api_key=False,
        profile_tweaks=tweaks,
    )


def _hosted(name: str, base_url: str, **options: Any) -> OpenAICompatibleProvider:
    upper = name.upper()
    return OpenAICompatibleProvider(
        name=name,
        base_url=base_url,
        api_key_env=f"{upper}_API_KEY",
        base_url_env=f"{upper}_BASE_URL",
        **options,
    )


PROVIDERS: Mapping[str, OpenAICompatibleProvider] = {
    provider.name: provider
    for provider in (
        OpenAICompatibleProvider(
            name="openai",
            base_url="https://api.openai.com/v1",
            api_key_env="OPENAI_API_KEY",
            base_url_env="OPENAI_BASE_URL",
            openai_profiles=True,
            forwards_openai_env=True,
        ),
        # Local servers: no key; each implements JSON-schema response formats.
        _local("ollama", 11434, supports_json_schema_output=True, supports_json_object_output=True),
        _local(
            "vllm",
            8000,
            supports_json_schema_output=True,
            supports_json_object_output=True,
            supports_tool_choice_required=True,
            supports_streaming_usage=True,
        ),
        _local(
            "llamacpp", 8080, supports_json_schema_output=True, supports_json_object_output=True
        ),
        _local("lmstudio", 1234, supports_json_schema_output=True),
        # Hosted services: a key is required.
        _hosted(
            "groq",
            "https://api.groq.com/openai/v1",
            profile_tweaks={
                "supports_json_object_output": True,
                "supports_tool_choice_required": True,
                "supports_streaming_usage": True,
            },
        ),
        _hosted(
            "deepseek",
            "https://api.deepseek.com/v1",
            profile_tweaks={
                "supports_json_object_output": True,
                "supports_tool_choice_required": True,
                "supports_streaming_usage": True,
                "supports_thinking": True,
                "supports_prompt_cache": True,
            },
            # DeepSeek's thinking mode needs its reasoning back within a tool-calling turn.
            reasoning_replay_field="reasoning_content",
        ),
        _hosted(
            "together",
            "https://api.together.xyz/v1",
            profile_tweaks={"supports_json_object_output": True, "supports_streaming_usage": True},
        ),
        _hosted(
            "openrouter",
            "https://openrouter.ai/api/v1",
            profile_tweaks={
                "supports_tool_choice_required": True,
                "supports_streaming_usage": True,
            },
        ),
        _hosted(
            "mistral",
            "https://api.mistral.ai/v1",
            profile_tweaks={
                "supports_json_schema_output": True,
                "supports_json_object_output": True,
                "supports_tool_choice_required": True,
                "supports_streaming_usage": True,
            },
            # Mistral forbids unknown fields: no `stream_options` (usage comes anyway), and the
            # seed is `random_seed`; `any` forces a tool call.
            stream_usage_option=False,
            seed_field="random_seed",
            tool_choice_required="any",
        ),
        _hosted(
            "xai",
            "https://api.x.ai/v1",
            profile_tweaks={
                "supports_json_schema_output": True,
                "supports_json_object_output": True,
                "supports_tool_choice_required": True,
                "supports_streaming_usage": True,
            },
        ),
    )
}
"""Every known provider by name; each name is also an entry point in `covey.models`."""


def get_provider(provider: str | OpenAICompatibleProvider) -> OpenAICompatibleProvider:
    """The provider record for a name from `PROVIDERS`, or `provider` itself.

    Raises:
        ConfigurationError: the name is not in `PROVIDERS`.
    """
    if isinstance(provider, OpenAICompatibleProvider):
        return provider
    try:
        return PROVIDERS[provider]
    except KeyError:
        known = ", ".join(sorted(PROVIDERS))
        raise ConfigurationError(
            f"Unknown OpenAI-compatible provider {provider!r}; known: {known}. For another "
            f"server pass provider=OpenAICompatibleProvider(name=..., base_url=..., ...)."
        ) from None
