"""The package as a plugin: lazy imports, entry points, profiles."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from covey.models.google import GoogleEmbedder, GoogleModel, google_model_profile
from covey.spec import plugins


def test_importing_the_package_and_building_objects_does_not_import_the_sdk() -> None:
    """Fails when a module imported by `covey.models.google` imports google-genai (or httpx)
    at import time. To fix: import the SDK inside the function that needs it."""
    code = textwrap.dedent(
        """
        import json, sys
        import covey.models.google
        from covey.models.google import GoogleModel, GoogleEmbedder
        import covey.models.google.testing
        from covey.spec import plugins
        model = plugins.resolve_model("google:gemini-2.5-flash")
        GoogleEmbedder(dimensions=256)
        _ = model.profile
        print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in
                                {"google", "httpx", "httpx2", "aiohttp"})))
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == []


def test_model_strings_resolve_through_the_entry_points() -> None:
    plugins.refresh()
    model = plugins.resolve_model("google:gemini-2.5-flash")
    assert isinstance(model, GoogleModel)
    assert model.model_name == "gemini-2.5-flash"
    assert model.provider == "google"
    alias = plugins.resolve_model("gemini:gemini-3-pro-preview")
    assert isinstance(alias, GoogleModel)
    assert alias.model_name == "gemini-3-pro-preview"
    info = {i.name: i for i in plugins.available("models")}
    assert info["google"].distribution == "covey-models-google"


def test_embedder_strings_resolve_and_round_trip_their_name() -> None:
    plugins.refresh()
    embedder = plugins.resolve_embedder("google:gemini-embedding-001")
    assert isinstance(embedder, GoogleEmbedder)
    assert embedder.dimensions == 3072
    small = plugins.resolve_embedder("google:gemini-embedding-001:768")
    assert (small.model_name, small.dimensions) == ("gemini-embedding-001", 768)
    again = plugins.resolve_embedder(small.name)
    assert (again.name, again.dimensions) == (small.name, 768)


@pytest.mark.parametrize(
    ("name", "thinking", "json_schema", "tools", "default_mode"),
    [
        ("gemini-2.0-flash", False, True, True, "tool"),
        ("gemini-2.5-flash", True, True, True, "tool"),
        ("models/gemini-2.5-pro", True, True, True, "tool"),
        ("gemini-3-pro-preview", True, True, True, "native"),
        ("gemini-2.5-flash-image", True, False, False, "tool"),
        ("gemma-3-27b-it", False, False, False, "prompted"),
    ],
)
def test_profiles_follow_the_model_family(
    name: str, thinking: bool, json_schema: bool, tools: bool, default_mode: str
) -> None:
    profile = google_model_profile(name)
    assert profile.supports_thinking is thinking
    assert profile.supports_json_schema_output is json_schema
    assert profile.supports_tools is tools
    assert profile.supports_tool_choice_required is tools
    assert profile.default_output_mode == default_mode
    assert profile.supports_images
    assert profile.supports_streaming_usage


def test_gemini_profiles_take_every_media_kind() -> None:
    profile = GoogleModel("gemini-2.5-flash").profile
    assert (
        profile.supports_images,
        profile.supports_audio,
        profile.supports_video,
        profile.supports_documents,
    ) == (True, True, True, True)
    assert profile.supports_prompt_cache  # implicit caching from 2.5 on


def test_an_explicit_profile_wins() -> None:
    from covey.spec import ModelProfile

    custom = ModelProfile(supports_tools=False)
    assert GoogleModel("gemini-2.5-flash", profile=custom).profile is custom


def test_an_empty_model_name_is_refused() -> None:
    from covey.spec.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="model name"):
        GoogleModel(" ")
