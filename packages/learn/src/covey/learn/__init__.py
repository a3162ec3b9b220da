"""Covey's learning: user memories kept by a memory model (`MemoryManager`) or by the agent
itself through tools (`MemoryToolset`), and recalled into context under a token budget; facts
about entities shared within a tenant (`EntityMemory`) and insights that transfer across
conversations (`LearnedKnowledge`), the stores of the learning machine.
"""

from covey.learn._budget import CALLS_NAMESPACE, calls_today
from covey.learn._machine.base import StoreContext
from covey.learn._machine.entities import EntityMemory
from covey.learn._machine.knowledge import LearnedKnowledge, WritableKnowledge
from covey.learn._manager import DEFAULT_INSTRUCTIONS, OUTPUT_TOOL_NAME, MemoryManager
from covey.learn._operations import (
    CreateMemory,
    DeleteMemory,
    MemoryOperation,
    MemoryOperations,
    MemoryUpdate,
    NoChange,
    SkippedOperation,
    UpdateMemory,
)
from covey.learn._recall import estimate_tokens
from covey.learn._secrets import looks_like_secret
from covey.learn._toolset import MemoryToolset

__all__ = [
    "CALLS_NAMESPACE",
    "DEFAULT_INSTRUCTIONS",
    "OUTPUT_TOOL_NAME",
    "CreateMemory",
    "DeleteMemory",
    "EntityMemory",
    "LearnedKnowledge",
    "MemoryManager",
    "MemoryOperation",
    "MemoryOperations",
    "MemoryToolset",
    "MemoryUpdate",
    "NoChange",
    "SkippedOperation",
    "StoreContext",
    "UpdateMemory",
    "WritableKnowledge",
    "calls_today",
    "estimate_tokens",
    "looks_like_secret",
]
