"""Go's time values in templates: `Time.Format` and `time.Parse` with Go's reference-time layouts.

Why: Alertmanager's template data carries time.Time values (`.StartsAt`, `.EndsAt`) that
operators print with Go's reference-time layouts (`{{ .StartsAt.Format "2006-01-02 15:04" }}`,
`date`, `toDate`), and a Go template prints a time the way Go's `%v` does. Python's strftime knows
neither, so this module implements the layout elements Go documents. Not to be confused with
`app.timeutil`, which reads and writes the API's RFC 3339 timestamps as epoch seconds; a
time.Duration prints through `app.durations.format_go_duration_ns`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from app.gostrings import go_quote
from app.gotemplate.errors import FuncError

_LAYOUT = re.compile(
    r"January|Jan|Monday|Mon|MST|2006|_(?=2006)|06|01|002|02|03|04|05|__2|_2|15|1|2|3|4|5|PM|pm"
    r"|Z07:00:00|Z070000|Z07:00|Z0700|Z07|-07:00:00|-070000|-07:00|-0700|-07|[.,](?:0+|9+)(?!\d)"
)
_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September"]
_MONTHS += ["October", "November", "December"]
_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


def _offset(t: datetime, token: str) -> str:
    seconds = int((t.utcoffset() or timedelta()).total_seconds())
    if token.startswith("Z") and seconds == 0:
        return "Z"
    sign = "-" if seconds < 0 else "+"
    h, rest = divmod(abs(seconds), 3600)
    m, s = divmod(rest, 60)
    body = token.lstrip("Z-")
    colon = ":" if ":" in body else ""
    text = f"{sign}{h:02d}"
    if len(body.replace(":", "")) >= 4:
        text += f"{colon}{m:02d}"
    if len(body.replace(":", "")) == 6:
        text += f"{colon}{s:02d}"
    return text


def _fraction(t: datetime, token: str) -> str:
    digits = f"{t.microsecond:06d}000"[: len(token) - 1]
    if token[1] == "9":
        digits = digits.rstrip("0")
        return token[0] + digits if digits else ""
    return token[0] + digits


def _zone_name(t: datetime) -> str:
    name = t.tzname()  # a fixed-offset zone is named "UTC+02:00"; Go names it "+0200"
    return name if name and not name.startswith(("+", "-", "UTC+", "UTC-")) else _offset(t, "-0700")


_FORMATTERS: dict[str, Callable[[datetime], str]] = {
    "January": lambda t: _MONTHS[t.month - 1],
    "Jan": lambda t: _MONTHS[t.month - 1][:3],
    "Monday": lambda t: _DAYS[t.weekday()],
    "Mon": lambda t: _DAYS[t.weekday()][:3],
    "MST": _zone_name,
    "2006": lambda t: f"{t.year:04d}",
    "_": lambda t: "_",
    "06": lambda t: f"{t.year % 100:02d}",
    "01": lambda t: f"{t.month:02d}",
    "1": lambda t: str(t.month),
    "02": lambda t: f"{t.day:02d}",
    "_2": lambda t: f"{t.day:2d}",
    "2": lambda t: str(t.day),
    "002": lambda t: f"{t.timetuple().tm_yday:03d}",
    "__2": lambda t: f"{t.timetuple().tm_yday:3d}",
    "15": lambda t: f"{t.hour:02d}",
    "03": lambda t: f"{(t.hour % 12) or 12:02d}",
    "3": lambda t: str((t.hour % 12) or 12),
    "04": lambda t: f"{t.minute:02d}",
    "4": lambda t: str(t.minute),
    "05": lambda t: f"{t.second:02d}",
    "5": lambda t: str(t.second),
    "PM": lambda t: "PM" if t.hour >= 12 else "AM",
    "pm": lambda t: "pm" if t.hour >= 12 else "am",
}


def format_go_layout(t: datetime, layout: str) -> str:
    """Go's Time.Format with a reference-time layout ("2006-01-02T15:04:05Z07:00")."""

    def token(m: re.Match[str]) -> str:
        text = m.group(0)
        if text[0] in ".,":
            return _fraction(t, text)
        if text[0] in "Z-":
            return _offset(t, text)
        return _FORMATTERS[text](t)

    return _LAYOUT.sub(token, layout)


