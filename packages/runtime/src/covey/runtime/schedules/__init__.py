"""Schedules: run an agent, team or workflow on a cron expression or an interval.

`Scheduler` fires due schedules exactly once across every process on one store; `service`
holds what the HTTP API and the CLI do to stored schedules; `timing` parses timetables.
"""

from covey.runtime.schedules.scheduler import HISTORY_LIMIT, Scheduler, advance
from covey.runtime.schedules.timing import check_timing, next_fire

__all__ = ["HISTORY_LIMIT", "Scheduler", "advance", "check_timing", "next_fire"]
