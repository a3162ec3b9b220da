"""Shared helpers: a scripted memory model and real stores (a SQLite file, the in-memory store)."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from covey.core.testing import AgentInfo, FunctionModel
from covey.db.memory import MemoryStore
from covey.db.sql import SqlStore
from covey.spec import ModelRequest, ModelResponse, TextPart, ToolCallPart, UserPart
from covey.spec.store import Store

Messages = list[ModelRequest | ModelResponse]


def exchange(user: str, assistant: str = "Noted.") -> Messages:
    """One finished turn, as a run's new messages."""
    return [
        ModelRequest(parts=[UserPart(content=user)]),
        ModelResponse(parts=[TextPart(content=assistant)]),
    ]


def prompt_text(messages: Messages) -> str:
    """Everything the memory model was sent, as one string."""
    return "\n".join(
        str(getattr(part, "content", ""))
        for message in messages
        if isinstance(message, ModelRequest)
        for part in message.parts
    )


class OpsModel:
    """A memory model answering with operations from `decide(prompt_text, info)`.

    Records every request's prompt and info, so tests can assert what the model was shown.
    """

    def __init__(self, decide: Callable[[str, AgentInfo], list[dict[str, Any]]]) -> None:
        self.decide = decide
        self.prompts: list[str] = []
        self.infos: list[AgentInfo] = []
        self.model = FunctionModel(self._respond)

    def _respond(self, messages: Messages, info: AgentInfo) -> ModelResponse:
        text = prompt_text(messages)
        self.prompts.append(text)
        self.infos.append(info)
        ops = self.decide(text, info)
        call = ToolCallPart(
            tool_name=info.output_tools[0].name, args={"operations": ops}, tool_call_id="ops"
        )
        return ModelResponse(parts=[call])

    @property
    def calls(self) -> int:
        return len(self.prompts)


@pytest.fixture
async def sqlite_store(tmp_path: Path) -> AsyncIterator[Store]:
    async with SqlStore(f"sqlite:///{tmp_path}/covey.db") as store:
        yield store


@pytest.fixture(params=["sqlite", "memory"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    """Each store kind the manager must work on."""
    if request.param == "sqlite":
        async with SqlStore(f"sqlite:///{tmp_path}/covey.db") as sql:
            yield sql
    else:
        async with MemoryStore() as memory:
            yield memory


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[Any]:
    """A throwaway PostgreSQL cluster on a loopback port (skipped only off CI without binaries)."""
    from covey.db.sql.testing import PostgresCluster, find_postgres_bin

    if find_postgres_bin() is None and not os.environ.get("CI"):
        pytest.skip("PostgreSQL server binaries are not installed: run `make system-deps`")
    with PostgresCluster(settings={"fsync": "off", "synchronous_commit": "off"}) as cluster:
        yield cluster


@pytest.fixture
def postgres_url(postgres_cluster: Any) -> Iterator[str]:
    """A fresh, empty database for one test."""
    name = f"t_{uuid.uuid4().hex[:16]}"
    yield postgres_cluster.create_database(name)
    postgres_cluster.drop_database(name)
