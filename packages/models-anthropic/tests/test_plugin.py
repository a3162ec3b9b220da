"""Entry point, lazy SDK import, and capability profiles."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from covey.models.anthropic import AnthropicModel, anthropic_profile
from covey.spec import ModelProfile, plugins


def test_entry_point_resolves_model_strings():
    plugins.refresh()
    info = {p.name: p for p in plugins.available("models")}["anthropic"]
    assert info.distribution == "covey-models-anthropic"
    assert info.value == "covey.models.anthropic:AnthropicModel"

    model = plugins.resolve_model("anthropic:claude-opus-4-8")
    assert isinstance(model, AnthropicModel)
    assert model.model_name == "claude-opus-4-8"
    assert model.provider == "anthropic"


def test_importing_and_constructing_imports_no_sdk():
    code = textwrap.dedent(
        """
        import sys
        from covey.spec import plugins
        from covey.models.anthropic import AnthropicModel
        import covey.models.anthropic.testing
        model = plugins.resolve_model("anthropic:claude-sonnet-4-6")
        AnthropicModel("claude-haiku-4-5", api_key="k", base_url="http://127.0.0.1:1")
        loaded = sorted(m for m in sys.modules if m.split(".")[0] in {"anthropic", "httpx2", "httpx"})
        assert not loaded, loaded
        print("ok")
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


@pytest.mark.parametrize(
    ("name", "thinking", "images"),
    [
        ("claude-opus-4-8", True, True),
        ("claude-sonnet-4-6", True, True),
        ("claude-haiku-4-5-20251001", True, True),
        ("claude-sonnet-5-5", True, True),
        ("claude-3-7-sonnet-latest", True, True),
        ("claude-3-5-haiku-latest", False, True),
        ("claude-3-5-sonnet-20241022", False, True),
        ("claude-3-opus-20240229", False, True),
        ("claude-3-haiku-20240307", False, True),
        ("claude-2.1", False, False),
        ("my-proxy-model", True, True),
    ],
)
def test_profiles_by_family(name, thinking, images):
    profile = anthropic_profile(name)
    assert profile.supports_thinking is thinking
    assert profile.supports_images is images
    assert profile.supports_documents is images
    assert profile.supports_tools
    assert profile.supports_tool_choice_required
    assert profile.supports_prompt_cache
    assert profile.supports_streaming_usage
    assert not profile.supports_audio
    assert not profile.supports_video
    assert profile.default_output_mode == "tool"
    assert profile.supports_json_schema_output is False
    assert AnthropicModel(name).profile == profile


def test_profile_override():
    custom = ModelProfile(supports_tools=False)
    assert AnthropicModel("claude-opus-4-8", profile=custom).profile is custom


async def test_aclose_is_safe_twice_and_before_any_request():
    model = AnthropicModel("claude-opus-4-8", api_key="k")
    await model.aclose()
    await model.aclose()
