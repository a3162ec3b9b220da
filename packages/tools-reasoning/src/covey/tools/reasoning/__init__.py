"""Think and analyse tools for Covey agents: a scratchpad the model reasons in, kept in the run.

```python
from covey.tools.reasoning import ReasoningToolset

reasoning = ReasoningToolset()
```

`Agent(tools=[reasoning], instructions=[reasoning.instructions])`, or the reference
`Agent(tools=["reasoning"])`; read the steps back with `reasoning_steps(result)`.
"""

from __future__ import annotations

from covey.tools.reasoning._toolset import (
    DEFAULT_INSTRUCTIONS,
    MAX_TEXT,
    NextAction,
    ReasoningStep,
    ReasoningToolset,
    from_reference,
    reasoning_steps,
)

__all__ = [
    "DEFAULT_INSTRUCTIONS",
    "MAX_TEXT",
    "NextAction",
    "ReasoningStep",
    "ReasoningToolset",
    "from_reference",
    "reasoning_steps",
]
