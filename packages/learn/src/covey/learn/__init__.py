"""Covey's learning: user memories kept by a memory model (`MemoryManager`) or by the agent
itself through tools (`MemoryToolset`), and recalled into context under a token budget; and
`LearningMachine`, which keeps a user's profile, memories, session context and decisions (and
what is shared within a tenant) with one extraction request per run, agent tools, or proposals a
person confirms. Its tenant-shared stores are `EntityMemory` (facts about people, companies
and projects) and `LearnedKnowledge` (insights that transfer across users).
"""

from covey.learn._budget import CALLS_NAMESPACE, calls_today
from covey.learn._machine.base import Applied, LearningStore, Mode, StoreContext
from covey.learn._machine.decisions import Decision, DecisionLog
from covey.learn._machine.entities import EntityMemory
from covey.learn._machine.knowledge import LearnedKnowledge, WritableKnowledge
from covey.learn._machine.machine import (
    DEFAULT_MACHINE_INSTRUCTIONS,
    EXTRACTION_TOOL_NAME,
    LearningMachine,
)
from covey.learn._machine.memory import UserMemory
from covey.learn._machine.profile import UserProfile
from covey.learn._machine.session import SessionContext, SessionContextUpdate
from covey.learn._machine.toolset import LearningToolset
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
    "DEFAULT_MACHINE_INSTRUCTIONS",
    "EXTRACTION_TOOL_NAME",
    "OUTPUT_TOOL_NAME",
    "Applied",
    "CreateMemory",
    "Decision",
    "DecisionLog",
    "DeleteMemory",
    "EntityMemory",
    "LearnedKnowledge",
    "LearningMachine",
    "LearningStore",
    "LearningToolset",
    "MemoryManager",
    "MemoryOperation",
    "MemoryOperations",
    "MemoryToolset",
    "MemoryUpdate",
    "Mode",
    "NoChange",
    "SessionContext",
    "SessionContextUpdate",
    "SkippedOperation",
    "StoreContext",
    "UpdateMemory",
    "UserMemory",
    "UserProfile",
    "WritableKnowledge",
    "calls_today",
    "estimate_tokens",
    "looks_like_secret",
]
