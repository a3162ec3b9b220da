"""Wire types of `/v1/schedules`: what a schedule request carries and what the API answers."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from covey.runtime.dto import Flag, Id
from covey.spec import RunStatus, UserContent
from covey.spec.store import Schedule

__all__ = [
    "MIN_INTERVAL",
    "FiringOut",
    "FiringPage",
    "ScheduleIn",
    "ScheduleOut",
    "SchedulePage",
    "SchedulePatch",
]

MIN_INTERVAL = 1.0
"""The shortest interval the API accepts, in seconds (cron's finest is one second too)."""

Name = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")]
Cron = Annotated[str, Field(min_length=9, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")]
Zone = Annotated[str, Field(min_length=1, max_length=64)]
Interval = Annotated[float, Field(ge=MIN_INTERVAL, le=366 * 86_400, allow_inf_nan=False)]
Input = str | list[UserContent] | dict[str, Any]


class _Wire(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _says_something(value: Any) -> Any:
    if value is not None and not (value.strip() if isinstance(value, str) else value):
        raise ValueError("the input is empty; send the message each run starts with")
    return value


class ScheduleIn(_Wire):
    """Create a schedule: what to run, with which input, when."""

    name: Name
    target_kind: Literal["agent", "team", "workflow"] = "agent"
    target_id: Id = Field(description="The agent, team or workflow to run (as served here).")
    cron: Cron | None = Field(
        default=None,
        description="A cron expression: 5 fields (minute hour day month weekday) or 6 with "
        "seconds first; read in `timezone`.",
    )
    interval: Interval | None = Field(default=None, description="Or: every this many seconds.")
    timezone: Zone = Field(default="UTC", description="The IANA zone cron fields are read in.")
    input: Input = Field(description="Every run's input (an object only for a workflow).")
    session_id: Id | None = Field(
        default=None, description="Run every firing in this session (a new one each by default)."
    )
    state: dict[str, Any] | None = Field(default=None, description="Session state merged in.")
    enabled: Flag = True

    _input = field_validator("input")(_says_something)

    @model_validator(mode="after")
    def _one_timetable(self) -> ScheduleIn:
        if (self.cron is None) == (self.interval is None):
            raise ValueError("give exactly one of `cron` and `interval`")
        return self


class SchedulePatch(_Wire):
    """Change a schedule: only the fields given. `enabled: false` pauses it, `true` resumes it."""

    name: Name | None = None
    cron: Cron | None = None
    interval: Interval | None = None
    timezone: Zone | None = None
    input: Input | None = None
    session_id: Id | None = None
    state: dict[str, Any] | None = None
    enabled: Flag | None = None

    _input = field_validator("input")(_says_something)

    @model_validator(mode="after")
    def _one_timetable(self) -> SchedulePatch:
        if self.cron is not None and self.interval is not None:
            raise ValueError("give at most one of `cron` and `interval`")
        return self


class ScheduleOut(_Wire):
    """A schedule as the API shows it."""

    schedule_id: str
    name: str
    target_kind: Literal["agent", "team", "workflow"]
    target_id: str
    cron: str | None = None
    interval: float | None = None
    timezone: str
    input: Any = None
    session_id: str | None = None
    state: dict[str, Any] | None = None
    enabled: bool
    next_run_at: datetime | None = None
    last_run_at: datetime | None = None
    fired: int = Field(default=0, description="Firings that started a run.")
    missed: int = Field(default=0, description="Firings skipped by the misfire policy.")
    user_id: str | None = None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_schedule(cls, schedule: Schedule) -> ScheduleOut:
        """The API's view of a stored schedule."""
        payload = schedule.payload
        return cls(
            schedule_id=schedule.id,
            name=schedule.name,
            target_kind=schedule.target_kind,
            target_id=schedule.target_id,
            cron=schedule.spec if schedule.trigger == "cron" else None,
            interval=float(schedule.spec) if schedule.trigger == "interval" else None,
            timezone=schedule.timezone,
            input=payload.get("input"),
            session_id=payload.get("session_id"),
            state=payload.get("state"),
            enabled=schedule.enabled,
            next_run_at=schedule.next_run_at,
            last_run_at=schedule.last_run_at,
            fired=int(schedule.metadata.get("fired", 0)),
            missed=int(schedule.metadata.get("missed", 0)),
            user_id=schedule.user_id,
            created_at=schedule.created_at,
            updated_at=schedule.updated_at,
        )


class SchedulePage(_Wire):
    """A page of schedules; pass `next_cursor` back as `cursor` for the next."""

    items: list[ScheduleOut]
    next_cursor: str | None = None


class FiringOut(_Wire):
    """One firing of a schedule and where its run stands."""

    run_id: str
    scheduled_for: datetime
    fired_at: datetime
    by: str | None = Field(default=None, description="The process that fired it (host:pid).")
    status: RunStatus | None = Field(
        description="The run's status; `null` when the run was deleted (with its session)."
    )


class FiringPage(_Wire):
    """A schedule's most recent firings, newest first."""

    items: list[FiringOut]
