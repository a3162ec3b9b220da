"""covey-tools-calculator: a `calculate` tool, evaluated from a syntax tree, never with `eval`.

```python
from covey.tools.calculator import CalculatorToolset

toolset = CalculatorToolset()  # or Agent(tools=["calculator"])
```
"""

from __future__ import annotations

from covey.spec.errors import ConfigurationError
from covey.tools.calculator._evaluate import CalculationError, Limits
from covey.tools.calculator._toolset import CalculatorToolset

__all__ = ["CalculationError", "CalculatorToolset", "Limits", "from_reference"]


def from_reference(arg: str | None) -> CalculatorToolset:
    """The toolset the tool reference `"calculator"` names (it takes no argument).

    Raises:
        ConfigurationError: an argument was given (`"calculator:..."`).
    """
    if arg is not None:
        raise ConfigurationError(
            f"The calculator tool takes no argument; write 'calculator', not 'calculator:{arg}'. "
            "Configure limits in code with CalculatorToolset(...)."
        )
    return CalculatorToolset()
