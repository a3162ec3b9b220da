"""The bench agent built with Agno: the same instructions, tool and model as
`bench/runtime/agents.py`, against the same fake OpenAI server. Runs in Agno's own venv."""

from __future__ import annotations

from typing import Any

from agno.agent import Agent
from agno.models.openai import OpenAIChat

INSTRUCTIONS = "Answer with the weather."


def get_weather(city: str) -> str:
    """The weather in a city.

    Args:
        city: The city.
    """
    return f"sunny in {city}, 21 °C"


def make_agent(base_url: str, db: Any = None) -> Agent:
    """The weather agent, with telemetry off and the OpenAI client's retries off."""
    return Agent(
        name="weather",
        id="weather",
        model=OpenAIChat(id="gpt-4.1", api_key="bench", base_url=base_url, max_retries=0),
        tools=[get_weather],
        instructions=INSTRUCTIONS,
        db=db,
        telemetry=False,
    )