_PARSERS: dict[str, tuple[str, str]] = {
    "2006": ("year", r"\d{4}"),
    "06": ("year2", r"\d{2}"),
    "01": ("month", r"\d{2}"),
    "1": ("month", r"\d{1,2}"),
    "January": ("month_name", "|".join(_MONTHS)),
    "Jan": ("month_abbr", "|".join(m[:3] for m in _MONTHS)),
    "Monday": ("", "|".join(_DAYS)),
    "Mon": ("", "|".join(d[:3] for d in _DAYS)),
    "02": ("day", r"\d{2}"),
    "_2": ("day", r" ?\d{1,2}"),
    "2": ("day", r"\d{1,2}"),
    "15": ("hour", r"\d{2}"),
    "03": ("hour12", r"\d{2}"),
    "3": ("hour12", r"\d{1,2}"),
    "04": ("minute", r"\d{2}"),
    "4": ("minute", r"\d{1,2}"),
    "05": ("second", r"\d{2}"),
    "5": ("second", r"\d{1,2}"),
    "PM": ("ampm", "AM|PM"),
    "pm": ("ampm", "am|pm"),
    "MST": ("", r"[A-Z]{3,5}|[+-]\d{4}"),
    "_": ("", "_"),
}


def parse_go_layout(layout: str, text: str) -> datetime:
    """Go's time.ParseInLocation(layout, text, UTC) for the common layout elements."""
    pattern, pos = [], 0
    for groups, m in enumerate(_LAYOUT.finditer(layout)):
        pattern.append(re.escape(layout[pos : m.start()]))
        pos = m.end()
        token = m.group(0)
        if token[0] in ".,":
            key, regex = "fraction", r"[.,]\d+" if token[1] == "9" else rf"[.,]\d{{{len(token) - 1}}}"
            regex = f"(?:{regex})?" if token[1] == "9" else regex
        elif token[0] in "Z-":
            key, regex = "offset", r"Z|[+-]\d{2}(?::?\d{2}(?::?\d{2})?)?"
        else:
            key, regex = _PARSERS.get(token, ("", re.escape(token)))
        pattern.append(f"(?P<g{groups}_{key}>{regex})" if key else f"(?:{regex})")
    pattern.append(re.escape(layout[pos:]))
    m = re.fullmatch("".join(pattern), text)
    if m is None:
        raise FuncError(f"parsing time {go_quote(text)} as {go_quote(layout)}: cannot parse")
    fields = {name.split("_", 1)[1]: value for name, value in m.groupdict().items() if value is not None}
    try:
        return _build_time(fields)
    except ValueError as err:
        raise FuncError(f"parsing time {go_quote(text)}: {err}") from None


def _build_time(fields: dict[str, str]) -> datetime:
    year = int(fields["year"]) if "year" in fields else 0
    if "year2" in fields:
        short = int(fields["year2"])
        year = 1900 + short if short >= 69 else 2000 + short
    month = int(fields.get("month", 1))
    if "month_name" in fields:
        month = _MONTHS.index(fields["month_name"]) + 1
    if "month_abbr" in fields:
        month = [m[:3] for m in _MONTHS].index(fields["month_abbr"]) + 1
    hour = int(fields.get("hour", 0))
    if "hour12" in fields:
        hour = int(fields["hour12"]) % 12 + (12 if fields.get("ampm", "").lower() == "pm" else 0)
    micro = int((fields.get("fraction", ".0")[1:] + "000000")[:6])
    zone: Any = UTC
    if (offset := fields.get("offset", "Z")) != "Z":
        digits = offset[1:].replace(":", "") + "0000"
        delta = timedelta(hours=int(digits[:2]), minutes=int(digits[2:4]), seconds=int(digits[4:6]))
        zone = timezone(-delta if offset[0] == "-" else delta)
    return datetime(
        max(year, 1),
        month,
        int(fields.get("day", "1").strip()),
        hour,
        int(fields.get("minute", 0)),
        int(fields.get("second", 0)),
        micro,
        tzinfo=zone,
    )


def duration_nanos(d: timedelta) -> int:
    """The time.Duration a timedelta stands for: whole nanoseconds (Go's int64 value)."""
    return d // timedelta(microseconds=1) * 1000
