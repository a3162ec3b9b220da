"""The one place that imports the `openai` SDK, on first use (it takes most of a second)."""

from __future__ import annotations

from types import ModuleType

from covey.spec.errors import ConfigurationError

__all__ = ["import_openai"]


def import_openai() -> ModuleType:
    """The `openai` module, imported now.

    Raises:
        ConfigurationError: the SDK is not installed, with the line that installs it.
    """
    try:
        import openai
    except ImportError as exc:  # pragma: no cover - the SDK is a dependency of this distribution
        raise ConfigurationError(
            "The `openai` SDK is not installed. Install it with: pip install covey-models-openai"
        ) from exc
    return openai
