"""Applying a memory model's operations to a user's memories, shared by `MemoryManager` and
the `UserMemory` store of `LearningMachine`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from pydantic import ValidationError

from covey.learn._operations import (
    OPERATION_ADAPTER,
    CreateMemory,
    DeleteMemory,
    MemoryUpdate,
    NoChange,
    SkippedOperation,
    UpdateMemory,
)
from covey.learn._secrets import looks_like_secret
from covey.spec.errors import NotFoundError
from covey.spec.store import Memory, Scope, Store

__all__ = ["apply_operations"]


async def apply_operations(
    store: Store,
    scope: Scope,
    current: Sequence[Memory],
    raw: list[Any],
    run_id: str,
    result: MemoryUpdate,
    *,
    max_memories: int,
    max_operations: int,
    source: str = "manager",
) -> None:
    """Apply the model's raw operations one by one, recording each in `result`.

    Each is validated on its own; ids must be among `current` (the user's listing the model
    was shown); new memories stop at `max_memories`; at most `max_operations` apply; text that
    looks like a credential is refused.
    """
    owned = {m.id: m for m in current}
    count = len(current)
    applied = 0
    for item in raw:
        shown = _shown(item)
        if applied >= max_operations:
            result.skipped.append(
                SkippedOperation(
                    operation=shown,
                    reason=f"more than {max_operations} operations in one answer",
                )
            )
            continue
        try:
            op = OPERATION_ADAPTER.validate_python(item)
        except ValidationError as exc:
            reason = "; ".join(
                f"{'.'.join(str(x) for x in e['loc']) or 'operation'}: {e['msg']}"
                for e in exc.errors(include_url=False, include_input=False)[:3]
            )
            result.skipped.append(SkippedOperation(operation=shown, reason=f"invalid: {reason}"))
            continue
        if isinstance(op, NoChange):
            continue
        if isinstance(op, CreateMemory | UpdateMemory) and looks_like_secret(op.memory):
            result.skipped.append(
                SkippedOperation(
                    operation={"op": op.op, "id": getattr(op, "id", None)},
                    reason="the memory looks like a secret (a key, password or card number)",
                )
            )
            continue
        if isinstance(op, CreateMemory):
            if count >= max_memories:
                result.skipped.append(
                    SkippedOperation(
                        operation=shown,
                        reason=f"the user already has {max_memories} memories "
                        "(the limit); update or delete one first",
                    )
                )
                continue
            memory = await store.add_memory(
                scope,
                Memory(
                    user_id=scope.user_id or "",
                    memory=op.memory,
                    topics=_unique(op.topics),
                    metadata={"run_id": run_id, "history": [run_id], "source": source},
                ),
            )
            count += 1
            applied += 1
            result.created.append(memory)
            continue
        existing = owned.get(op.id)
        if existing is None:
            result.skipped.append(
                SkippedOperation(operation=shown, reason="no memory of this user has that id")
            )
            continue
        if isinstance(op, UpdateMemory):
            history = [*existing.metadata.get("history", []), run_id][-20:]
            changed = existing.model_copy(
                update={
                    "memory": op.memory,
                    "topics": _unique(op.topics) if op.topics is not None else existing.topics,
                    "metadata": {**existing.metadata, "run_id": run_id, "history": history},
                }
            )
            try:
                stored = await store.update_memory(scope, changed)
            except NotFoundError:
                result.skipped.append(
                    SkippedOperation(operation=shown, reason="the memory was deleted meanwhile")
                )
                continue
            owned[op.id] = stored
            applied += 1
            result.updated.append(stored)
        elif isinstance(op, DeleteMemory):  # pyright: ignore[reportUnnecessaryIsInstance]
            try:
                await store.delete_memory(scope, op.id)
            except NotFoundError:
                result.skipped.append(
                    SkippedOperation(operation=shown, reason="the memory was deleted meanwhile")
                )
                continue
            del owned[op.id]
            count -= 1
            applied += 1
            result.deleted.append(op.id)


def _unique(topics: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(topics))


def _shown(item: Any) -> dict[str, Any]:
    """The operation for `skipped`: its known fields only, long values trimmed."""
    if not isinstance(item, dict):
        return {"value": repr(item)[:200]}
    mapping = cast("dict[str, Any]", item)
    shown: dict[str, Any] = {}
    for key in ("op", "id", "memory", "topics"):
        if key in mapping:
            value: Any = mapping[key]
            if isinstance(value, str):
                value = value[:200]
            elif isinstance(value, list):
                value = [str(v)[:64] for v in cast("list[Any]", value)[:8]]
            shown[key] = value
    return shown
