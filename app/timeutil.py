"""Timestamps as Alertmanager's API writes and reads them: RFC 3339 text (millisecond precision
when written) to and from epoch seconds, the form alerter keeps times in; and Go's zero time.

Not to be confused with `app.gotemplate.gotime`, which formats and parses datetimes with Go's
reference-time layouts for templates. A leaf: it imports nothing from alerter.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import lru_cache

# Go's zero time.Time (0001-01-01T00:00:00Z): what Go clients (amtool) send for "not set", the
# `.EndsAt` of a firing alert in template data and the `endsAt` of one in a webhook payload.
GO_ZERO_TIME = datetime(1, 1, 1, tzinfo=UTC)
GO_ZERO_EPOCH = GO_ZERO_TIME.timestamp()
GO_ZERO_JSON = GO_ZERO_TIME.isoformat().replace("+00:00", "Z")  # as encoding/json writes it

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NAIVE_EPOCH = datetime(1970, 1, 1)

# Go's zero time is also the first time alerter keeps: with the end, 10000-01-01T00:00:00Z (not
# included), the range that RFC 3339's four-digit years can write.
END_OF_TIME = 253402300800.0

# What Alertmanager's API takes as a time: the layouts go-openapi's strfmt tries, as Go's
# time.Parse reads them. RFC 3339 with any fraction (`.` or `,`); a fraction of exactly 3 or 6
# digits also with a `+hhmm` offset; without an offset (then UTC): `T15:04:05[.fff]`, `T15:04`,
# `T15:04Z` and `2006-01-02 15:04:05[.fff]`. Go reads a one-digit hour and does not range-check
# the offset, so neither does this. Anything else is a 400, as in Alertmanager.
_DATE = r"(?P<y>\d{4})-(?P<mo>\d{2})-(?P<d>\d{2})"
_HMS = r"(?P<h>\d{1,2}):(?P<mi>\d{2}):(?P<s>\d{2})"
_FRACTION = r"(?:[.,](?P<f>\d+))?"
_LAYOUTS = [
    re.compile(p)
    for p in (
        rf"{_DATE}T{_HMS}{_FRACTION}(?:Z|(?P<sign>[+-])(?P<oh>\d{{2}}):(?P<om>\d{{2}}))",
        rf"{_DATE}T{_HMS}[.,](?P<f>\d{{3}}|\d{{6}})(?:Z|(?P<sign>[+-])(?P<oh>\d{{2}})(?P<om>\d{{2}}))",
        rf"{_DATE}[T ]{_HMS}{_FRACTION}",
        rf"{_DATE}T(?P<h>\d{{1,2}}):(?P<mi>\d{{2}})Z?",
    )
]


@lru_cache(maxsize=65536)
def format_rfc3339(ts: float) -> str:
    """Format epoch seconds as RFC 3339 in UTC with milliseconds, like Alertmanager's API.

    The year always has four digits (`0118-08-31T...`): RFC 3339 has no other form, and a
    strftime `%Y` drops the leading zeros. Cached: listing 100,000 alerts formats 300,000 times,
    most of them shared by whole batches.
    """
    # Milliseconds from the float's shortest decimal form: at year 9999 a float is 30 us coarse,
    # and .999 read back as .99899 would print .998.
    ms = math.floor(Decimal(repr(ts)) * 1000)
    dt = _EPOCH + timedelta(milliseconds=ms)
    return (
        f"{dt.year:04d}-{dt.month:02d}-{dt.day:02d}T{dt.hour:02d}:{dt.minute:02d}:{dt.second:02d}."
        f"{ms % 1000:03d}Z"
    )


def parse_rfc3339_checked(text: str) -> float:
    """Parse an RFC 3339 timestamp (any precision, Z or offset) into epoch seconds, for a value
    read from a request that may not be a string at all.

    Raises ValueError naming the text when it is not such a timestamp.
    """
    if not isinstance(text, str) or not text:
        raise ValueError(f"invalid timestamp {text!r}: want RFC 3339 such as 2024-01-02T15:04:05Z")
    return parse_rfc3339(text)


@lru_cache(maxsize=4096)
def parse_rfc3339(text: str) -> float:
    """parse_rfc3339_checked for a caller that already knows it has a non-empty str (ingest, whose body
    msgspec has type-checked). Cached: Prometheus re-sends each alert's startsAt every evaluation and
    gives a whole batch the same endsAt, and parsing was a third of validating an alert."""
    for layout in _LAYOUTS:
        m = layout.fullmatch(text)
        if m is not None:
            break
    else:
        raise ValueError(f"invalid timestamp {text!r}: want RFC 3339 such as 2024-01-02T15:04:05Z")
    g = m.groupdict()
    try:
        dt = datetime(int(g["y"]), int(g["mo"]), int(g["d"]), int(g["h"]), int(g["mi"]), int(g.get("s") or 0))
    except ValueError as err:  # month 13, February 30th, hour 24, second 60, year 0000
        raise ValueError(f"invalid timestamp {text!r}: {err}") from None
    ts = (dt - _NAIVE_EPOCH).total_seconds() + int((g.get("f") or "0")[:9].ljust(9, "0")) / 1e9
    if g.get("sign"):
        offset = int(g["oh"]) * 3600 + int(g["om"]) * 60
        ts += -offset if g["sign"] == "+" else offset
    if not GO_ZERO_EPOCH <= ts < END_OF_TIME:
        raise ValueError(
            f"timestamp {text!r} is out of range: alerter keeps times from 0001-01-01 to 9999-12-31 UTC"
        )
    return ts
