"""`time_intervals` and `mute_time_intervals`, parsed with Alertmanager's timeinterval wording.

Weekday, day-of-month, month and year ranges, `HH:MM` clock times and time zones each have their
own rules and messages; `WEEKDAYS` is shared with the write-back, which prints the ranges again.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable
from typing import Any

from yaml.nodes import Node

from app.config.model import ConfigError, TimeInterval, TimeRange
from app.config.reader import Converter, Reader, fail_on, list_of, string
from app.gostrings import go_quote

WEEKDAYS = ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")
_MONTHS = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
]


def _go_atoi(text: str) -> int:
    """strconv.Atoi, with its error wording."""
    body = text[1:] if text[:1] in "+-" else text
    if not body or not body.isascii() or not body.isdigit():
        raise ConfigError(f"strconv.Atoi: parsing {go_quote(text)}: invalid syntax")
    return int(text)


def _weekday(text: str) -> int:
    if text not in WEEKDAYS:
        raise ConfigError(f"{text} is not a valid weekday")
    return WEEKDAYS.index(text)


def _month(text: str) -> int:
    if text in _MONTHS:
        return _MONTHS.index(text) + 1
    try:
        return _go_atoi(text)
    except ConfigError:
        raise ConfigError(f"{text} is not a valid month") from None


def _range(text: str, member: Callable[[str], int]) -> tuple[int, int]:
    """`a:b` or `a` (case-insensitive) as an inclusive (begin, end) pair."""
    text = text.lower()
    if ":" not in text:
        value = member(text)
        return value, value
    parts = text.split(":")
    if len(parts) != 2:
        raise ConfigError(f"couldn't parse range {text}, invalid format")
    return member(parts[0]), member(parts[1])


def _weekday_range(text: str) -> tuple[int, int]:
    begin, end = _range(text, _weekday)
    fail_on("start day cannot be before end day" if begin > end else None)
    return begin, end


def _day_of_month_range(text: str) -> tuple[int, int]:
    begin, end = _range(text, _go_atoi)
    for day in (begin, end):
        fail_on(f"{day} is not a valid day of the month: out of range" if day == 0 or abs(day) > 31 else None)
    fail_on("end day must be negative if start day is negative" if begin < 0 < end else None)
    check_begin, check_end = (28 + begin if begin < 0 else begin), (28 + end if end < 0 else end)
    fail_on(f"end day {end} is always before start day {begin}" if check_begin > check_end else None)
    return begin, end


def _month_range(text: str) -> tuple[int, int]:
    begin, end = _range(text, _month)
    if begin > end:
        names = {i + 1: name for i, name in enumerate(_MONTHS)}
        raise ConfigError(f"end month {names.get(end, '')} is before start month {names.get(begin, '')}")
    return begin, end


def _year_range(text: str) -> tuple[int, int]:
    begin, end = _range(text, _go_atoi)
    fail_on(f"end year {end} is before start year {begin}" if begin > end else None)
    return begin, end


def _ranges(parse: Callable[[str], tuple[int, int]], go_type: str) -> Converter:
    def convert(r: Reader, node: Node) -> list[tuple[int, int]] | None:
        items = r.strings(node, go_type)
        return None if items is None else [parse(item) for item in items]

    return convert


def _clock(text: str) -> int:
    """`HH:MM` (00:00 to 24:00) as minutes since midnight."""
    hours, _, minutes = text.partition(":")
    valid = len(text) == 5 and hours.isdigit() and minutes.isdigit() and int(minutes) < 60
    if not valid or not (int(hours) < 24 or text == "24:00"):
        raise ConfigError(f"couldn't parse timestamp {text}, invalid format")
    return int(hours) * 60 + int(minutes)


def _time_range(r: Reader, node: Node) -> TimeRange | None:
    values, clean = r.checked_struct(
        node, "timeinterval.yamlTimeRange", {"start_time": string, "end_time": string}
    )
    if values is None or not clean:
        return None
    start_text, end_text = values.get("start_time", ""), values.get("end_time", "")
    fail_on("both start and end times must be provided" if not start_text or not end_text else None)
    start, end = _clock(start_text), _clock(end_text)
    fail_on("start time cannot be equal or greater than end time" if start >= end else None)
    return TimeRange(start, end)


def _location(r: Reader, node: Node) -> str:
    name = r.string(node)
    if name in ("", "UTC", "Local"):
        return name or "UTC"
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"unknown time zone {name}") from None
    return name


_TIME_INTERVAL_FIELDS: dict[str, Converter] = {
    "times": list_of("[]timeinterval.TimeRange", _time_range),
    "weekdays": _ranges(_weekday_range, "[]timeinterval.WeekdayRange"),
    "days_of_month": _ranges(_day_of_month_range, "[]timeinterval.DayOfMonthRange"),
    "months": _ranges(_month_range, "[]timeinterval.MonthRange"),
    "years": _ranges(_year_range, "[]timeinterval.YearRange"),
    "location": _location,
}


def _time_interval(r: Reader, node: Node) -> TimeInterval:
    values = r.struct(node, "timeinterval.TimeInterval", _TIME_INTERVAL_FIELDS) or {}
    values["times"] = [t for t in values.get("times") or [] if t is not None]
    return TimeInterval(**{k: v for k, v in values.items() if v is not None})


def named_intervals(missing_name: str) -> Converter:
    table: dict[str, Converter] = {
        "name": string,
        "time_intervals": list_of("[]timeinterval.TimeInterval", _time_interval),
    }

    def convert(r: Reader, node: Node) -> dict[str, Any]:
        values, clean = r.checked_struct(node, "config.plain", table)
        values = values or {}
        if clean:
            fail_on(None if values.get("name") else missing_name)
        values["time_intervals"] = [t or TimeInterval() for t in values.get("time_intervals") or []]
        return values

    return convert
