"""A real agent run with the toolset: what the model sees when it tries to escape, and when not."""

from __future__ import annotations

from pathlib import Path

from covey.core import Agent
from covey.core.testing import AgentInfo, FunctionModel
from covey.spec import ModelRequest, ModelResponse, TextPart, ToolCallPart, ToolReturnPart
from covey.tools.files import FileToolset

from .conftest import SECRET


def returns(messages: list[ModelRequest | ModelResponse]) -> list[ToolReturnPart]:
    return [
        p
        for m in messages
        if isinstance(m, ModelRequest)
        for p in m.parts
        if isinstance(p, ToolReturnPart)
    ]


async def test_an_agent_is_refused_outside_and_served_inside(root: Path) -> None:
    def script(messages: list[ModelRequest | ModelResponse], info: AgentInfo) -> ModelResponse:
        seen = returns(messages)
        if not seen:
            assert {t.name for t in info.function_tools} == {
                "read_file",
                "list_files",
                "search_files",
            }
            return ModelResponse(
                parts=[
                    ToolCallPart(
                        tool_name="read_file",
                        args={"path": "../outside/secret.txt"},
                        tool_call_id="1",
                    ),
                    ToolCallPart(
                        tool_name="search_files", args={"query": "install"}, tool_call_id="2"
                    ),
                ]
            )
        return ModelResponse(
            parts=[TextPart(content=" | ".join(p.content_as_text() for p in seen))]
        )

    agent = Agent(model=FunctionModel(script), tools=[FileToolset(root)])
    result = await agent.run("Find the install instructions.")
    refused, found = returns(result.all_messages())
    assert refused.is_error and "'..'" in refused.content
    assert not found.is_error and found.content["matches"][0]["path"] == "docs/guide.md"
    assert SECRET not in result.model_dump_json()
    assert [c.error is not None for c in result.tool_calls] == [True, False]
