"""The floors: a bare Litestar handler making the same two model requests with httpx (`/run`),
and the same handler making them through the official `openai` SDK (`/run-sdk`), which shows
how much of the gap the SDK alone accounts for."""

from __future__ import annotations

import os
from typing import Any

import httpx
from litestar import Litestar, post

URL = os.environ["BENCH_OPENAI_URL"] + "/chat/completions"
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "The weather in a city.",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    }
]
client: httpx.AsyncClient | None = None
sdk_client: Any = None


@post("/run", status_code=200)
async def run(data: dict[str, Any]) -> dict[str, Any]:
    global client
    if client is None:
        client = httpx.AsyncClient(timeout=30)
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": "Answer with the weather."},
        {"role": "user", "content": data["input"]},
    ]
    first = (
        await client.post(URL, json={"model": "gpt-4.1", "messages": messages, "tools": TOOLS})
    ).json()
    call = first["choices"][0]["message"]["tool_calls"][0]
    messages.append(first["choices"][0]["message"])
    messages.append({"role": "tool", "tool_call_id": call["id"], "content": "sunny in Paris"})
    second = (
        await client.post(URL, json={"model": "gpt-4.1", "messages": messages, "tools": TOOLS})
    ).json()
    return {"output": second["choices"][0]["message"]["content"]}


@post("/run-sdk", status_code=200)
async def run_sdk(data: dict[str, Any]) -> dict[str, Any]:
    global sdk_client
    if sdk_client is None:
        from openai import AsyncOpenAI

        sdk_client = AsyncOpenAI(
            api_key="sk-bench", base_url=os.environ["BENCH_OPENAI_URL"], max_retries=0
        )
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": "Answer with the weather."},
        {"role": "user", "content": data["input"]},
    ]
    first = await sdk_client.chat.completions.create(
        model="gpt-4.1", messages=messages, tools=TOOLS
    )
    message = first.choices[0].message
    messages.append(message.model_dump(exclude_none=True))
    messages.append(
        {"role": "tool", "tool_call_id": message.tool_calls[0].id, "content": "sunny in Paris"}
    )
    second = await sdk_client.chat.completions.create(
        model="gpt-4.1", messages=messages, tools=TOOLS
    )
    return {"output": second.choices[0].message.content}


# No logging config: the SDK would log every request at INFO, which is not the floor's work.
app = Litestar([run, run_sdk], logging_config=None)
