"""`ToolsetSuite`: what every `covey.spec.tools.Toolset` implementation must do.

Subclass it in your plugin's tests and supply the `toolset` fixture: a toolset with at least
one tool that has a required argument. The suite calls every `function` tool it lists, with
arguments built from the tool's JSON schema (every property, see
`covey.spec.schema_data.generate_arguments`). When schema-built arguments cannot work (a path that
must exist, an id that must be known), also supply `toolset_calls`: tool name → arguments that
succeed. Those calls must return a result that is not an error; schema-built calls may return an
error result or raise a `CoveyError` (`ModelRetry`, `ToolError`), but nothing else::

    class TestFileTools(ToolsetSuite):
        @pytest.fixture
        def toolset(self, tmp_path):
            (tmp_path / "a.txt").write_text("hi")
            return FileToolset(root=tmp_path)

        @pytest.fixture
        def toolset_calls(self):
            return {"read_file": {"path": "a.txt"}}

Override `run_context` to give the tools deps. Tests are marked `@pytest.mark.asyncio`; in
pytest-asyncio's strict mode declare an async fixture with `@pytest_asyncio.fixture`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, ClassVar, cast

import anyio
import pytest

from covey.spec.context import RunContext
from covey.spec.errors import CoveyError, ToolNotFoundError
from covey.spec.schema_data import generate_arguments
from covey.spec.tools import ToolArgumentsError, ToolDefinition, ToolResult, Toolset

__all__ = ["ToolsetSuite"]

_VALID_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")

# A value of the wrong JSON type for each JSON-schema type.
_WRONG_VALUE: dict[str, Any] = {
    "string": {"not": "a string"},
    "integer": "not a number",
    "number": "not a number",
    "boolean": {"not": "a boolean"},
    "array": 12345,
    "object": 12345,
}


def _function_tools(tools: list[ToolDefinition]) -> list[ToolDefinition]:
    return [t for t in tools if t.kind == "function"]


def _required(tool: ToolDefinition) -> list[str]:
    return list(tool.parameters_json_schema.get("required") or [])


def _check_result(result: object, tool: str) -> ToolResult:
    assert isinstance(result, ToolResult), f"{tool}: call_tool returned {type(result).__name__}"
    content = result.content
    if not isinstance(content, str):
        try:
            json.dumps(content)
        except (TypeError, ValueError) as e:
            pytest.fail(f"{tool}: result content is not JSON-serialisable: {e}")
    return result


class ToolsetSuite:
    """Conformance tests for a `Toolset`. Supply the `toolset` fixture; see the module docs."""

    __covey_conformance_suite__: ClassVar[bool] = True

    @pytest.fixture
    def toolset(self) -> Toolset:
        """The toolset under test: override this fixture in your subclass."""
        pytest.fail(
            "ToolsetSuite needs a `toolset` fixture: define `toolset` in your subclass, "
            "returning (or yielding) a Toolset with at least one tool that takes a required "
            "argument.",
            pytrace=False,
        )

    @pytest.fixture
    def toolset_calls(self) -> Mapping[str, dict[str, Any]]:
        """Tool name → arguments that succeed; tools not listed get schema-built arguments."""
        return {}

    @pytest.fixture
    def run_context(self) -> RunContext[Any]:
        """The run context tools are listed and called with."""
        return RunContext(run_id="conformance-run", session_id="conformance-session")

    def _arguments(
        self, tool: ToolDefinition, calls: Mapping[str, dict[str, Any]]
    ) -> tuple[dict[str, Any], bool]:
        if tool.name in calls:
            return dict(calls[tool.name]), True
        return generate_arguments(tool.parameters_json_schema), False

    @pytest.mark.asyncio
    async def test_list_tools(self, toolset: Toolset, run_context: RunContext[Any]) -> None:
        """Tools have unique, provider-safe names and object JSON schemas.

        If this fails: name tools with 1-64 letters, digits, `_` or `-`; give each a schema
        `{"type": "object", "properties": {...}, "required": [...]}` whose required names are
        properties; make sure the schema is plain JSON.
        """
        async with toolset:
            tools = await toolset.list_tools(run_context)
        assert tools, "the toolset lists no tools"
        names = [t.name for t in tools]
        assert len(names) == len(set(names)), f"duplicate tool names: {names}"
        for tool in tools:
            assert isinstance(tool, ToolDefinition)
            assert _VALID_NAME.fullmatch(tool.name), f"invalid tool name {tool.name!r}"
            assert isinstance(tool.description, str)
            schema = tool.parameters_json_schema
            json.dumps(schema)
            assert schema.get("type") == "object", f"{tool.name}: schema type must be object"
            properties: object = schema.get("properties", {})
            assert isinstance(properties, dict), f"{tool.name}: properties must be an object"
            missing = set(_required(tool)) - set(cast("dict[str, Any]", properties))
            assert not missing, f"{tool.name}: required but not in properties: {missing}"

    @pytest.mark.asyncio
    async def test_list_tools_is_stable(
        self, toolset: Toolset, run_context: RunContext[Any]
    ) -> None:
        """Listing twice gives the same definitions.

        If this fails: build definitions deterministically (no random ids, stable order).
        """
        async with toolset:
            first = await toolset.list_tools(run_context)
            second = await toolset.list_tools(run_context)
        assert first == second

    @pytest.mark.asyncio
    async def test_call_every_tool(
        self,
        toolset: Toolset,
        run_context: RunContext[Any],
        toolset_calls: Mapping[str, dict[str, Any]],
    ) -> None:
        """Every function tool can be called with valid arguments and returns a `ToolResult`.

        If this fails: return a `ToolResult` whose content is a string or JSON-serialisable;
        turn expected failures into `ToolResult(is_error=True)` or raise `ToolError` /
        `ModelRetry`, never a bare exception. If schema-built arguments cannot work for a
        tool, give working ones in the `toolset_calls` fixture.
        """
        async with toolset:
            tools = _function_tools(await toolset.list_tools(run_context))
            assert tools, "the toolset lists no function tools"
            unknown = set(toolset_calls) - {t.name for t in tools}
            assert not unknown, f"toolset_calls names tools the toolset does not list: {unknown}"
            for tool in tools:
                args, given = self._arguments(tool, toolset_calls)
                ctx = run_context.for_tool_call(tool.name, f"call-{tool.name}")
                try:
                    result = await toolset.call_tool(tool.name, args, ctx)
                except CoveyError as e:
                    if given:
                        pytest.fail(f"{tool.name}({args}) from toolset_calls raised {e!r}")
                    continue
                except Exception as e:
                    pytest.fail(
                        f"{tool.name}({args}) raised {type(e).__name__}: {e}. Return "
                        "ToolResult(is_error=True) or raise ToolError/ModelRetry instead."
                    )
                checked = _check_result(result, tool.name)
                if given:
                    assert not checked.is_error, f"{tool.name}({args}): {checked.content!r}"

    @pytest.mark.asyncio
    async def test_unknown_tool(self, toolset: Toolset, run_context: RunContext[Any]) -> None:
        """Calling a name the toolset does not have raises `ToolNotFoundError`.

        If this fails: look the name up and raise `covey.spec.errors.ToolNotFoundError`
        (listing the available names helps the model).
        """
        async with toolset:
            with pytest.raises(ToolNotFoundError):
                await toolset.call_tool("no_such_tool_zz9", {}, run_context)

    @pytest.mark.asyncio
    async def test_invalid_arguments(self, toolset: Toolset, run_context: RunContext[Any]) -> None:
        """Missing required arguments, or a wrong type, raise `ToolArgumentsError`.

        If this fails: validate arguments against the schema before running the tool and
        raise `covey.spec.tools.ToolArgumentsError` with the validation errors, so the model
        is asked to retry.
        """
        async with toolset:
            tools = _function_tools(await toolset.list_tools(run_context))
            with_required = [t for t in tools if _required(t)]
            assert with_required, (
                "the toolset fixture must list at least one tool with a required argument"
            )
            tool = with_required[0]
            with pytest.raises(ToolArgumentsError):
                await toolset.call_tool(tool.name, {}, run_context)
            properties = tool.parameters_json_schema.get("properties", {})
            for name in _required(tool):
                kind = properties.get(name, {}).get("type")
                if isinstance(kind, str) and kind in _WRONG_VALUE:
                    args = generate_arguments(tool.parameters_json_schema)
                    args[name] = _WRONG_VALUE[kind]
                    with pytest.raises(ToolArgumentsError):
                        await toolset.call_tool(tool.name, args, run_context)
                    break

    @pytest.mark.asyncio
    async def test_enter_twice_and_again(
        self, toolset: Toolset, run_context: RunContext[Any]
    ) -> None:
        """The toolset can be entered while entered (shared by runs), and again after exit.

        If this fails: count entries in `__aenter__`/`__aexit__`, connect on the first and
        disconnect on the last, and allow reconnecting afterwards.
        """
        async with toolset:
            async with toolset:
                inner = await toolset.list_tools(run_context)
            assert await toolset.list_tools(run_context) == inner
        async with toolset:
            assert await toolset.list_tools(run_context) == inner

    @pytest.mark.asyncio
    async def test_concurrent_calls(
        self,
        toolset: Toolset,
        run_context: RunContext[Any],
        toolset_calls: Mapping[str, dict[str, Any]],
    ) -> None:
        """Calls from concurrent tasks all complete (one response's tool calls run at once).

        If this fails: do not share per-call state between calls; guard shared clients.
        """
        async with toolset:
            tools = _function_tools(await toolset.list_tools(run_context))
            tool = next((t for t in tools if t.name in toolset_calls), tools[0])
            args, _ = self._arguments(tool, toolset_calls)
            results: list[object] = []

            async def call(i: int) -> None:
                ctx = run_context.for_tool_call(tool.name, f"call-{i}")
                try:
                    results.append(await toolset.call_tool(tool.name, dict(args), ctx))
                except CoveyError as e:
                    results.append(e)

            async with anyio.create_task_group() as tg:
                for i in range(5):
                    tg.start_soon(call, i)
        assert len(results) == 5
        kinds = {type(r) for r in results}
        assert len(kinds) == 1, f"concurrent calls behaved differently: {results}"
