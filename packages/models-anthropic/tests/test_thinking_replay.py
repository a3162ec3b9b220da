"""Extended thinking: thinking and redacted-thinking blocks come back verbatim on the next turn.

The API requires the assistant's thinking blocks, unmodified and in order, before its tool_use
blocks when the conversation continues with tool results.
"""

from __future__ import annotations

import pytest

from covey.spec import (
    ModelRequest,
    ModelRequestParams,
    ModelSettings,
    ToolDefinition,
    ToolReturnPart,
    dump_messages,
    load_messages,
)

SIGNATURE = "EuYBCkQYAiJAgCs1le6/Pol5Z4/JMomVOouGrWdhYNsH3ukzUECbB6iWrSQtsQuRHJID6lWV"
REDACTED = "EmwKAhgBEgy3va3pzix/LafPsn4aDFIT2Xlxh0L5L8rLVyIwxtE3rAFBa8cr3qpP"
WEATHER = ToolDefinition(
    name="get_weather",
    parameters_json_schema={"type": "object", "properties": {"city": {"type": "string"}}},
)

FIRST_TURN = {
    "id": "msg_think_1",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-4-6",
    "content": [
        {
            "type": "thinking",
            "thinking": "The user wants the weather; I should call get_weather.",
            "signature": SIGNATURE,
        },
        {"type": "redacted_thinking", "data": REDACTED},
        {"type": "text", "text": "Let me look that up."},
        {"type": "tool_use", "id": "toolu_01", "name": "get_weather", "input": {"city": "Paris"}},
    ],
    "stop_reason": "tool_use",
    "stop_sequence": None,
    "usage": {"input_tokens": 40, "output_tokens": 120},
}
SECOND_TURN = {
    **FIRST_TURN,
    "id": "msg_think_2",
    "content": [{"type": "text", "text": "It is 21 °C in Paris."}],
    "stop_reason": "end_turn",
}

EXPECTED_REPLAY = {
    "role": "assistant",
    "content": [
        {
            "type": "thinking",
            "thinking": "The user wants the weather; I should call get_weather.",
            "signature": SIGNATURE,
        },
        {"type": "redacted_thinking", "data": REDACTED},
        {"type": "text", "text": "Let me look that up."},
        {"type": "tool_use", "id": "toolu_01", "name": "get_weather", "input": {"city": "Paris"}},
    ],
}


@pytest.mark.parametrize("streamed", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize("persisted", [False, True], ids=["in-memory", "json-roundtrip"])
async def test_thinking_blocks_are_replayed_verbatim(api, streamed, persisted):
    from covey.models.anthropic.testing import message_events

    settings = ModelSettings(thinking_budget=4000)
    params = ModelRequestParams(function_tools=[WEATHER])
    model = api.model()
    history = [ModelRequest.user("Weather in Paris?")]

    if streamed:
        api.reply_sse(api.sse(*message_events(FIRST_TURN)))
        events = [e async for e in model.request_stream(history, settings, params)]
        first = events[-1].response
    else:
        api.reply_json(FIRST_TURN)
        first = await model.request(history, settings, params)

    history = [
        *history,
        first,
        ModelRequest(
            parts=[
                ToolReturnPart(tool_name="get_weather", content="21 °C", tool_call_id="toolu_01")
            ]
        ),
    ]
    if persisted:
        history = load_messages(dump_messages(history))

    api.reply_json(SECOND_TURN)
    second = await model.request(history, settings, params)
    assert second.text() == "It is 21 °C in Paris."

    replay = api.bodies[1]
    assert replay["thinking"] == {"type": "enabled", "budget_tokens": 4000}
    assert replay["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "Weather in Paris?"}]},
        EXPECTED_REPLAY,
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": "toolu_01", "content": "21 °C"}],
        },
    ]
