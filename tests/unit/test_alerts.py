"""Ingest rules for POST /api/v2/alerts: defaults, validation, shape errors."""

from __future__ import annotations

import orjson
import pytest

from app.alerts import Alert, SchemaError, UnreadableBody, parse_postable_alerts

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


def test_a_bad_timestamp_refuses_the_whole_body_as_alertmanager_fails_to_parse_it() -> None:
    body = [{"labels": {"alertname": "Good"}}, {"labels": {"alertname": "X"}, "startsAt": "yesterday"}]
    with pytest.raises(UnreadableBody, match="alert 1: invalid timestamp 'yesterday'"):
        parse(body)


@pytest.mark.parametrize(
    "text",
    [
        "2020-01-01",
        "2020-01-01t00:00:00Z",
        " 2020-01-01T00:00:00Z",
        "2020-02-30T00:00:00Z",
        "0000-01-01T00:00:00Z",
    ],
)
def test_times_alertmanager_cannot_parse_are_refused(text: str) -> None:
    with pytest.raises(UnreadableBody, match="invalid timestamp"):
        parse([{"labels": {"alertname": "X"}, "startsAt": text}])


def test_a_time_past_year_9999_in_utc_is_refused_as_out_of_range() -> None:
    with pytest.raises(
        UnreadableBody, match="out of range: alerter keeps times from 0001-01-01 to 9999-12-31"
    ):
        parse([{"labels": {"alertname": "X"}, "endsAt": "9999-12-31T23:59:59-01:00"}])


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"labels": {}}, "body must be a JSON array of alerts, got object"),
        ([{"labels": {"a": "b"}}, "x"], "alert 1: alert must be an object, got str"),
        ([{"labels": {"a": 1}}], "alert 0: every value in labels must be a string, got int"),
        ([{"labels": {"a": "b"}, "annotations": {"s": []}}], "alert 0: every value in annotations must be"),
        ([{"labels": {"a": "b"}, "startsAt": 5}], "alert 0: startsAt must be a string, got int"),
        ([{"labels": {"a": "b"}, "generatorURL": 5}], "alert 0: generatorURL must be a string, got int"),
    ],
)
def test_wrongly_typed_json_refuses_the_whole_body_with_400(body, message: str) -> None:
    """Alertmanager's generated server answers 400 when it cannot unmarshal the body into its types."""
    with pytest.raises(UnreadableBody, match=message):
        parse(body)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([{"annotations": {}}], "alert 0: labels in body is required"),
        ([{"labels": {"a": "b"}}, {"labels": None}], "alert 1: labels in body is required"),
        (
            [{"labels": {"a": "b"}, "generatorURL": "not a uri"}],
            "alert 0: generatorURL in body must be of type uri: 'not a uri'",
        ),
        (
            [{"labels": {"a": "b"}, "generatorURL": "http://host:port/"}],
            "generatorURL in body must be of type uri: 'http://host:port/' \\(invalid port",
        ),
        (  # the valid URL of the first alerts is not checked again; another one is
            [{"labels": {"a": "b"}, "generatorURL": "http://p/g"}] * 2
            + [{"labels": {"a": "c"}, "generatorURL": "not a uri"}],
            "alert 2: generatorURL in body must be of type uri: 'not a uri'",
        ),
        (
            [{"labels": {"a": "b"}, "generatorURL": "http://p/g"}, {"generatorURL": "http://p/g"}],
            "alert 1: labels in body is required",
        ),
    ],
)
def test_schema_errors_refuse_the_whole_body_with_422(body, message: str) -> None:
    with pytest.raises(SchemaError, match=message):
        parse(body)


def test_a_type_error_later_in_the_body_wins_over_a_schema_error_as_in_alertmanager() -> None:
    with pytest.raises(UnreadableBody, match="alert 1: invalid timestamp"):
        parse([{"annotations": {}}, {"labels": {"a": "b"}, "startsAt": "x"}])


def test_a_body_that_is_not_json_is_malformed() -> None:
    with pytest.raises(UnreadableBody, match="malformed JSON in request body"):
        parse_postable_alerts(b'[{"labels": ', NOW, 300.0)


def test_null_body_is_no_alerts_and_null_values_are_empty_strings_as_in_go() -> None:
    assert parse_postable_alerts(b"null", NOW, 300.0) == ([], [])
    [a], errors = parse([{"labels": {"alertname": "X", "gone": None}, "annotations": {"s": None}}])
    assert errors == []
    assert (a.labels, a.annotations) == ({"alertname": "X"}, {"s": ""})
    assert parse([{"labels": {"only": None}}])[1] == ["alert 0 (1 labels): at least one label pair required"]


def test_empty_generator_url_is_accepted_and_left_out_of_the_api_shape() -> None:
    [a], _ = parse([{"labels": {"alertname": "X"}, "generatorURL": ""}])
    assert "generatorURL" not in a.api_fields()
    [b], _ = parse([{"labels": {"alertname": "X"}, "generatorURL": "/graph?g0.expr=up"}])
    assert b.api_fields()["generatorURL"] == "/graph?g0.expr=up"


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
    # A split alert's times, a space and its body are its whole value (P:alert-times).
    assert a.encode_times() + b" " + a.encode_body() == a.encode()
    assert a.encode_times() == f"{a.starts_at!r} {a.ends_at!r} {a.updated_at!r} 1".encode()


def test_go_zero_time_means_unset_as_amtool_sends_it() -> None:
    zero = "0001-01-01T00:00:00.000Z"
    [a], errors = parse([{"labels": {"alertname": "X"}, "startsAt": zero, "endsAt": zero}])
    assert errors == []
    assert (a.starts_at, a.ends_at, a.timeout) == (NOW, NOW + 300, True)
