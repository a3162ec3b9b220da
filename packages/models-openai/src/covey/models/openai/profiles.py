"""What each OpenAI model family can do, and how its requests must be shaped.

`OpenAIModelProfile` extends the spec's `ModelProfile` with the few wire-level choices that differ
between model families: which field caps the output, whether sampling parameters are accepted,
and which role carries instructions.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

from covey.spec.models import ModelProfile

__all__ = [
    "COMPATIBLE_PROFILE",
    "OpenAIModelProfile",
    "openai_model_profile",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class OpenAIModelProfile(ModelProfile):
    """A `ModelProfile` plus the request details that differ between OpenAI model families.

    Attributes:
        max_tokens_field: The Chat Completions field that caps output tokens. OpenAI's reasoning
            models only take `max_completion_tokens`; most compatible servers only `max_tokens`.
        supports_sampling: Whether `temperature`, `top_p` and the penalties are accepted.
            Reasoning models reject them; they are then left out with a warning.
        supports_reasoning_effort: Whether `reasoning_effort` (Chat) / `reasoning.effort`
            (Responses) is accepted.
        system_role: The role that carries system instructions (`developer` for reasoning models).
    """

    max_tokens_field: Literal["max_tokens", "max_completion_tokens"] = "max_completion_tokens"
    supports_sampling: bool = True
    supports_reasoning_effort: bool = False
    system_role: Literal["system", "developer"] = "system"

    def replace(self, **changes: Any) -> OpenAIModelProfile:
        """A copy with `changes` applied; unknown field names raise `TypeError`."""
        return dataclasses.replace(self, **changes)


_GPT4_CLASS = OpenAIModelProfile(
    supports_json_schema_output=True,
    supports_json_object_output=True,
    supports_images=True,
    supports_documents=True,
    supports_prompt_cache=True,
    default_output_mode="native",
)

_REASONING = _GPT4_CLASS.replace(
    supports_thinking=True,
    supports_sampling=False,
    supports_reasoning_effort=True,
    system_role="developer",
)

COMPATIBLE_PROFILE = OpenAIModelProfile(
    supports_tool_choice_required=False,
    supports_streaming_usage=False,
    max_tokens_field="max_tokens",
    default_output_mode="tool",
)
"""Conservative defaults for an unknown model behind an OpenAI-compatible server: tools, no
native JSON schema, no media, output through a tool call. Pass a `profile` to claim more."""

# Ordered: the first matching prefix wins, so longer prefixes come before shorter ones.
_FAMILIES: tuple[tuple[str, OpenAIModelProfile], ...] = (
    # Audio-capable Chat Completions models take `input_audio` parts.
    ("gpt-4o-audio", _GPT4_CLASS.replace(supports_audio=True, supports_documents=False)),
    ("gpt-4o-mini-audio", _GPT4_CLASS.replace(supports_audio=True, supports_documents=False)),
    ("gpt-audio", _GPT4_CLASS.replace(supports_audio=True, supports_documents=False)),
    # Search models take neither tools nor sampling parameters.
    (
        "gpt-4o-search",
        _GPT4_CLASS.replace(supports_tools=False, supports_sampling=False),
    ),
    (
        "gpt-4o-mini-search",
        _GPT4_CLASS.replace(supports_tools=False, supports_sampling=False),
    ),
    # `gpt-5-chat` is the non-reasoning chat model behind ChatGPT.
    ("gpt-5-chat", _GPT4_CLASS),
    ("gpt-5", _REASONING),
    ("gpt-oss", _REASONING.replace(supports_images=False, supports_documents=False)),
    ("gpt-4.1", _GPT4_CLASS),
    ("gpt-4.5", _GPT4_CLASS),
    ("gpt-4o", _GPT4_CLASS),
    ("chatgpt-4o", _GPT4_CLASS),
    (
        "gpt-4-turbo",
        _GPT4_CLASS.replace(supports_json_schema_output=False, supports_documents=False),
    ),
    (
        "gpt-4",
        _GPT4_CLASS.replace(
            supports_json_schema_output=False,
            supports_images=False,
            supports_documents=False,
            default_output_mode="tool",
        ),
    ),
    (
        "gpt-3.5",
        _GPT4_CLASS.replace(
            supports_json_schema_output=False,
            supports_images=False,
            supports_documents=False,
            default_output_mode="tool",
        ),
    ),
    # The first o1 previews took no tools, no system role and no structured output.
    (
        "o1-mini",
        _REASONING.replace(
            supports_tools=False,
            supports_json_schema_output=False,
            supports_json_object_output=False,
            supports_images=False,
            supports_documents=False,
            default_output_mode="prompted",
        ),
    ),
    (
        "o1-preview",
        _REASONING.replace(
            supports_tools=False,
            supports_json_schema_output=False,
            supports_json_object_output=False,
            supports_images=False,
            supports_documents=False,
            default_output_mode="prompted",
        ),
    ),
    ("o3-mini", _REASONING.replace(supports_images=False, supports_documents=False)),
    ("o1", _REASONING),
    ("o3", _REASONING),
    ("o4", _REASONING),
)


def openai_model_profile(model_name: str) -> OpenAIModelProfile:
    """The profile of an OpenAI-hosted model, from its family prefix.

    Unknown names get the profile of the newest non-reasoning family (GPT-4.1 class): tools,
    native JSON schema, images and documents.

    Args:
        model_name: An OpenAI model name such as `gpt-4.1-mini`, `o4-mini` or `gpt-5`. A
            `provider/` prefix (as routers write it, e.g. `openai/gpt-4.1`) is ignored.
    """
    name = model_name.rsplit("/", 1)[-1].lower()
    for prefix, profile in _FAMILIES:
        if name.startswith(prefix):
            return profile
    return _GPT4_CLASS
