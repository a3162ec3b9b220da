"""covey-models-anthropic: Claude models for Covey over Anthropic's Messages API.

`AnthropicModel` wraps the official `anthropic` SDK, which is imported on the first request,
not here. Model strings `"anthropic:<model name>"` resolve to it through the `covey.models`
entry point. `covey.models.anthropic.testing` holds `FakeAnthropicServer`, a loopback server of
the Messages API for offline tests.
"""

from covey.models.anthropic._profile import anthropic_profile
from covey.models.anthropic.chat import API_KEY_ENV, BASE_URL_ENV, AnthropicModel

__all__ = ["API_KEY_ENV", "BASE_URL_ENV", "AnthropicModel", "anthropic_profile"]
