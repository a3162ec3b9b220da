"""The demo agents: one with tools, one with structured output, one whose tool needs approval;
a team of the first two (`desk`) and a workflow (`briefing`: a forecast, then a headline).

The knowledge base `docs` holds Covey's own documentation: `covey.toml` has the runtime ingest
the repository's `docs/` folder into it at startup, in the background, with the local MiniLM
embedder and LanceDB under `.covey/`. The assistant answers from it (`Agent(knowledge=docs)`:
a `search_knowledge` tool, and the passages it used in the run's references);
`/v1/knowledge/docs/...` serves it. The assistant also has the calculator toolkit
(`tools=[..., "calculator"]`, the covey-tools-calculator plugin by reference).

The assistant learns about its users (`learning=MemoryManager(...)`, covey-learn): after each
run with a user it keeps short facts in the runtime's store, recalls them into later runs, and
`covey memories ls` / `GET /v1/memories` show them. Its memory model is the demo's model; in demo
mode a scripted one that keeps what the user says about themselves ("I ...", "My ..."). Runs
need a user to learn: `covey chat assistant --user me` (with `auth = "none"` HTTP runs have none).

The model is `$COVEY_DEMO_MODEL` when set (any model string, e.g. `ollama:llama3.2`), else the
first provider whose API key is set (by model string, so only that provider's package is
needed), else `TestModel` for every agent, and the registry's notice says so.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field

from covey.core import Agent, Step, StepInput, Team, Workflow
from covey.core.testing import AgentInfo, FunctionModel, TestModel
from covey.knowledge import Knowledge
from covey.learn import MemoryManager
from covey.runtime import Registry
from covey.spec import ModelRequest, ModelResponse, ToolCallPart, UserPart, tool

__all__ = ["MODEL_ENV", "Forecast", "build", "knowledge_base", "memory", "registry"]

MODEL_ENV = "COVEY_DEMO_MODEL"
"""The environment variable naming the demo's model, e.g. `openai:gpt-4.1-mini`."""

# The variables each provider's SDK reads its key from, and the model the demo then uses.
_PROVIDERS = (
    (("OPENAI_API_KEY",), "openai:gpt-4.1-mini"),
    (("ANTHROPIC_API_KEY",), "anthropic:claude-sonnet-4-5"),
    (("GEMINI_API_KEY", "GOOGLE_API_KEY"), "google:gemini-2.5-flash"),
)


def _model() -> tuple[Any, str | None]:
    """The model string to use, else `None` and the demo-mode notice."""
    chosen = os.environ.get(MODEL_ENV, "").strip()
    if chosen:
        return chosen, None
    for variables, model in _PROVIDERS:
        if any(os.environ.get(variable) for variable in variables):
            return model, None
    keys = ", ".join(v for variables, _ in _PROVIDERS for v in variables)
    notice = (
        f"DEMO MODE: neither {MODEL_ENV} nor a provider key ({keys}) is set, so every agent "
        "answers with TestModel (it calls each tool with made-up arguments, then returns canned "
        f"text). Set {MODEL_ENV}=ollama:llama3.2 (or any model string), or a key, to talk to a "
        "real model."
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


def knowledge_base() -> Knowledge:
    """Covey's documentation, searched by meaning and words (offline defaults: MiniLM, LanceDB)."""
    return Knowledge(
        "docs",
        description="Covey's documentation: agents, teams, workflows, models, storage, the "
        "runtime, knowledge bases.",
    )


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


def headline(step: StepInput) -> str:
    """The briefing's last step: one line from the forecast step's output."""
    forecast = step.previous
    if isinstance(forecast, Forecast):
        return f"{forecast.city}: {forecast.celsius} °C, {forecast.summary}"
    return f"Forecast: {forecast}"


_ABOUT_THEMSELVES = ("i ", "i'm ", "i am ", "my ")


def remember_what_users_say(
    messages: list[ModelRequest | ModelResponse], info: AgentInfo
) -> ModelResponse:
    """Demo mode's memory model, scripted like `TestModel`: each line the user wrote about
    themselves ("I ...", "My ...") becomes a memory; nothing else is kept."""
    prompt = "\n".join(
        str(part.content)
        for message in messages
        if isinstance(message, ModelRequest)
        for part in message.parts
        if isinstance(part, UserPart)
    )
    said = [line[6:].strip() for line in prompt.splitlines() if line.startswith("User: ")]
    facts = [
        line for line in said if line.lower().startswith(_ABOUT_THEMSELVES) and len(line) < 300
    ]
    operations: list[dict[str, Any]] = [
        {"op": "create", "memory": f"The user said: {fact}", "topics": ["demo"]}
        for fact in facts[-3:]
    ] or [{"op": "none"}]
    call = ToolCallPart(
        tool_name=info.output_tools[0].name,
        args={"operations": operations},
        tool_call_id="remember",
    )
    return ModelResponse(parts=[call])


def memory(model: Any) -> MemoryManager:
    """The assistant's memory: the demo's model, else the scripted one. No `store=`: it keeps
    memories in the store of each run (the runtime's, or the CLI's)."""
    return MemoryManager(model or FunctionModel(remember_what_users_say))


def build() -> Registry:
    """The demo registry, its model chosen from the environment now.

    The runtime logs its notice once at startup; nothing is logged here, at import.
    """
    model, notice = _model()
    docs = knowledge_base()
    assistant = Agent(
        name="assistant",
        description="Answers questions; knows the weather, the time and Covey's documentation, "
        "and calculates exactly.",
        model=model or TestModel(),
        instructions="You are a concise assistant. Use the tools when they help; cite the "
        "documentation's passages by name when you use them.",
        # "calculator" is a tool plugin reference: covey-tools-calculator, resolved on first use.
        tools=[get_weather, current_time, "calculator"],
        knowledge=docs,
        knowledge_results=3,
        learning=memory(model),
    )
    forecaster = Agent(
        name="forecaster",
        description="Returns a structured weather forecast for a city.",
        model=model or TestModel(),
        instructions="Give a forecast for the city the user names.",
        tools=[get_weather],
        output_type=Forecast,
    )
    return Registry(
        [
            assistant,
            forecaster,
            Team(
                name="desk",
                description="A leader that asks the assistant and the forecaster.",
                members=[assistant, forecaster],
                model=model or TestModel(),
                instructions="Delegate to the member who knows; answer in one paragraph.",
            ),
            Workflow(
                name="briefing",
                description="A forecast for a city, then a one-line headline.",
                steps=[Step(forecaster, name="forecast"), headline],
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
        knowledge=[docs],
    )


registry = build()
