"""For Ctrl-C tests: an agent whose model starts answering, then thinks for an hour, and one
whose tool waits for a human's approval."""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
from runtime_agents import approval_model, delete_file

from covey.core import Agent
from covey.core.testing import AgentInfo, FunctionModel
from covey.spec import ModelRequest, ModelResponse

FIRST_WORDS = "Let me think"


async def slow_answer(
    messages: list[ModelRequest | ModelResponse], info: AgentInfo
) -> AsyncIterator[str]:
    yield FIRST_WORDS
    await anyio.sleep(3600)
    yield " ... done."


agents = [
    Agent(name="slow", model=FunctionModel(stream_function=slow_answer)),
    Agent(name="approver", model=FunctionModel(approval_model), tools=[delete_file]),
]
