"""Expiry times: WHEN parsed against a fixed "now", and ISO 8601 output."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from keyctl.errors import InvalidWhenError
from keyctl.when import is_relative, iso, parse_iso, parse_when

NOW = datetime(2026, 11, 30, 1, 35, 40, tzinfo=timezone.utc)
UTC = timezone.utc


@pytest.mark.parametrize(
    "text, delta",
    [
        ("90m", timedelta(minutes=90)),
        ("12h", timedelta(hours=12)),
        ("30d", timedelta(days=30)),
        ("2w", timedelta(weeks=2)),
        ("1m", timedelta(minutes=1)),
        ("30D", timedelta(days=30)),
        (" 2w ", timedelta(days=14)),
    ],
)
def test_relative(text, delta):
    assert parse_when(text, NOW) == NOW + delta
    assert is_relative(text)


def test_relative_exact_values():
    assert parse_when("90m", NOW) == datetime(2026, 11, 30, 3, 5, 40, tzinfo=UTC)
    assert parse_when("30d", NOW) == datetime(2026, 12, 30, 1, 35, 40, tzinfo=UTC)
    assert parse_when("2w", NOW) == datetime(2026, 12, 14, 1, 35, 40, tzinfo=UTC)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2030-01-31", datetime(2030, 1, 31, 0, 0, tzinfo=UTC)),
        ("2030-01-31T12:00", datetime(2030, 1, 31, 12, 0, tzinfo=UTC)),
        ("2030-01-31 12:00", datetime(2030, 1, 31, 12, 0, tzinfo=UTC)),
        ("2030-01-31T12:00Z", datetime(2030, 1, 31, 12, 0, tzinfo=UTC)),
        ("2030-01-31T12:00+02:00", datetime(2030, 1, 31, 10, 0, tzinfo=UTC)),
        ("2030-01-31T12:00-05:30", datetime(2030, 1, 31, 17, 30, tzinfo=UTC)),
        ("2030-01-31T12:00:30", datetime(2030, 1, 31, 12, 0, 30, tzinfo=UTC)),
    ],
)
def test_absolute(text, expected):
    got = parse_when(text, NOW)
    assert got == expected
    assert got.utcoffset() == timedelta(0)
    assert not is_relative(text)


def test_date_is_midnight_utc():
    got = parse_when("2030-01-31", NOW)
    assert (got.hour, got.minute, got.second) == (0, 0, 0)
    assert got.tzinfo is not None and got.utcoffset() == timedelta(0)


@pytest.mark.parametrize("text", ["never", "NEVER", " Never "])
def test_never(text):
    assert parse_when(text, NOW) is None


@pytest.mark.parametrize(
    "text",
    [
        "2020-01-01",  # past date
        "2026-11-30",  # today, midnight: before now
        "2026-11-30T01:35:40",  # exactly now: not after it
        "2026-11-30T01:35:40+00:00",
        "0d",
        "0m",
        "-5d",
        "garbage",
        "",
        "   ",
        "5",
        "5y",
        "5 d",
        "d5",
        "2030-02-30",  # no such day
        "2030-13-01",
        "2030-01-31T25:00",
        "30-01-2031",
        "tomorrow",
        "10000-01-01",  # beyond the year 9999
        "99999999w",
        "9999999d",
        "999999999h",
        "9999-12-31T23:00-02:00",  # 10000-01-01T01:00Z
        "1234567890d",  # more than 9 digits
    ],
)
def test_refused(text):
    with pytest.raises(InvalidWhenError) as info:
        parse_when(text, NOW)
    assert info.value.exit_code == 2
    assert f"'{text}'" in str(info.value)


def test_future_by_a_second_is_accepted():
    assert parse_when("2026-11-30T01:35:41", NOW) == NOW + timedelta(seconds=1)


def test_last_day_of_9999_is_accepted():
    assert parse_when("9999-12-31", NOW) == datetime(9999, 12, 31, tzinfo=UTC)


def test_past_and_beyond_messages():
    with pytest.raises(InvalidWhenError, match="not in the future"):
        parse_when("2020-01-01", NOW)
    with pytest.raises(InvalidWhenError, match="not in the future"):
        parse_when("0d", NOW)
    with pytest.raises(InvalidWhenError, match="beyond the year 9999"):
        parse_when("99999999w", NOW)


def test_iso_formats_utc_with_z():
    assert iso(datetime(2026, 11, 30, 1, 35, 40, tzinfo=UTC)) == "2026-11-30T01:35:40Z"
    assert iso(datetime(2030, 1, 31, 12, 0, tzinfo=timezone(timedelta(hours=2)))) == "2030-01-31T10:00:00Z"
    assert iso(datetime(2026, 11, 30, 1, 35, 40, 999999, tzinfo=UTC)) == "2026-11-30T01:35:40Z"
    assert iso(None) is None
    assert iso(parse_when("2030-01-31T12:00+02:00", NOW)) == "2030-01-31T10:00:00Z"


def test_parse_iso_round_trips():
    moment = datetime(2030, 1, 31, 10, 0, tzinfo=UTC)
    assert parse_iso(iso(moment)) == moment
    assert parse_iso(None) is None


@pytest.mark.parametrize("text", ["١٢d", "１２h", "2027-0１-31", "٢٠٢٧-01-31"])
def test_only_ascii_digits_make_a_time(text):
    """Python's \\d and int() take other scripts' digits; a time typed with them is not one."""
    with pytest.raises(InvalidWhenError):
        parse_when(text, NOW)
