"""`CalculatorToolset` passes `ToolsetSuite`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from covey.conformance import ToolsetSuite
from covey.tools.calculator import CalculatorToolset


class TestCalculator(ToolsetSuite):
    @pytest.fixture
    def toolset(self) -> CalculatorToolset:
        return CalculatorToolset()

    @pytest.fixture
    def toolset_calls(self) -> Mapping[str, dict[str, Any]]:
        return {"calculate": {"expression": "(1 + 2) * sqrt(16) - 2 ** 3"}}
