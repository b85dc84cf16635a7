"""Prometheus and Go duration syntax: what parses, what is refused and how it is printed back."""

from __future__ import annotations

import pytest

from app.durations import format_duration, format_go_duration, parse_duration, parse_go_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("0", 0.0),
        ("0s", 0.0),
        ("90s", 90.0),
        ("5m", 300.0),
        ("1h30m", 5400.0),
        ("1d", 86400.0),
        ("1d1h", 90000.0),
        ("1w", 604800.0),
        ("1y", 31536000.0),
        ("500ms", 0.5),
        ("1m500ms", 60.5),
        ("01m", 60.0),
        ("100y", 3153600000.0),
    ],
)
def test_prometheus_durations_parse_to_seconds(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty duration string"),
        ("-1s", 'not a valid duration string: "-1s"'),
        ("30m1h", 'not a valid duration string: "30m1h"'),
        ("1m1m", 'not a valid duration string: "1m1m"'),
        (" 1m", 'not a valid duration string: " 1m"'),
        ("h", 'not a valid duration string: "h"'),
        ("30", 'not a valid duration string: "30"'),
        ("1.5h", 'unknown unit "." in duration "1.5h"'),
        ("5x", 'unknown unit "x" in duration "5x"'),
        ("1M", 'unknown unit "M" in duration "1M"'),
        ("1h 30m", 'unknown unit "h " in duration "1h 30m"'),
        ("300y", "duration out of range"),
    ],
)
def test_prometheus_refuses_what_alertmanager_refuses(text: str, message: str) -> None:
    with pytest.raises(ValueError) as err:
        parse_duration(text)
    assert str(err.value) == message


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (300, "5m"),
        (14400, "4h"),
        (5400, "1h30m"),
        (90, "1m30s"),
        (0.5, "500ms"),
        (86400 * 90, "90d"),  # not 12w6d: weeks only when exact
        (86400 * 14, "2w"),
        (86400 * 365, "1y"),
        (86400 + 1.25, "1d1s250ms"),
    ],
)
def test_prometheus_canonical_form(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("10s", 10.0),
        ("1.5s", 1.5),
        ("-2m", -120.0),
        ("300ms", 0.3),
        ("1h2m3s", 3723.0),
        ("0", 0.0),
        ("2us", 2e-6),
    ],
)
def test_go_durations_allow_fractions_and_sign(text: str, seconds: float) -> None:
    assert parse_go_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", 'time: invalid duration ""'),
        ("1", 'time: missing unit in duration "1"'),
        ("1d", 'time: unknown unit "d" in duration "1d"'),
        (".s", 'time: invalid duration ".s"'),
    ],
)
def test_go_durations_refuse_prometheus_units_and_junk(text: str, message: str) -> None:
    with pytest.raises(ValueError) as err:
        parse_go_duration(text)
    assert str(err.value) == message


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (10, "10s"), (1.5, "1.5s"), (90, "1m30s"), (3600, "1h0m0s"), (0.25, "250ms"), (2e-6, "2µs")],
)
def test_go_duration_string(seconds: float, text: str) -> None:
    assert format_go_duration(seconds) == text
