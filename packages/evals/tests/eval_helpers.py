"""A real agent with a real tool on a scripted model, and a scripted judge that grades by
comparing the fenced answer with the fenced expected answer (as a real judge would be shown
them)."""

from __future__ import annotations

import re
from typing import Any

from covey.core import Agent
from covey.core.testing import AgentInfo, FunctionModel
from covey.spec import ModelRequest, ModelResponse, TextPart, ToolCallPart, UserPart
from covey.spec.messages import ToolReturnPart
from covey.spec.store import Store

Messages = list[ModelRequest | ModelResponse]

TEMPERATURES = {"Paris": 21, "Oslo": 4}


def get_weather(city: str, unit: str = "C") -> str:
    """The temperature in a city.

    Args:
        city: The city's name.
        unit: C or F.
    """
    return f"{TEMPERATURES.get(city, 15)} {unit}"


def _user_text(messages: Messages) -> str:
    for message in reversed(messages):
        if isinstance(message, ModelRequest):
            for part in message.parts:
                if isinstance(part, UserPart) and isinstance(part.content, str):
                    return part.content
    return ""


def weather_model(messages: Messages, info: AgentInfo) -> ModelResponse:
    """Calls get_weather for the city asked about, then answers with its result.

    "weather in rome" calls it with a lower-case city (a wrong argument); "hello" calls nothing.
    """
    last = messages[-1]
    if isinstance(last, ModelRequest):
        returns = [p for p in last.parts if isinstance(p, ToolReturnPart)]
        if returns:
            return ModelResponse(parts=[TextPart(content=f"It is {returns[0].content_as_text()}.")])
    text = _user_text(messages)
    match = re.search(r"weather in (\w+)", text, re.IGNORECASE)
    if match is None:
        return ModelResponse(parts=[TextPart(content="Hello! Ask me about the weather.")])
    city = match.group(1)
    call = ToolCallPart(tool_name="get_weather", args={"city": city}, tool_call_id="w1")
    return ModelResponse(parts=[call])


def weather_agent(store: Store | None = None, **kwargs: Any) -> Agent[None, str]:
    return Agent(
        name="weather",
        model=FunctionModel(weather_model),
        tools=[get_weather],
        store=store,
        **kwargs,
    )


def fenced(prompt: str, tag: str) -> str:
    match = re.search(rf"<{tag}-(\w+)>\n(.*)\n</{tag}-\1>", prompt, re.DOTALL)
    assert match is not None, f"no {tag} fence in {prompt!r}"
    return match.group(2)


class ScriptedJudge:
    """Scores 10 when every number of the expected answer is in the answer, else 2; records
    the prompts it was sent."""

    def __init__(self) -> None:
        self.prompts: list[str] = []
        self.model = FunctionModel(self._respond)

    def _respond(self, messages: Messages, info: AgentInfo) -> ModelResponse:
        prompt = _user_text(messages)
        self.prompts.append(prompt)
        expected = fenced(prompt, "expected_answer")
        answer = fenced(prompt, "answer_to_grade")
        numbers = re.findall(r"\d+", expected)
        good = all(n in answer for n in numbers)
        verdict = {"score": 10 if good else 2, "reason": "same facts" if good else "wrong facts"}
        call = ToolCallPart(tool_name=info.output_tools[0].name, args=verdict, tool_call_id="j")
        return ModelResponse(parts=[call])
