"""What `/v1/schedules` and `covey schedules` do to the store, kept apart from HTTP.

Edits go through the same compare-and-set as the scheduler's claims, retried on a conflict with
a fresh read, so an edit never undoes a firing's bookkeeping and a firing never undoes an edit.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import anyio.to_thread

from covey.runtime.problems import ApiError
from covey.runtime.registry import Registry
from covey.runtime.schedules.dto import FiringOut, ScheduleIn, SchedulePatch
from covey.runtime.schedules.scheduler import advance
from covey.runtime.schedules.timing import check_timing
from covey.spec.errors import ConflictError
from covey.spec.store import Schedule, ScheduleTrigger, Scope, Store

__all__ = ["create_schedule", "firings", "get_schedule", "update_schedule"]

_RETRIES = 20


def _invalid(field: str, message: str) -> ApiError:
    return ApiError(
        400,
        "validation-error",
        f"{field}: {message}",
        errors=[{"field": field, "message": message, "source": "body"}],
    )


async def _timing(trigger: ScheduleTrigger, spec: str, timezone: str) -> None:
    """`check_timing` in a worker thread: proving that a cron expression never matches walks
    years of dates (about 0.15 s of CPU), which must not stall the event loop."""
    try:
        await anyio.to_thread.run_sync(check_timing, trigger, spec, timezone)
    except ValueError as exc:
        field = "timezone" if "time zone" in str(exc) else trigger
        raise _invalid(field, str(exc)) from None


def _check_target(registry: Registry, kind: Any, target_id: str, value: Any) -> None:
    if registry.of_kind(kind, target_id) is None:
        raise _invalid("target_id", f"this server serves no {kind} {target_id!r}")
    if isinstance(value, dict) and kind != "workflow":
        raise _invalid("input", "an object input is for workflows; send text or content parts")


def _payload(input: Any, session_id: str | None, state: dict[str, Any] | None) -> dict[str, Any]:
    from pydantic_core import to_jsonable_python

    payload: dict[str, Any] = {"input": to_jsonable_python(input)}
    if session_id is not None:
        payload["session_id"] = session_id
    if state is not None:
        payload["state"] = state
    return payload


async def create_schedule(
    store: Store, registry: Registry, scope: Scope, body: ScheduleIn
) -> Schedule:
    """Validate and store a new schedule owned by `scope`'s user; its first firing is the first
    after now."""
    trigger: ScheduleTrigger = "cron" if body.cron is not None else "interval"
    spec = body.cron if body.cron is not None else repr(body.interval)
    await _timing(trigger, spec, body.timezone)
    _check_target(registry, body.target_kind, body.target_id, body.input)
    schedule = Schedule(
        name=body.name,
        target_kind=body.target_kind,
        target_id=body.target_id,
        trigger=trigger,
        spec=spec,
        timezone=body.timezone,
        payload=_payload(body.input, body.session_id, body.state),
        enabled=body.enabled,
        user_id=scope.user_id,
    )
    schedule.next_run_at = advance(schedule, datetime.now(UTC)) if body.enabled else None
    return await store.save_schedule(scope, schedule)


async def get_schedule(store: Store, scope: Scope, schedule_id: str) -> Schedule:
    """The schedule, or a 404 problem."""
    found = await store.get_schedule(scope, schedule_id)
    if found is None:
        raise ApiError(404, "not-found", f"No schedule {schedule_id!r}")
    return found


async def _patched(registry: Registry, current: Schedule, body: SchedulePatch) -> Schedule:
    given = body.model_fields_set
    update: dict[str, Any] = {}
    if "name" in given and body.name is not None:
        update["name"] = body.name
    trigger, spec = current.trigger, current.spec
    if body.cron is not None:
        trigger, spec = "cron", body.cron
    elif body.interval is not None:
        trigger, spec = "interval", repr(body.interval)
    timezone = body.timezone if body.timezone is not None else current.timezone
    timing_changed = (trigger, spec, timezone) != (current.trigger, current.spec, current.timezone)
    if timing_changed:
        await _timing(trigger, spec, timezone)
        update.update(trigger=trigger, spec=spec, timezone=timezone)
    payload = dict(current.payload)
    if "input" in given:
        if body.input is None:
            raise _invalid("input", "a schedule needs an input")
        _check_target(registry, current.target_kind, current.target_id, body.input)
        payload["input"] = _payload(body.input, None, None)["input"]
    for key in ("session_id", "state"):
        if key in given:
            value = getattr(body, key)
            if value is None:
                payload.pop(key, None)
            else:
                payload[key] = value
    update["payload"] = payload
    enabled = current.enabled if body.enabled is None else body.enabled
    update["enabled"] = enabled
    changed = current.model_copy(update=update)
    if not enabled:
        changed.next_run_at = None
    elif timing_changed or not current.enabled or current.next_run_at is None:
        # Resumed or re-timed: from the next firing after now, with no backlog.
        changed.next_run_at = advance(changed, datetime.now(UTC))
    return changed


async def update_schedule(
    store: Store, registry: Registry, scope: Scope, schedule_id: str, body: SchedulePatch
) -> Schedule:
    """Apply `body` over the stored schedule with a compare-and-set, re-reading on a conflict
    (a firing claimed it meanwhile)."""
    for _ in range(_RETRIES):
        current = await get_schedule(store, scope, schedule_id)
        changed = await _patched(registry, current, body)
        try:
            return await store.save_schedule(
                scope.for_user(current.user_id) if scope.is_tenant_wide else scope,
                changed,
                expected_updated_at=current.updated_at,
            )
        except ConflictError:
            continue
    raise ApiError(409, "conflict", f"Schedule {schedule_id!r} kept changing; try again")


async def firings(store: Store, scope: Scope, schedule: Schedule, limit: int) -> list[FiringOut]:
    """The schedule's `limit` most recent firings, newest first, with their runs' status."""
    entries: list[dict[str, Any]] = list(schedule.metadata.get("firings", []))[-limit:]
    out: list[FiringOut] = []
    for entry in reversed(entries):
        run = await store.get_run(scope, entry["run_id"])
        out.append(
            FiringOut(
                run_id=entry["run_id"],
                scheduled_for=entry["scheduled_for"],
                fired_at=entry["fired_at"],
                by=entry.get("by"),
                status=run.status if run is not None else None,
            )
        )
    return out
