"""Ingest rules for POST /api/v2/alerts: defaults, validation, shape errors."""

from __future__ import annotations

import orjson
import pytest

from app.alerts import Alert, MalformedJSON, SchemaError, parse_postable_alerts

NOW = 1_700_000_000.0


def parse(body, classic: bool = False):
    return parse_postable_alerts(orjson.dumps(body), NOW, 300.0, classic_names=classic)


def test_missing_times_are_filled_from_now_and_resolve_timeout() -> None:
    [a], errors = parse([{"labels": {"alertname": "X"}}])
    assert errors == []
    assert (a.starts_at, a.ends_at, a.timeout, a.updated_at) == (NOW, NOW + 300, True, NOW)


def test_starts_at_defaults_to_ends_at_when_only_ends_at_is_given() -> None:
    [a], _ = parse([{"labels": {"alertname": "X"}, "endsAt": "2023-11-14T22:13:20Z"}])
    assert a.starts_at == a.ends_at == 1_700_000_000.0
    assert a.timeout is False


def test_empty_label_values_are_dropped_and_an_alert_without_labels_is_invalid() -> None:
    alerts, errors = parse([{"labels": {"alertname": "X", "team": ""}}, {"labels": {"only": ""}}])
    assert [a.labels for a in alerts] == [{"alertname": "X"}]
    assert errors == ["alert 1 (1 labels): at least one label pair required"]


def test_end_before_start_is_invalid_and_named() -> None:
    alerts, errors = parse(
        [
            {
                "labels": {"alertname": "Bad"},
                "startsAt": "2024-01-02T00:00:00Z",
                "endsAt": "2024-01-01T00:00:00Z",
            }
        ]
    )
    assert alerts == []
    assert errors == ["alert 0 (alertname=Bad): start time must be before end time"]


def test_label_names_utf8_by_default_and_classic_mode_restricts_them() -> None:
    body = [{"labels": {"alertname": "X", "service.name": "api"}}]
    assert parse(body)[1] == []
    assert parse(body, classic=True)[1] == ['alert 0 (alertname=X): invalid label name "service.name"']


def test_bad_timestamp_is_reported() -> None:
    _, errors = parse([{"labels": {"alertname": "X"}, "startsAt": "yesterday"}])
    assert "invalid timestamp 'yesterday'" in errors[0]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"labels": {}}, "body must be a JSON array of alerts, got object"),
        ([{"annotations": {}}], "alert 0: labels in body is required"),
        ([{"labels": {"a": "b"}}, "x"], "alert 1: alert must be an object, got str"),
        ([{"labels": None}], "alert 0: labels must be an object, got null"),
        ([{"labels": {"a": 1}}], "alert 0: every value in labels must be a string, got int"),
        ([{"labels": {"a": "b"}, "annotations": {"s": []}}], "alert 0: every value in annotations must be"),
        ([{"labels": {"a": "b"}, "startsAt": 5}], "alert 0: startsAt must be a string, got int"),
    ],
)
def test_shape_errors_refuse_the_whole_body(body, message: str) -> None:
    with pytest.raises(SchemaError, match=message):
        parse(body)


def test_a_body_that_is_not_json_is_malformed() -> None:
    with pytest.raises(MalformedJSON):
        parse_postable_alerts(b'[{"labels": ', NOW, 300.0)


def test_unknown_fields_and_null_optionals_are_accepted() -> None:
    body = [{"labels": {"alertname": "X"}, "annotations": None, "startsAt": None, "status": "firing"}]
    [a], errors = parse(body)
    assert errors == []
    assert (a.annotations, a.starts_at) == ({}, NOW)


def test_encode_decode_round_trip() -> None:
    [a], _ = parse(
        [{"labels": {"alertname": "X"}, "annotations": {"s": "a b"}, "generatorURL": "http://p/g"}]
    )
    assert Alert.decode(a.fingerprint, a.encode()) == a


def test_go_zero_time_means_unset_as_amtool_sends_it() -> None:
    zero = "0001-01-01T00:00:00.000Z"
    [a], errors = parse([{"labels": {"alertname": "X"}, "startsAt": zero, "endsAt": zero}])
    assert errors == []
    assert (a.starts_at, a.ends_at, a.timeout) == (NOW, NOW + 300, True)
