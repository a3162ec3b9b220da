"""The demo agents: one with tools, one with structured output, one whose tool needs approval.

A real provider is used when its API key is set (by model string, so only that provider's
package is needed); otherwise every agent answers with `TestModel`, and says so.
"""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field

from covey.core import Agent
from covey.core.testing import TestModel
from covey.runtime import Registry
from covey.spec import tool

__all__ = ["Forecast", "registry"]

log = logging.getLogger("covey_server_app")

_PROVIDERS = (
    ("OPENAI_API_KEY", "openai:gpt-4.1-mini"),
    ("ANTHROPIC_API_KEY", "anthropic:claude-sonnet-4-5"),
    ("GOOGLE_API_KEY", "google:gemini-2.5-flash"),
)


def _model() -> tuple[Any, str | None]:
    """The model string of the first provider with a key, else `TestModel` and a notice."""
    for variable, model in _PROVIDERS:
        if os.environ.get(variable):
            return model, None
    notice = (
        "DEMO MODE: no OPENAI_API_KEY, ANTHROPIC_API_KEY or GOOGLE_API_KEY is set, so every "
        "agent answers with TestModel (it calls each tool with made-up arguments, then returns "
        "canned text). Set a key and install its package to talk to a real model."
    )
    return None, notice


@tool
def get_weather(city: str) -> str:
    """Today's weather in a city.

    Args:
        city: The city, e.g. "Paris".
    """
    forecasts = {"paris": "sunny, 21 °C", "london": "light rain, 14 °C", "tokyo": "cloudy, 18 °C"}
    return forecasts.get(city.strip().lower(), f"mild and dry in {city}, 17 °C")


@tool
def current_time() -> str:
    """The current date and time in UTC."""
    return datetime.now(UTC).isoformat(timespec="seconds")


class Forecast(BaseModel):
    """A weather forecast."""

    city: str = Field(description="The city")
    celsius: int = Field(description="Expected high temperature in °C")
    summary: str = Field(description="One sentence")


@tool(requires_approval=True)
def issue_refund(order_id: str, amount_eur: float) -> str:
    """Refund an order (a human approves every refund first).

    Args:
        order_id: The order to refund.
        amount_eur: How much to refund, in euros.
    """
    return f"refunded {amount_eur:.2f} EUR on order {order_id}"


def build() -> Registry:
    """The demo registry."""
    model, notice = _model()
    if notice:
        log.warning("%s", notice)
    return Registry(
        [
            Agent(
                name="assistant",
                description="Answers questions; knows the weather and the time.",
                model=model or TestModel(),
                instructions="You are a concise assistant. Use the tools when they help.",
                tools=[get_weather, current_time],
            ),
            Agent(
                name="forecaster",
                description="Returns a structured weather forecast for a city.",
                model=model or TestModel(),
                instructions="Give a forecast for the city the user names.",
                tools=[get_weather],
                output_type=Forecast,
            ),
            Agent(
                name="support",
                description="Customer support; refunds need a human's approval.",
                model=model or TestModel(call_tools=["issue_refund"]),
                instructions="Help the customer. Refund only when the order id is given.",
                tools=[issue_refund],
            ),
        ],
        notice=notice,
    )


registry = build()
