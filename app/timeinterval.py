"""Time intervals (`time_intervals`, the older `mute_time_intervals`): is an instant inside?

An interval matches when every field it sets matches (an unset field matches always); a named
time interval is a list of intervals and matches when any of them does. Day-of-month ranges
may count from the month's end (-1 is the last day), as in Alertmanager.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable, Mapping
from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from app import metrics
from app.alerts import Alert
from app.config import Route, TimeInterval
from app.store import GroupState


@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo | None:
    return None if name in ("", "Local") else ZoneInfo(name)


def _in_ranges(value: int, ranges: list[tuple[int, int]]) -> bool:
    return any(lo <= value <= hi for lo, hi in ranges)


def _day_of_month_matches(dt: datetime, ranges: list[tuple[int, int]]) -> bool:
    days = calendar.monthrange(dt.year, dt.month)[1]
    for begin, end in ranges:
        lo = days + begin + 1 if begin < 0 else begin
        hi = days + end + 1 if end < 0 else end
        if lo > days:
            continue  # this month is too short for the range
        if max(lo, -days) <= dt.day <= min(hi, days):
            return True
    return False


def contains(interval: TimeInterval, ts: float) -> bool:
    dt = (
        datetime.fromtimestamp(ts, _zone(interval.location))
        if interval.location != "Local"
        else (datetime.fromtimestamp(ts))
    )
    if interval.times:
        minute = dt.hour * 60 + dt.minute
        if not any(r.start_minute <= minute < r.end_minute for r in interval.times):
            return False
    # Python counts Monday as 0; Alertmanager (Go) counts Sunday as 0.
    if interval.weekdays and not _in_ranges((dt.weekday() + 1) % 7, interval.weekdays):
        return False
    if interval.days_of_month and not _day_of_month_matches(dt, interval.days_of_month):
        return False
    if interval.months and not _in_ranges(dt.month, interval.months):
        return False
    return not interval.years or _in_ranges(dt.year, interval.years)


def muting_names(named: Mapping[str, list[TimeInterval]], names: list[str], ts: float) -> list[str]:
    """The names among `names` whose intervals hold `ts`, as Alertmanager's Intervener.Mutes
    lists them: in the route's order, a name once for each of its intervals that holds it."""
    return [name for name in names for interval in named[name] if contains(interval, ts)]


class TimeIntervalStage:
    """The time stages of a flush: outside every active time interval of its route, or inside
    one of its mute time intervals, a group sends nothing (and logs nothing).

    Each flush that reaches it records, through `mark`, what Alertmanager's TimeActiveStage and
    TimeMuteStage put in its group marker: outside its active time intervals, all of them;
    else the mute time intervals holding now; else none. The API shows that record as the
    group's `mutedBy` until the next flush, as Alertmanager does.
    """

    def __init__(
        self,
        named: Callable[[], Mapping[str, list[TimeInterval]]],
        mark: Callable[[GroupState, list[str]], None],
    ) -> None:
        self._named = named
        self._mark = mark

    def __call__(self, alerts: list[Alert], group: GroupState, route: Route, now: float) -> list[Alert]:
        named = self._named()
        if route.active_time_intervals and not muting_names(named, route.active_time_intervals, now):
            self._mark(group, list(route.active_time_intervals))
            metrics.notifications_suppressed.labels(metrics.SUPPRESSED_BY_ACTIVE_TIME_INTERVAL).inc(
                len(alerts)
            )
            return []
        muted_by = muting_names(named, route.mute_time_intervals, now)
        self._mark(group, muted_by)
        if muted_by:
            metrics.notifications_suppressed.labels(metrics.SUPPRESSED_BY_MUTE_TIME_INTERVAL).inc(len(alerts))
            return []
        return alerts
