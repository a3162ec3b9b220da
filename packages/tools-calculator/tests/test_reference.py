"""The `calculator` tool reference: the entry point and `from_reference`."""

from __future__ import annotations

from importlib.metadata import entry_points

import pytest

from covey.spec import plugins
from covey.spec.errors import ConfigurationError
from covey.tools.calculator import CalculatorToolset, from_reference


def test_entry_point_and_from_reference() -> None:
    [found] = entry_points(group="covey.tools", name="calculator")
    assert found.load() is from_reference
    toolset = from_reference(None)
    assert isinstance(toolset, CalculatorToolset) and toolset.id == "calculator"
    with pytest.raises(ConfigurationError, match="takes no argument"):
        from_reference("precise")


def test_resolve_toolset() -> None:
    resolve = getattr(plugins, "resolve_toolset", None)
    if resolve is None:
        pytest.skip("covey.spec.plugins.resolve_toolset is not on this branch yet")
    assert isinstance(resolve("calculator"), CalculatorToolset)
    with pytest.raises(ConfigurationError):
        resolve("calculator:x")
