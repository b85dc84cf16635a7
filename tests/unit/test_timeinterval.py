"""Time intervals: times, weekdays, negative days of month, months, years, locations; the time
stage of a flush and the names it records as the group's `mutedBy`."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from app.alerts import Alert
from app.config import Route, TimeInterval, TimeRange
from app.store import GroupState
from app.timeinterval import TimeIntervalStage, contains, muting_names


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


NIGHT = TimeInterval(times=[TimeRange(0, 6 * 60)])
ALWAYS = TimeInterval()
NEVER = TimeInterval(years=[(1990, 1990)])
NAMED = {"night": [NIGHT, ALWAYS], "always": [ALWAYS], "never": [NEVER], "empty": []}
AT_3AM = ts(2024, 1, 3, 3, 0)


def test_muting_names_are_listed_as_alertmanagers_intervener_lists_them() -> None:
    """In the route's order, a name once for every interval of it that holds the instant: "night"
    has two that hold 03:00, and the route names it twice."""
    names = ["never", "night", "empty", "always", "night"]
    assert muting_names(NAMED, names, AT_3AM) == ["night", "night", "always", "night", "night"]
    assert muting_names(NAMED, names, ts(2024, 1, 3, 12, 0)) == ["night", "always", "night"]
    assert muting_names(NAMED, [], AT_3AM) == []


def run_stage(route: Route) -> tuple[list[Alert], list[list[str]]]:
    marks: list[list[str]] = []
    stage = TimeIntervalStage(lambda: NAMED, lambda group, names: marks.append(names))
    alert = Alert({"alertname": "A"}, {}, AT_3AM, AT_3AM + 60, "", AT_3AM, False, "fp")
    group = GroupState("gid", "{}:{}", "{}", "team", {}, [alert], {})
    return stage([alert], group, route, AT_3AM), marks


def test_outside_its_active_time_intervals_a_group_is_muted_by_all_of_them() -> None:
    """Alertmanager's TimeActiveStage marks the group with every active time interval of the
    route, as configured, and the mute stage after it does not run."""
    kept, marks = run_stage(Route(active_time_intervals=["never", "empty"], mute_time_intervals=["always"]))
    assert (kept, marks) == ([], [["never", "empty"]])


def test_inside_an_active_time_interval_the_mute_time_intervals_holding_now_mute_it() -> None:
    kept, marks = run_stage(
        Route(active_time_intervals=["never", "night"], mute_time_intervals=["never", "always"])
    )
    assert (kept, marks) == ([], [["always"]])


def test_a_group_no_time_interval_mutes_is_marked_unmuted_and_keeps_its_alerts() -> None:
    for route in (Route(), Route(active_time_intervals=["always"], mute_time_intervals=["never"])):
        kept, marks = run_stage(route)
        assert len(kept) == 1 and marks == [[]]
