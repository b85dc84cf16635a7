"""Timestamps as Alertmanager's API writes and reads them: RFC 3339 text (millisecond precision
when written) to and from epoch seconds, the form alerter keeps times in; and Go's zero time.

Not to be confused with `app.gotemplate.gotime`, which formats and parses datetimes with Go's
reference-time layouts for templates. A leaf: it imports nothing from alerter.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache

# Go's zero time.Time (0001-01-01T00:00:00Z): what Go clients (amtool) send for "not set", the
# `.EndsAt` of a firing alert in template data and the `endsAt` of one in a webhook payload.
GO_ZERO_TIME = datetime(1, 1, 1, tzinfo=UTC)
GO_ZERO_EPOCH = GO_ZERO_TIME.timestamp()
GO_ZERO_JSON = GO_ZERO_TIME.isoformat().replace("+00:00", "Z")  # as encoding/json writes it


@lru_cache(maxsize=65536)
def format_rfc3339(ts: float) -> str:
    """Format epoch seconds as RFC 3339 in UTC with milliseconds, like Alertmanager's API.

    Cached: listing 100,000 alerts formats 300,000 times, most of them shared by whole batches.
    """
    dt = datetime.fromtimestamp(ts, UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def parse_rfc3339_checked(text: str) -> float:
    """Parse an RFC 3339 timestamp (any precision, Z or offset) into epoch seconds, for a value
    read from a request that may not be a string at all.

    Raises ValueError naming the text when it is not a timestamp.
    """
    if not isinstance(text, str) or not text:
        raise ValueError(f"invalid timestamp {text!r}")
    return parse_rfc3339(text)


@lru_cache(maxsize=4096)
def parse_rfc3339(text: str) -> float:
    """parse_rfc3339_checked for a caller that already knows it has a non-empty str (ingest, whose
    body msgspec has type-checked). Cached: Prometheus re-sends each alert's startsAt every
    evaluation and gives a whole batch the same endsAt, and parsing was a third of validating an alert."""
    s = text.strip()
    if s[-1] in "zZ":
        s = s[:-1] + "+00:00"
    # Python's parser takes at most 6 fractional digits; Go writes up to 9.
    if "." in s:
        head, _, rest = s.partition(".")
        digits = ""
        while rest and rest[0].isdigit():
            digits, rest = digits + rest[0], rest[1:]
        s = f"{head}.{(digits + '000000')[:6]}{rest}"
    try:
        dt = datetime.fromisoformat(s)
    except ValueError:
        raise ValueError(f"invalid timestamp {text!r}: want RFC 3339 such as 2024-01-02T15:04:05Z") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()
