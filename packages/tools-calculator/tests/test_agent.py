"""A real agent run: the model hears about a refused expression, then gets its answer."""

from __future__ import annotations

from covey.core import Agent
from covey.core.testing import AgentInfo, FunctionModel
from covey.spec import ModelRequest, ModelResponse, TextPart, ToolCallPart, ToolReturnPart
from covey.tools.calculator import CalculatorToolset


async def test_an_agent_corrects_its_expression() -> None:
    def script(messages: list[ModelRequest | ModelResponse], info: AgentInfo) -> ModelResponse:
        seen = [
            p
            for m in messages
            if isinstance(m, ModelRequest)
            for p in m.parts
            if isinstance(p, ToolReturnPart)
        ]
        if not seen:
            expression = "__import__('os').getcwd()"
        elif len(seen) == 1:
            assert seen[0].is_error and "not allowed" in seen[0].content
            expression = "2 ** 100 // 3"
        else:
            return ModelResponse(parts=[TextPart(content=f"It is {seen[-1].content}.")])
        call = ToolCallPart(
            tool_name="calculate", args={"expression": expression}, tool_call_id=str(len(seen))
        )
        return ModelResponse(parts=[call])

    agent = Agent(model=FunctionModel(script), tools=[CalculatorToolset()])
    result = await agent.run("What is 2**100 // 3?")
    assert result.output == f"It is {2**100 // 3}."
