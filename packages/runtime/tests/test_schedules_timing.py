"""Timetables: cron in a time zone (daylight-saving changes included), seconds, weekdays,
intervals on a fixed grid, and the expressions refused."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from covey.runtime.schedules.timing import check_timing, cron_times, next_fire

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _cron(spec: str, tz: str, after: datetime, n: int) -> list[str]:
    return [t.isoformat() for t in itertools.islice(cron_times(spec, tz, after=after), n)]


def test_cron_is_read_in_the_schedule_time_zone_across_daylight_saving() -> None:
    winter = next_fire("cron", "0 9 * * *", "Europe/Paris", after=NOW, anchor=NOW)
    summer = next_fire(
        "cron", "0 9 * * *", "Europe/Paris", after=datetime(2026, 7, 1, tzinfo=UTC), anchor=NOW
    )
    assert (winter.hour, summer.hour) == (8, 7)  # 09:00 CET, 09:00 CEST
    assert winter.tzinfo == UTC


def test_a_skipped_local_time_fires_at_the_next_valid_time() -> None:
    # 2026-03-29 in Paris: 02:00 -> 03:00, so 02:30 does not exist that day.
    times = _cron("30 2 * * *", "Europe/Paris", datetime(2026, 3, 27, tzinfo=UTC), 3)
    assert times == [
        "2026-03-27T01:30:00+00:00",
        "2026-03-28T01:30:00+00:00",
        "2026-03-29T01:00:00+00:00",  # 03:00 CEST
    ]


def test_a_repeated_local_time_fires_once_but_steps_keep_real_time() -> None:
    # 2026-10-25 in Paris: 03:00 -> 02:00, so 02:30 happens twice.
    daily = _cron("30 2 * * *", "Europe/Paris", datetime(2026, 10, 24, 12, tzinfo=UTC), 2)
    assert daily == ["2026-10-25T00:30:00+00:00", "2026-10-26T01:30:00+00:00"]
    halves = _cron("*/30 * * * *", "Europe/Paris", datetime(2026, 10, 24, 23, tzinfo=UTC), 8)
    steps = [datetime.fromisoformat(t) for t in halves]
    assert all(b - a == timedelta(minutes=30) for a, b in itertools.pairwise(steps))


def test_six_fields_put_seconds_first_and_sunday_is_0_or_7() -> None:
    every_ten = _cron("*/10 * * * * *", "UTC", NOW, 3)
    assert every_ten == [
        "2026-01-01T00:00:10+00:00",
        "2026-01-01T00:00:20+00:00",
        "2026-01-01T00:00:30+00:00",
    ]
    sunday = next_fire("cron", "0 9 * * 0", "UTC", after=NOW, anchor=NOW)
    assert sunday == next_fire("cron", "0 9 * * 7", "UTC", after=NOW, anchor=NOW)
    assert sunday.weekday() == 6
    weekdays = _cron("0 9 * * 1-5", "UTC", NOW, 5)  # 2026-01-01 is a Thursday
    assert [datetime.fromisoformat(t).weekday() for t in weekdays] == [3, 4, 0, 1, 2]


def test_an_interval_counts_from_its_anchor_not_from_the_last_firing() -> None:
    anchor = NOW
    assert next_fire("interval", "1.5", "UTC", after=NOW - timedelta(hours=1), anchor=anchor) == (
        anchor
    )
    late = anchor + timedelta(seconds=4.2)  # a scheduler running late does not shift the grid
    assert next_fire("interval", "1.5", "UTC", after=late, anchor=anchor) == anchor + timedelta(
        seconds=4.5
    )
    exact = anchor + timedelta(seconds=3)
    assert next_fire("interval", "1.5", "UTC", after=exact, anchor=anchor) == anchor + timedelta(
        seconds=4.5
    )


@pytest.mark.parametrize(
    ("trigger", "spec", "timezone", "message"),
    [
        ("cron", "61 * * * *", "UTC", "not a valid cron"),
        ("cron", "* * * * * * *", "UTC", "5 fields"),
        ("cron", "@reboot", "UTC", "5 fields"),
        ("cron", "0 0 30 2 *", "UTC", "never matches"),
        ("cron", "0 9 * * *", "Nowhere/City", "unknown time zone"),
        ("cron", "0 9 * * *", "/etc/localtime", "unknown time zone"),
        ("cron", "0 9 * * *", "", "unknown time zone"),
        ("interval", "0", "UTC", "positive"),
        ("interval", "inf", "UTC", "positive"),
        ("interval", "soon", "UTC", "positive"),
        ("weekly", "1", "UTC", "trigger"),
    ],
)
def test_timetables_that_cannot_work_are_refused(
    trigger: str, spec: str, timezone: str, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        check_timing(trigger, spec, timezone)
