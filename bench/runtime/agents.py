"""The runtime bench's agent: OpenAIChatModel against the fake server, one tool."""

from __future__ import annotations

import os

from covey.core import Agent
from covey.models.openai import OpenAIChatModel
from covey.runtime import Registry
from covey.spec import tool


@tool
def get_weather(city: str) -> str:
    """The weather in a city.

    Args:
        city: The city.
    """
    return f"sunny in {city}, 21 °C"


registry = Registry(
    [
        Agent(
            name="weather",
            model=OpenAIChatModel(
                "gpt-4.1", api_key="bench", base_url=os.environ["BENCH_OPENAI_URL"]
            ),
            tools=[get_weather],
            instructions="Answer with the weather.",
        )
    ]
)
