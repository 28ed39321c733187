"""PURE: expiry times. Parses WHEN (``90m``, ``12h``, ``30d``, ``2w``, an ISO date or
datetime, ``never``) against a given "now", and formats times as ISO 8601 UTC."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone

from .errors import InvalidWhenError
from .text import printable

_RELATIVE = r"([0-9]{1,9})([mhdw])"  # ASCII digits only (\d takes ١٢ too); compiled on first use
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_HELP = "use 90m, 12h, 30d, 2w, a date (2027-01-31), a datetime (2027-01-31T12:00) or 'never'"


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def is_relative(text: str) -> bool:
    return bool(re.fullmatch(_RELATIVE, text.strip().lower()))


def parse_when(text: str, now: datetime) -> datetime | None:
    """The expiry time WHEN stands for, in UTC, or None for ``never``.

    A time that is not after ``now`` is refused, and so is one beyond the year 9999."""
    shown = printable(text, 40)
    raw = text.strip()
    low = raw.lower()
    if low == "never":
        return None
    match = re.fullmatch(_RELATIVE, low)
    if match:
        amount = int(match.group(1))
        if amount == 0:
            raise InvalidWhenError(f"--expires '{shown}' is not in the future; {_HELP}")
        try:
            return now + timedelta(**{_UNITS[match.group(2)]: amount})
        except OverflowError:
            raise InvalidWhenError(f"--expires '{shown}' is beyond the year 9999") from None
    moment: datetime
    try:
        if re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", raw):
            day = date.fromisoformat(raw)
            moment = datetime(day.year, day.month, day.day, tzinfo=timezone.utc)
        elif re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9:.]+(Z|[+-][0-9]{2}:?[0-9]{2})?", raw):
            moment = to_utc(datetime.fromisoformat(raw.replace("Z", "+00:00")), f"--expires '{shown}'")
        else:
            raise ValueError
    except ValueError:
        raise InvalidWhenError(f"--expires '{shown}' is not a time keyctl understands; {_HELP}") from None
    if moment <= now:
        raise InvalidWhenError(f"--expires '{shown}' is not in the future; {_HELP}")
    return moment


def to_utc(moment: datetime, what: str = "the expiry time") -> datetime:
    """``moment`` in UTC (no zone means UTC). InvalidWhenError when that falls outside
    the years 1 to 9999 (9999-12-31T23:00-05:00 is in the year 10000 in UTC)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    try:
        return moment.astimezone(timezone.utc)
    except OverflowError:
        beyond = "beyond the year 9999" if moment.year > 1 else "before the year 1"
        raise InvalidWhenError(f"{what} is {beyond} in UTC") from None


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC with a ``Z``, to the second: ``2026-11-30T01:35:40Z``."""
    if moment is None:
        return None
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: str | None) -> datetime | None:
    if text is None:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
