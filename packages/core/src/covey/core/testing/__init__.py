"""Test doubles for agents: `TestModel` and `FunctionModel`, so agent tests need no provider.

`TestModel` calls every tool once with arguments generated from the tool's JSON schema, then
answers; `FunctionModel` lets a function decide each response. Both derive every response from
the messages and parameters of the request alone, so one instance serves concurrent runs.

Example:
    ```python
    from covey.core.testing import TestModel

    model = TestModel()  # or the model string "test:anything"
    ```
"""

from __future__ import annotations

from covey.core.testing._function_model import (
    AgentInfo,
    DeltaThinking,
    DeltaToolCall,
    FunctionDef,
    FunctionModel,
    StreamFunctionDef,
    StreamItem,
)
from covey.core.testing._test_model import TestModel, test_model_factory
from covey.spec.schema_data import generate_json_data

__all__ = [
    "AgentInfo",
    "DeltaThinking",
    "DeltaToolCall",
    "FunctionDef",
    "FunctionModel",
    "StreamFunctionDef",
    "StreamItem",
    "TestModel",
    "generate_json_data",
    "test_model_factory",
]
