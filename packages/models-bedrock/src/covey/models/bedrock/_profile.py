"""Capability profiles of the model families Bedrock serves, from the model id.

A Bedrock model id names its vendor (`anthropic.claude-sonnet-4-5-...`, `amazon.nova-pro-v1:0`,
`meta.llama3-...`), optionally behind a cross-region inference profile prefix (`us.`, `eu.`,
`apac.`, `global.`) or inside an ARN; the family decides what Converse accepts for it.
"""

from __future__ import annotations

import re

from covey.spec.models import ModelProfile

__all__ = ["bedrock_profile", "model_family"]

_CLAUDE_NO_THINKING = re.compile(r"claude-(instant|v2|3-(opus|sonnet|haiku)|3-5-)")
_VISION = re.compile(r"llama3-2-(11|90)b|llama4|pixtral")
_CLAUDE_CACHE = re.compile(r"claude-(3-7|3-5-haiku|sonnet-4|opus-4|haiku-4|[a-z]+-4|4)")


def model_family(model_id: str) -> str:
    """The vendor part of a model id or inference profile (ARN or not): `anthropic`, `amazon`,
    `meta`, `mistral`, `cohere`, `ai21`, `deepseek`, `openai`..., or `""` when unknown."""
    name = model_id.lower().rsplit("/", 1)[-1]
    parts = name.split(".")
    for part in parts[:-1]:
        if part not in ("us", "eu", "apac", "us-gov", "global", "jp", "au", "ca"):
            return part
    return ""


def bedrock_profile(model_id: str) -> ModelProfile:
    """What Converse accepts for a model, from its id.

    Claude (3+) takes images and documents, forced tool choice, reasoning (3.7 Sonnet and
    later) and cache points (3.5 Haiku, 3.7 Sonnet and later); Amazon Nova takes images,
    documents, video, forced tool choice and cache points. Other families (Llama, Mistral,
    Cohere, DeepSeek, ...) get text and tools with the model choosing when to call them.
    Structured output goes through an output tool, as for Claude on Anthropic's own API.
    An application inference profile ARN names no family: it is assumed to be a recent Claude
    (pass `profile=` to say otherwise).
    """
    name = model_id.lower()
    family = model_family(model_id)
    if not family and "application-inference-profile" in name:
        family = "anthropic"
    claude = family == "anthropic"
    nova = family == "amazon" and "nova" in name
    return ModelProfile(
        supports_tools=True,
        supports_parallel_tool_calls=claude or nova,
        supports_tool_choice_required=claude or nova or family == "mistral",
        supports_json_schema_output=False,
        supports_json_object_output=False,
        supports_images=claude or nova or _VISION.search(name) is not None,
        supports_audio=False,
        supports_video=nova,
        supports_documents=claude or nova or family in ("meta", "mistral", "cohere"),
        supports_thinking=(claude and _CLAUDE_NO_THINKING.search(name) is None)
        or family == "deepseek",
        supports_streaming=True,
        supports_streaming_usage=True,
        supports_prompt_cache=(claude and _CLAUDE_CACHE.search(name) is not None)
        or (nova and "premier" not in name)
        or ("application-inference-profile" in name and not model_family(model_id)),
        default_output_mode="tool",
    )
