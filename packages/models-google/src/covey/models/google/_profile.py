"""What each Gemini model family can do, as a `ModelProfile`."""

from __future__ import annotations

import re

from covey.spec.models import ModelProfile

__all__ = ["google_model_profile", "is_gemini_3_or_later", "thinking_family"]

_GEMINI_VERSION = re.compile(r"gemini-(\d+)(?:\.(\d+))?")


def _version(model_name: str) -> tuple[int, int] | None:
    match = _GEMINI_VERSION.search(model_name.lower())
    if match is None:
        return None
    return int(match.group(1)), int(match.group(2) or 0)


def is_gemini_3_or_later(model_name: str) -> bool:
    """Whether `model_name` is a Gemini 3 (or newer) model, which takes `thinking_level`."""
    version = _version(model_name)
    return version is not None and version >= (3, 0)


def thinking_family(model_name: str) -> str | None:
    """`"level"` for models that take a thinking level, `"budget"` for budget-only thinking
    models (Gemini 2.5), `None` for models that do not think."""
    name = model_name.lower()
    version = _version(name)
    if version is None:
        return None
    if version >= (3, 0):
        return "level"
    if version >= (2, 5) or "thinking" in name:
        return "budget"
    return None


def google_model_profile(model_name: str) -> ModelProfile:
    """The capability profile of a Gemini API model, from its name.

    Gemini 2.0 and later take tools, tool choice `ANY`, JSON-schema output and images, audio,
    video and PDF input; 2.5 and later think (their prompt prefix is cached implicitly);
    Gemini 3 combines structured output with function calling, so it defaults to native output.
    Gemma models served by the Gemini API take text and images only, without tools, system
    instructions or JSON mode. Image-generation models (`*-image*`) take no tools.

    Args:
        model_name: The model's name, e.g. `gemini-2.5-flash` (a `models/` prefix is fine).
    """
    name = model_name.lower().removeprefix("models/")
    if name.startswith("gemma"):
        return ModelProfile(
            supports_tools=False,
            supports_parallel_tool_calls=False,
            supports_tool_choice_required=False,
            supports_images=True,
            default_output_mode="prompted",
        )
    image_output = "image" in name
    version = _version(name)
    thinking = thinking_family(name) is not None
    return ModelProfile(
        supports_tools=not image_output,
        supports_parallel_tool_calls=not image_output,
        supports_tool_choice_required=not image_output,
        supports_json_schema_output=not image_output,
        supports_json_object_output=not image_output,
        supports_images=True,
        supports_audio=not image_output,
        supports_video=not image_output,
        supports_documents=True,
        supports_thinking=thinking,
        supports_streaming=True,
        supports_streaming_usage=True,
        supports_prompt_cache=version is not None and version >= (2, 5),
        default_output_mode="native" if is_gemini_3_or_later(name) and not image_output else "tool",
    )
