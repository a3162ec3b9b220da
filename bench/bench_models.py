"""Framework time of a two-request tool-calling run through `OpenAIChatModel` against a loopback
fake OpenAI server, next to the same two requests made with the bare `openai` client (the
floor), measured in the same run."""

from __future__ import annotations

import statistics
import time
from typing import Any

import anyio

TITLE = "covey-models-openai: agent run vs bare SDK (2 requests, 1 tool call, loopback)"
HEADER = ("measurement", "median ms", "floor ms", "ratio", "target")
RUNS = 150


def get_weather(city: str) -> str:
    """Weather for a city.

    Args:
        city: The city.
    """
    return "sunny"


TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}


def run() -> list[tuple[str, ...]]:
    from openai import AsyncOpenAI

    from covey.core import Agent
    from covey.models.openai import OpenAIChatModel
    from covey.models.openai.testing import FakeOpenAIServer, FakeToolCall, reply

    def responder(request: Any) -> Any:
        messages = request.json["messages"]
        if any(m.get("role") == "tool" for m in messages):
            return reply(text="It is sunny.")
        return reply(tool_calls=[FakeToolCall("get_weather", {"city": "Paris"}, call_id="c1")])

    with FakeOpenAIServer(responder) as server:
        agent = Agent(
            model=OpenAIChatModel("gpt-4.1", api_key="sk-bench", base_url=server.url),
            tools=[get_weather],
        )
        client = AsyncOpenAI(api_key="sk-bench", base_url=server.url, max_retries=0)

        async def bare() -> None:
            messages: list[Any] = [{"role": "user", "content": "Weather in Paris?"}]
            first = await client.chat.completions.create(
                model="gpt-4.1", messages=messages, tools=[TOOL]
            )
            call = first.choices[0].message.tool_calls[0]  # type: ignore[index]
            messages.append(first.choices[0].message.model_dump(exclude_none=True))
            messages.append(
                {"role": "tool", "tool_call_id": call.id, "content": get_weather("Paris")}
            )
            await client.chat.completions.create(model="gpt-4.1", messages=messages, tools=[TOOL])

        async def covey() -> None:
            await agent.run("Weather in Paris?")

        async def timed(fn: Any) -> float:
            for _ in range(10):
                await fn()
            samples: list[float] = []
            for _ in range(RUNS):
                t = time.perf_counter()
                await fn()
                samples.append((time.perf_counter() - t) * 1000)
            return statistics.median(samples)

        async def main() -> tuple[float, float]:
            # Interleave so drift in machine load hits both alike.
            floor_a = await timed(bare)
            covey_a = await timed(covey)
            floor_b = await timed(bare)
            covey_b = await timed(covey)
            await client.close()
            return min(floor_a, floor_b), min(covey_a, covey_b)

        floor_ms, covey_ms = anyio.run(main)
    return [
        (
            "Agent.run via OpenAIChatModel",
            f"{covey_ms:.2f}",
            f"{floor_ms:.2f}",
            f"{covey_ms / floor_ms:.2f}×",
            "< 1.5×",
        )
    ]
