"""Durations written the way Alertmanager's config writes them.

Two syntaxes exist in alertmanager.yml and they are not interchangeable:

* Prometheus durations (`model.Duration`): `group_wait`, `resolve_timeout`, ... Integer amounts
  with the units y, w, d, h, m, s, ms, biggest unit first, each unit at most once (`1h30m`,
  `90s`, `1d`, `0`). No fractions, no sign, no spaces.
* Go durations (`time.Duration`): a few newer fields such as a webhook's `timeout`. Fractions and a
  sign are allowed (`1.5s`, `-2m`), units go from ns to h, and there is no d/w/y.

Both are held as float seconds inside alerter; the formatters give the canonical text
Alertmanager prints when it writes a config back (`GET /api/v2/status`). `format_go_duration_ns`
is Go's Duration.String() itself, also what a template prints for a time.Duration. A leaf: it
imports nothing from alerter but `app.gostrings`.
"""

from __future__ import annotations

from app.gostrings import go_quote

# Prometheus units: (position, milliseconds). A unit must come after every unit already seen.
_PROM_UNITS = {
    "y": (1, 365 * 86_400_000),
    "w": (2, 7 * 86_400_000),
    "d": (3, 86_400_000),
    "h": (4, 3_600_000),
    "m": (5, 60_000),
    "s": (6, 1_000),
    "ms": (7, 1),
}
_NS_PER_MS = 1_000_000
_MAX_NS = (1 << 63) - 1  # Go's time.Duration is an int64 of nanoseconds

_GO_UNITS_NS = {
    "ns": 1,
    "us": 1_000,
    "\u00b5s": 1_000,  # micro sign
    "\u03bcs": 1_000,  # Greek mu
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}
# Command-line flags: kingpin (Alertmanager 0.27+) parses durations with go-str2duration, Go's
# syntax plus days and weeks (`1.5h`, `2d`, `1w`); Alertmanager 0.25 took Go's syntax alone.
_FLAG_UNITS_NS = {**_GO_UNITS_NS, "d": 86_400_000_000_000, "w": 7 * 86_400_000_000_000}


def _split_digits(text: str) -> tuple[str, str]:
    """Split leading ASCII digits off `text` (Go's isdigit is ASCII only, unlike str.isdigit)."""
    end = 0
    while end < len(text) and "0" <= text[end] <= "9":
        end += 1
    return text[:end], text[end:]


def _split_unit(text: str) -> tuple[str, str]:
    """Split the unit off `text`: everything up to the next ASCII digit."""
    end = 0
    while end < len(text) and not "0" <= text[end] <= "9":
        end += 1
    return text[:end], text[end:]


def parse_duration(text: str) -> float:
    """Parse a Prometheus duration (`1h30m`, `90s`, `0`) into seconds.

    Raises ValueError with Prometheus's own wording, so `check-config` reports the same message as
    amtool: `not a valid duration string: "1.5h"`, `empty duration string`, ...
    """
    if text == "0":
        return 0.0
    if text == "":
        raise ValueError("empty duration string")
    invalid = ValueError(f"not a valid duration string: {go_quote(text)}")
    rest, total_ns, last_pos = text, 0, 0
    while rest:
        digits, rest = _split_digits(rest)
        if not digits or int(digits) >= 1 << 64:
            raise invalid
        unit, rest = _split_unit(rest)
        if not unit:
            raise invalid
        if unit not in _PROM_UNITS:
            raise ValueError(f"unknown unit {go_quote(unit)} in duration {go_quote(text)}")
        pos, unit_ms = _PROM_UNITS[unit]
        if pos <= last_pos:
            raise invalid
        last_pos = pos
        unit_ns = unit_ms * _NS_PER_MS
        if int(digits) > (1 << 63) // unit_ns:
            raise ValueError("duration out of range")
        total_ns += int(digits) * unit_ns
        if total_ns > _MAX_NS:
            raise ValueError("duration out of range")
    return total_ns / 1e9


def format_duration(seconds: float) -> str:
    """Render seconds as Prometheus does: `5m`, `4h`, `1h30m`, `0s`, `90d` (not `12w6d`).

    Years and weeks are used only when they divide the duration exactly.
    """
    ms = round(seconds * 1000)
    if ms == 0:
        return "0s"
    sign = "-" if ms < 0 else ""
    ms = abs(ms)
    out = []
    for unit, exact in (("y", True), ("w", True), ("d", False), ("h", False), ("m", False), ("s", False)):
        size = _PROM_UNITS[unit][1]
        if exact and ms % size:
            continue
        if ms >= size:
            out.append(f"{ms // size}{unit}")
            ms %= size
    if ms:
        out.append(f"{ms}ms")
    return sign + "".join(out)


