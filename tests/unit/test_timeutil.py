"""API timestamps: the layouts Alertmanager's API reads, and RFC 3339 with four-digit years out."""

from __future__ import annotations

import re

import pytest

from app.timeutil import END_OF_TIME, GO_ZERO_EPOCH, format_rfc3339, parse_rfc3339_checked


@pytest.mark.parametrize(
    ("text", "utc"),
    [
        ("2026-01-01T10:00:00Z", "2026-01-01T10:00:00.000Z"),
        ("2026-01-01T10:00:00.123456789Z", "2026-01-01T10:00:00.123Z"),
        ("2026-01-01T10:00:00,5+01:00", "2026-01-01T09:00:00.500Z"),
        ("2026-01-01T10:00:00.123+0100", "2026-01-01T09:00:00.123Z"),  # strfmt's .000Z0700
        ("2026-01-01T10:00:00", "2026-01-01T10:00:00.000Z"),  # no offset: UTC
        ("2026-01-01 10:00:00.25", "2026-01-01T10:00:00.250Z"),
        ("2026-01-01T10:00Z", "2026-01-01T10:00:00.000Z"),
        ("2026-01-01T10:00", "2026-01-01T10:00:00.000Z"),
        ("2026-01-01T1:00:00Z", "2026-01-01T01:00:00.000Z"),  # Go reads a one-digit hour
        ("2026-01-01T00:00:00+25:00", "2025-12-30T23:00:00.000Z"),  # and does not range-check offsets
        ("0118-08-31T01:02:03.456Z", "0118-08-31T01:02:03.456Z"),
        ("0001-01-01T00:00:00Z", "0001-01-01T00:00:00.000Z"),
        ("9999-12-31T23:59:59.999Z", "9999-12-31T23:59:59.999Z"),
    ],
)
def test_layouts_alertmanager_reads_and_rfc3339_written_back(text: str, utc: str) -> None:
    assert format_rfc3339(parse_rfc3339_checked(text)) == utc


@pytest.mark.parametrize(
    "text",
    [
        "2020-01-01",
        "2026-01-01t00:00:00Z",
        "2026-01-01T00:00:00z",
        " 2026-01-01T00:00:00Z",
        "2026-01-01T00:00:00.Z",
        "2026-01-01T10:00:00.1234+0100",
        "2026-02-30T00:00:00Z",
        "2026-01-01T24:00:00Z",
        "2026-01-01T23:59:60Z",
        "0000-01-01T00:00:00Z",
        "",
    ],
)
def test_what_alertmanager_cannot_parse_is_refused_naming_the_text(text: str) -> None:
    with pytest.raises(ValueError, match=re.escape(f"invalid timestamp {text!r}")):
        parse_rfc3339_checked(text)


@pytest.mark.parametrize("text", ["9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+01:00"])
def test_times_outside_years_1_to_9999_in_utc_are_refused(text: str) -> None:
    with pytest.raises(
        ValueError, match="out of range: alerter keeps times from 0001-01-01 to 9999-12-31 UTC"
    ):
        parse_rfc3339_checked(text)


def test_the_range_ends_are_go_zero_time_and_year_10000() -> None:
    assert format_rfc3339(GO_ZERO_EPOCH) == "0001-01-01T00:00:00.000Z"
    assert format_rfc3339(END_OF_TIME - 0.001) == "9999-12-31T23:59:59.999Z"
