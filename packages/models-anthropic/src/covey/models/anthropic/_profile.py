"""Capability profiles of Claude model families."""

from __future__ import annotations

import re

from covey.spec.models import ModelProfile

__all__ = ["anthropic_profile"]

# Families released before extended thinking (Claude 3.7 Sonnet was the first with it).
_NO_THINKING = re.compile(r"claude-(instant|2|3-(opus|sonnet|haiku)|3-5-)")
# Claude 2 and Instant predate image and PDF input.
_TEXT_ONLY = re.compile(r"claude-(instant|2)")


def anthropic_profile(model_name: str) -> ModelProfile:
    """The capability profile of an Anthropic model, from its name.

    Every Claude 3+ model takes images and PDFs, tools, forced tool choice, prompt caching and
    streaming with usage. Extended thinking starts with Claude 3.7 Sonnet. Unknown names
    (newer models, names behind a proxy) are assumed to be recent models.

    Structured output goes through an output tool (`default_output_mode="tool"`); the adapter
    still honours an explicit `native` request through the API's `output_config.format`, which
    only recent models accept.

    Args:
        model_name: The API's model name, e.g. `claude-sonnet-4-5` or `claude-3-5-haiku-latest`.

    Returns:
        The profile the run loop picks strategies from.
    """
    name = model_name.lower()
    text_only = _TEXT_ONLY.search(name) is not None
    return ModelProfile(
        supports_tools=True,
        supports_parallel_tool_calls=True,
        supports_tool_choice_required=True,
        supports_json_schema_output=False,
        supports_json_object_output=False,
        supports_images=not text_only,
        supports_audio=False,
        supports_video=False,
        supports_documents=not text_only,
        supports_thinking=_NO_THINKING.search(name) is None,
        supports_streaming=True,
        supports_streaming_usage=True,
        supports_prompt_cache=True,
        default_output_mode="tool",
    )
