"""`retry_after_seconds`: the wait a rate-limited response asks for, from its headers."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, formatdate

import pytest

from covey.spec.http_headers import retry_after_seconds


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after": "7"}, 7.0),
        ({"Retry-After": "0.25"}, 0.25),
        ({"RETRY-AFTER": " 3 "}, 3.0),
        ({"retry-after": "0"}, 0.0),
        ({"retry-after-ms": "250"}, 0.25),
        ({"Retry-After-Ms": "1500", "retry-after": "9"}, 1.5),
        ({}, None),
        ({"content-type": "application/json"}, None),
    ],
    ids=["seconds", "fraction", "any-case", "zero", "ms", "ms-wins", "none", "other-headers"],
)
def test_seconds_and_milliseconds(headers: dict[str, str], expected: float | None) -> None:
    assert retry_after_seconds(headers) == expected


@pytest.mark.parametrize(
    "value", ["", "soon", "-1", "-0.5", "nan", "inf", "-inf", "1 2 3 4"], ids=repr
)
def test_garbage_and_negative_values_are_ignored(value: str) -> None:
    assert retry_after_seconds({"retry-after": value}) is None


@pytest.mark.parametrize("value", ["", "soon", "-5", "nan", "inf"], ids=repr)
def test_an_unusable_ms_header_falls_back_to_retry_after(value: str) -> None:
    assert retry_after_seconds({"retry-after-ms": value, "retry-after": "4"}) == 4.0
    assert retry_after_seconds({"retry-after-ms": value}) is None


def test_an_http_date_counts_from_now() -> None:
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    value = retry_after_seconds({"Retry-After": later})
    assert value is not None
    assert 25 <= value <= 31


def test_an_http_date_with_an_unknown_zone_is_read_as_utc() -> None:
    later = formatdate(time.time() + 60)  # "..., 20 Nov 2030 19:12:08 -0000"
    value = retry_after_seconds({"retry-after": later})
    assert value is not None
    assert 55 <= value <= 61


def test_a_date_already_past_means_now() -> None:
    assert retry_after_seconds({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0
