"""Memories shaped like credentials are refused by the manager and by the tools."""

from __future__ import annotations

import pytest

from covey.learn import MemoryManager, MemoryToolset
from covey.learn._secrets import looks_like_secret
from covey.spec.context import RunContext
from covey.spec.store import Scope, Store

from .conftest import OpsModel, exchange

SECRETS = [
    "The user's OpenAI key is sk-proj-abcdefghijklmnop1234567890",
    "Their GitHub token: ghp_abcdefghijklmnopqrstuvwxyz123456",
    "AWS key AKIAIOSFODNN7EXAMPLE",
    "The user's password is hunter2!",
    "api_key = 9f8e7d6c5b4a",
    "Card 4111 1111 1111 1111 expires soon",
    "The user's PIN is 4821",
    "-----BEGIN RSA PRIVATE KEY----- MIIEow",
]
HARMLESS = [
    "The user is vegetarian",
    "The user keeps a secret garden",
    "The user's password manager is 1Password",
    "The user's phone number ends in 1234",
    "The user was born in 1987 and has 2 kids",
    "The user works on task-1234567890123",
    "The user's secret is that they sing in the shower",
    "The user's token is expired",
]


@pytest.mark.parametrize("text", SECRETS)
def test_secrets_are_recognised(text: str) -> None:
    assert looks_like_secret(text)


@pytest.mark.parametrize("text", HARMLESS)
def test_ordinary_facts_are_not(text: str) -> None:
    assert not looks_like_secret(text)


async def test_the_manager_and_the_tools_never_store_a_secret(store: Store) -> None:
    ops = [{"op": "create", "memory": text} for text in SECRETS[:4]]
    ops.append({"op": "create", "memory": "The user is vegetarian"})
    manager = MemoryManager(OpsModel(lambda p, i: ops).model, store=store)
    alice = Scope("acme", "alice")
    update = await manager.update(alice, exchange("here are my keys..."), run_id="r1")
    assert [m.memory for m in update.created] == ["The user is vegetarian"]
    assert len(update.skipped) == 4
    assert all("secret" in s.reason for s in update.skipped)
    assert "sk-proj" not in update.model_dump_json()  # not even in the report

    tools = MemoryToolset(store)
    ctx = RunContext(run_id="r2", user_id="alice", tenant_id="acme")
    saved = await tools.call_tool("remember", {"memory": SECRETS[0]}, ctx)
    assert saved.is_error and "secret" in saved.content
    [kept] = (await store.list_memories(alice)).items
    edited = await tools.call_tool("update_memory", {"id": kept.id, "memory": SECRETS[1]}, ctx)
    assert edited.is_error
    assert [m.memory for m in (await store.list_memories(alice)).items] == [
        "The user is vegetarian"
    ]
