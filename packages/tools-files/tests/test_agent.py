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


async def test_by_reference_and_two_roots_side_by_side(tmp_path: Path, root: Path) -> None:
    """`"files:PATH"` resolves read-only; two file toolsets with ids get prefixed tool names."""
    other = tmp_path / "code"
    other.mkdir()
    (other / "main.py").write_text("print('install')\n")

    def script(messages: list[ModelRequest | ModelResponse], info: AgentInfo) -> ModelResponse:
        names = sorted(t.name for t in info.function_tools)
        seen = returns(messages)
        if not seen:
            return ModelResponse(
                parts=[
                    ToolCallPart(
                        tool_name="files_search_files", args={"query": "install"}, tool_call_id="a"
                    ),
                    ToolCallPart(
                        tool_name="code_search_files", args={"query": "install"}, tool_call_id="b"
                    ),
                ]
            )
        paths = [m["path"] for p in seen for m in p.content["matches"]]
        return ModelResponse(parts=[TextPart(content=f"{names} {paths}")])

    agent = Agent(
        model=FunctionModel(script), tools=[f"files:{root}", FileToolset(other, id="code")]
    )
    result = await agent.run("Where is install mentioned?")
    assert result.output == (
        "['code_list_files', 'code_read_file', 'code_search_files', 'files_list_files', "
        "'files_read_file', 'files_search_files'] ['docs/guide.md', 'main.py']"
    )