def _parse_go_component(rest: str, text: str, units: dict[str, int]) -> tuple[int, str]:
    """Parse one `<number><unit>` of a Go duration; return (nanoseconds, remaining text)."""
    whole, rest = _split_digits(rest)
    frac = ""
    if rest.startswith("."):
        frac, rest = _split_digits(rest[1:])
    if not whole and not frac:
        raise ValueError(f"time: invalid duration {go_quote(text)}")
    end = 0
    while end < len(rest) and rest[end] != "." and not "0" <= rest[end] <= "9":
        end += 1
    unit, rest = rest[:end], rest[end:]
    if not unit:
        raise ValueError(f"time: missing unit in duration {go_quote(text)}")
    if unit not in units:
        raise ValueError(f"time: unknown unit {go_quote(unit)} in duration {go_quote(text)}")
    scale = units[unit]
    nanos = int(whole or "0") * scale
    if frac:
        nanos += int(frac) * scale // 10 ** len(frac)
    if nanos > 1 << 63:
        raise ValueError(f"time: invalid duration {go_quote(text)}")
    return nanos, rest


def parse_go_duration(text: str, units: dict[str, int] = _GO_UNITS_NS) -> float:
    """Parse a Go `time.Duration` (`10s`, `1.5h`, `-2m`, `300ms`) into seconds.

    Used for the few fields Alertmanager types as time.Duration (webhook `timeout`), which accept
    fractions but not Prometheus's d/w/y units; `units` widens the set for flags.
    """
    rest, negative = text, False
    if rest[:1] in ("-", "+"):
        negative, rest = rest[0] == "-", rest[1:]
    if rest == "0":
        return 0.0
    if not rest:
        raise ValueError(f"time: invalid duration {go_quote(text)}")
    total = 0
    while rest:
        if not (rest[0] == "." or "0" <= rest[0] <= "9"):
            raise ValueError(f"time: invalid duration {go_quote(text)}")
        nanos, rest = _parse_go_component(rest, text, units)
        total += nanos
    if total > (1 << 63) - (0 if negative else 1):
        raise ValueError(f"time: invalid duration {go_quote(text)}")
    return (-total if negative else total) / 1e9


def parse_flag_duration(text: str) -> float:
    """Parse a duration flag (`--web.timeout=1.5s`, `--data.retention=5d`) into seconds, as
    Alertmanager's flag parser does: Go's syntax with `d` and `w`, a sign allowed."""
    return parse_go_duration(text, _FLAG_UNITS_NS)


def _frac(value: int, digits: int) -> tuple[str, int]:
    """Go's fmtFrac: the `digits` low decimal digits of value as `.ddd` (trailing zeros dropped)."""
    scale = 10**digits
    fraction = f"{value % scale:0{digits}d}".rstrip("0")
    return (f".{fraction}" if fraction else ""), value // scale


def format_go_duration(seconds: float) -> str:
    """Render seconds as Go's Duration.String(): `0s`, `500ms`, `1.5s`, `1m30s`, `1h0m0s`."""
    return format_go_duration_ns(round(seconds * 1e9))


def format_go_duration_ns(nanos: int) -> str:
    """Go's Duration.String() of a whole number of nanoseconds (a time.Duration's own value).

    The one Go duration formatter: config write-back through format_go_duration, templates
    printing a time.Duration (a timedelta) with the exact nanoseconds it holds.
    """
    if nanos == 0:
        return "0s"
    sign = "-" if nanos < 0 else ""
    nanos = abs(nanos)
    if nanos < 1_000:
        return f"{sign}{nanos}ns"
    if nanos < 1_000_000_000:
        unit, digits = ("\u00b5s", 3) if nanos < 1_000_000 else ("ms", 6)
        fraction, whole = _frac(nanos, digits)
        return f"{sign}{whole}{fraction}{unit}"
    fraction, secs = _frac(nanos, 9)
    text = f"{secs % 60}{fraction}s"
    minutes = secs // 60
    if minutes:
        text = f"{minutes % 60}m{text}"
        if minutes // 60:
            text = f"{minutes // 60}h{text}"
    return sign + text
