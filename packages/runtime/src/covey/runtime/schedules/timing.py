"""When a schedule fires: cron expressions (croniter, in the schedule's time zone) and intervals.

Cron has 5 fields (`minute hour day month weekday`) or 6 with seconds first
(`second minute hour day month weekday`), as Quartz and Spring write them. Times are computed in
the schedule's IANA time zone, so `0 9 * * 1-5` is 09:00 in Paris in winter and summer alike
(a wall-clock time skipped by a DST change fires at the next valid time, one repeated fires once),
and stored in UTC. An interval is a number of seconds counted from the schedule's creation, so a
firing's time never drifts with the scheduler's lag.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["check_timing", "cron_times", "next_fire", "zone"]


def zone(name: str) -> ZoneInfo:
    """The IANA time zone `name`.

    Raises:
        ValueError: no such zone (the message names an example).
    """
    if not name or len(name) > 64 or name.startswith(("/", ".")) or ".." in name:
        raise ValueError(f"unknown time zone {name!r}; use an IANA name such as 'Europe/Paris'")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {name!r}; use an IANA name such as 'Europe/Paris'"
        ) from None


def _cron(spec: str, start: datetime) -> Any:
    from croniter import croniter  # pyright: ignore[reportMissingTypeStubs]

    six = len(spec.split()) == 6
    return croniter(spec, start, second_at_beginning=six)


def check_timing(trigger: str, spec: str, timezone: str) -> None:
    """Refuse a timetable that would never work, with a message a person can act on.

    Raises:
        ValueError: the cron expression does not parse (or never matches), the interval is not
            a positive number of seconds, or the time zone is unknown.
    """
    tz = zone(timezone)
    if trigger == "interval":
        try:
            seconds = float(spec)
        except ValueError:
            seconds = math.nan
        if not (math.isfinite(seconds) and seconds >= 0.001):
            raise ValueError(f"an interval is a positive number of seconds, got {spec!r}")
        return
    if trigger != "cron":
        raise ValueError(f"trigger is 'cron' or 'interval', got {trigger!r}")
    fields = spec.split()
    if len(fields) not in (5, 6):
        raise ValueError(
            f"a cron expression has 5 fields (minute hour day month weekday) or 6 (second "
            f"first), got {len(fields)} in {spec!r}"
        )
    from croniter import croniter  # pyright: ignore[reportMissingTypeStubs]

    if not croniter.is_valid(spec, second_at_beginning=len(fields) == 6):  # pyright: ignore[reportUnknownMemberType]
        raise ValueError(f"{spec!r} is not a valid cron expression (e.g. '0 9 * * 1-5')")
    try:
        next_fire(trigger, spec, timezone, after=datetime.now(tz), anchor=datetime.now(UTC))
    except Exception:
        raise ValueError(f"the cron expression {spec!r} never matches a date") from None


def next_fire(
    trigger: str, spec: str, timezone: str, *, after: datetime, anchor: datetime
) -> datetime:
    """The first firing strictly after `after`, in UTC.

    Args:
        trigger: `cron` or `interval`.
        spec: The cron expression, or the interval in seconds.
        timezone: The IANA zone cron fields are read in.
        after: An aware datetime.
        anchor: Where an interval's grid starts (the schedule's creation).
    """
    if trigger == "interval":
        step = timedelta(seconds=float(spec))
        if after < anchor:
            return anchor.astimezone(UTC)
        n = math.floor((after - anchor) / step) + 1
        return (anchor + n * step).astimezone(UTC)
    return next(cron_times(spec, timezone, after=after))


def cron_times(spec: str, timezone: str, *, after: datetime) -> Iterator[datetime]:
    """The cron firings strictly after `after`, in UTC, one by one (one parser for all).

    When clocks go back, a wall-clock time of the repeated hour happens twice; like cron, an
    expression with a fixed hour fires at its first occurrence only (`30 2 * * *` once a day),
    while one whose hour is `*` or a step fires in both (every 30 minutes stays every 30
    minutes of real time).
    """
    tz = zone(timezone)
    fields = spec.split()
    fixed_hour = not fields[2 if len(fields) == 6 else 1].startswith("*")
    it = _cron(spec, after.astimezone(tz))
    while True:
        found: datetime = it.get_next(datetime)
        at = found.astimezone(UTC)
        if fixed_hour and _second_occurrence(at, tz):
            continue
        yield at


def _second_occurrence(at: datetime, tz: ZoneInfo) -> bool:
    """Whether `at` is the second time its local wall-clock time happens (clocks went back)."""
    wall = at.astimezone(tz).replace(tzinfo=None)
    return wall.replace(tzinfo=tz, fold=0).astimezone(UTC) != at
