"""`A2AToolset` against real A2A servers built with the official SDK, over loopback HTTP."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import anyio
import pytest
from a2a_servers import CANCELLED, SEEN_HEADERS

from covey.conformance import ToolsetSuite
from covey.spec.context import RunContext
from covey.spec.errors import ConfigurationError, ToolNotFoundError
from covey.spec.tools import ToolArgumentsError, Toolset
from covey.tools.a2a import A2AToolset, from_reference
from covey.tools.a2a.toolset import _Answer


def ctx(session: str | None = None) -> RunContext[Any]:
    return RunContext(run_id="r1", session_id=session)


class TestConformance(ToolsetSuite):
    @pytest.fixture
    def toolset(self, remote: str) -> Toolset:
        return A2AToolset(f"{remote}/shout", timeout=20)

    @pytest.fixture
    def toolset_calls(self) -> Mapping[str, dict[str, Any]]:
        return {"ask_shout": {"message": "hi"}}


async def test_the_card_makes_the_tool(remote: str) -> None:
    async with A2AToolset(f"{remote}/shout") as toolset:
        [tool] = await toolset.list_tools(ctx())
    assert tool.name == "ask_shout"
    assert "The shout agent." in tool.description
    assert "shout things" in tool.description
    assert tool.parameters_json_schema["required"] == ["message"]


async def test_a_completed_task_is_its_artifacts_text(remote: str) -> None:
    async with A2AToolset(f"{remote}/shout") as toolset:
        result = await toolset.call_tool("ask_shout", {"message": "hello"}, ctx())
    assert not result.is_error
    assert result.content == "HELLO!"
    assert result.metadata["state"] == "completed"


async def test_streamed_chunks_join_without_separators(remote: str) -> None:
    async with A2AToolset(f"{remote}/chunks") as toolset:
        result = await toolset.call_tool("ask_chunks", {"message": "go"}, ctx())
    assert result.content == "one two three"


async def test_input_required_then_the_answer_goes_to_the_same_task(remote: str) -> None:
    async with A2AToolset(f"{remote}/asker") as toolset:
        first = await toolset.call_tool("ask_asker", {"message": "book a room"}, ctx("s1"))
        assert not first.is_error
        assert "Which city?" in str(first.content)
        assert first.metadata["state"] == "input_required"
        second = await toolset.call_tool("ask_asker", {"message": "Lyon"}, ctx("s1"))
    assert second.content == "booked for Lyon"
    assert second.metadata["task_id"] == first.metadata["task_id"]
    assert second.metadata["context_id"] == first.metadata["context_id"]


async def test_sessions_do_not_share_contexts(remote: str) -> None:
    async with A2AToolset(f"{remote}/asker") as toolset:
        first = await toolset.call_tool("ask_asker", {"message": "book"}, ctx("a"))
        other = await toolset.call_tool("ask_asker", {"message": "book"}, ctx("b"))
    assert other.metadata["state"] == "input_required"  # a new task, not a's answer
    assert other.metadata["context_id"] != first.metadata["context_id"]


async def test_a_failed_task_is_an_error_result(remote: str) -> None:
    async with A2AToolset(f"{remote}/failer") as toolset:
        result = await toolset.call_tool("ask_failer", {"message": "x"}, ctx())
    assert result.is_error
    assert "the database is down" in str(result.content)


async def test_long_answers_are_cut(remote: str) -> None:
    async with A2AToolset(f"{remote}/big", max_chars=1000) as toolset:
        result = await toolset.call_tool("ask_big", {"message": "x"}, ctx())
    assert len(str(result.content)) < 1200
    assert "50000 characters" in str(result.content)


async def test_a_slow_agent_times_out_and_its_task_is_cancelled(remote: str) -> None:
    async with A2AToolset(f"{remote}/slow", timeout=0.5) as toolset:
        result = await toolset.call_tool("ask_slow", {"message": "x"}, ctx())
    assert result.is_error
    assert "did not answer within" in str(result.content)
    assert result.metadata["task_id"] in CANCELLED


async def test_a_cancelled_run_cancels_the_remote_task(
    remote: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    working = anyio.Event()
    take = _Answer.take

    def spy(self: _Answer, response: Any) -> None:
        take(self, response)
        if response.HasField("status_update"):  # the remote agent is working on it
            working.set()

    monkeypatch.setattr(_Answer, "take", spy)
    async with A2AToolset(f"{remote}/slow") as toolset:
        before = len(CANCELLED)
        with anyio.CancelScope() as scope:
            async with anyio.create_task_group() as tg:
                tg.start_soon(toolset.call_tool, "ask_slow", {"message": "x"}, ctx())
                await working.wait()
                scope.cancel()
        assert len(CANCELLED) == before + 1


async def test_without_streaming_the_answer_is_the_same(remote: str) -> None:
    async with A2AToolset(f"{remote}/chunks", streaming=False) as toolset:
        result = await toolset.call_tool("ask_chunks", {"message": "go"}, ctx())
    assert result.content == "one two three"


async def test_bad_arguments_ask_the_model_again(remote: str) -> None:
    async with A2AToolset(f"{remote}/shout") as toolset:
        for args in ({}, {"message": ""}, {"message": 3}, {"message": "hi", "extra": 1}):
            with pytest.raises(ToolArgumentsError):
                await toolset.call_tool("ask_shout", args, ctx())
        with pytest.raises(ToolNotFoundError):
            await toolset.call_tool("ask_other", {"message": "hi"}, ctx())


# --- attacks ---------------------------------------------------------------------------------


async def test_a_card_pointing_at_another_origin_is_refused(remote: str) -> None:
    toolset = A2AToolset(f"{remote}/evil", token="tok-secret-123")
    with pytest.raises(ConfigurationError, match="another origin") as caught:
        await toolset.__aenter__()
    assert "tok-secret-123" not in str(caught.value)


async def test_the_token_is_sent_and_never_shown(remote: str) -> None:
    secret = "tok-secret-456"
    toolset = A2AToolset(f"{remote}/shout", token=secret, name="ask_it")
    assert secret not in repr(toolset)
    async with toolset:
        result = await toolset.call_tool("ask_it", {"message": "hi"}, ctx())
    assert result.content == "HI!"
    assert SEEN_HEADERS[-1]["authorization"] == f"Bearer {secret}"


async def test_an_unreachable_agent_fails_clearly_and_without_the_token() -> None:
    toolset = A2AToolset("http://user:pw-secret@127.0.0.1:9/agent", token="tok-secret-789")
    assert "pw-secret" not in repr(toolset)
    with pytest.raises(Exception) as caught:
        await toolset.__aenter__()
    assert "tok-secret-789" not in str(caught.value)


def test_only_http_urls() -> None:
    for url in ("file:///etc/passwd", "ftp://host/x", "not a url"):
        with pytest.raises(ConfigurationError):
            A2AToolset(url)
    with pytest.raises(ConfigurationError):
        from_reference(None)
    assert from_reference("http://127.0.0.1:1/a").url == "http://127.0.0.1:1/a"
