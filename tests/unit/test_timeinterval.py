"""Time intervals: times, weekdays, negative days of month, months, years, locations."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from app.config import TimeInterval, TimeRange
from app.timeinterval import any_contains, contains


def ts(*args: int, tz=UTC) -> float:
    return datetime(*args, tzinfo=tz).timestamp()


def test_business_hours_on_weekdays() -> None:
    hours = TimeInterval(times=[TimeRange(9 * 60, 17 * 60)], weekdays=[(1, 5)])
    assert contains(hours, ts(2024, 1, 3, 9, 0))  # Wednesday 09:00, start inclusive
    assert not contains(hours, ts(2024, 1, 3, 17, 0))  # end exclusive
    assert not contains(hours, ts(2024, 1, 6, 10, 0))  # Saturday


def test_negative_days_count_from_the_end_of_the_month() -> None:
    last_two = TimeInterval(days_of_month=[(-2, -1)])
    assert contains(last_two, ts(2024, 2, 28, 12))  # 2024 is a leap year: Feb has 29 days
    assert contains(last_two, ts(2024, 2, 29, 12))
    assert not contains(last_two, ts(2024, 2, 27, 12))
    assert contains(last_two, ts(2023, 2, 27, 12))


def test_day_range_past_a_short_month_is_skipped() -> None:
    assert not contains(TimeInterval(days_of_month=[(30, 31)]), ts(2023, 2, 28, 12))


def test_months_years_and_location() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    winter = TimeInterval(months=[(12, 12), (1, 2)], years=[(2024, 2025)], location="Europe/Berlin")
    assert contains(winter, ts(2025, 1, 1, 0, 30, tz=berlin))
    assert not contains(winter, ts(2026, 1, 1, 0, 30, tz=berlin))
    # 23:30 UTC on 30 November is already December in Berlin.
    assert contains(winter, ts(2024, 11, 30, 23, 30))
    assert not any_contains([], ts(2024, 1, 1))
