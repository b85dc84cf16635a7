"""POST /api/v2/silences bodies: what Alertmanager 0.25 refuses, and with which status, is refused here.

Every refusal below was checked against Alertmanager 0.25's answer to the same body.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from app.api.postable_silence import SilenceSchemaError, silence_from_api
from app.silence import SilenceError
from app.timeutil import END_OF_TIME, GO_ZERO_EPOCH

RETENTION = 120 * 3600.0  # Alertmanager's default --data.retention


def body(**changes: Any) -> dict[str, Any]:
    base = {
        "matchers": [{"name": "alertname", "value": "DiskFull", "isRegex": False, "isEqual": True}],
        "startsAt": "2030-01-01T00:00:00Z",
        "endsAt": "2030-01-02T00:00:00Z",
        "createdBy": "ops",
        "comment": "maintenance",
    }
    return {**base, **changes}


def matcher(**changes: Any) -> list[dict[str, Any]]:
    return [{"name": "a", "value": "b", "isRegex": False, **changes}]


def test_a_valid_silence_is_read_with_isequal_defaulting_to_true() -> None:
    sil = silence_from_api(body(matchers=matcher(isRegex=True, value="b.*")), RETENTION)
    assert [str(m) for m in sil.matchers] == ['a=~"b.*"']
    assert (sil.created_by, sil.comment, sil.id) == ("ops", "maintenance", "")


@pytest.mark.parametrize(
    ("silence", "message"),
    [
        ([], "the body must be an object, got array"),
        ("s", "the body must be an object, got string"),
        (body(matchers=matcher(isRegex="yes")), "matchers.0.isRegex must be a boolean, got string"),
        (body(matchers=matcher(isEqual="no")), "matchers.0.isEqual must be a boolean, got string"),
        (body(matchers=matcher(name=1)), "matchers.0.name must be a string, got number"),
        (body(matchers=["a=b"]), "matchers.0 must be an object, got string"),
        (body(matchers={"a": "b"}), "matchers must be an array, got object"),
        (body(createdBy=5), "createdBy must be a string, got number"),
        (body(id=5), "id must be a string, got number"),
        (body(startsAt="2026-01-01"), "startsAt: invalid timestamp '2026-01-01'"),
        (body(endsAt="tomorrow"), "endsAt: invalid timestamp 'tomorrow'"),
    ],
)
def test_what_go_cannot_decode_is_a_400(silence: Any, message: str) -> None:
    with pytest.raises(SilenceError, match=f"cannot read the silence: {message}"):
        silence_from_api(silence, RETENTION)


@pytest.mark.parametrize(
    ("silence", "message"),
    [
        (None, "comment in body is required"),
        ({}, "comment in body is required"),
        (body(createdBy=None), "createdBy in body is required"),
        (body(matchers=None), "matchers in body is required"),
        (body(matchers=[]), "matchers in body should have at least 1 items"),
        (body(matchers=[{"name": "a", "value": "b"}]), "matchers.0.isRegex in body is required"),
        (body(matchers=matcher(isRegex=None)), "matchers.0.isRegex in body is required"),
        (body(matchers=[None]), "matchers.0.isRegex in body is required"),
    ],
)
def test_what_breaks_the_schema_is_a_422(silence: Any, message: str) -> None:
    with pytest.raises(SilenceSchemaError, match=message):
        silence_from_api(silence, RETENTION)


@pytest.mark.parametrize(
    ("matchers", "message"),
    [
        (matcher(isRegex=True, value=".*"), "at least one matcher must not match the empty string"),
        (matcher(value=""), "at least one matcher must not match the empty string"),
        (matcher(isRegex=True, value="("), "invalid label matcher 0: invalid regular expression '('"),
        (
            matcher(isRegex=True, value="((a{1000}){1000}){1000}"),
            "invalid regular expression '((a{1000}){1000}){1000}': "
            "error parsing regexp: invalid repeat count",
        ),
        (matcher(isRegex=True, value="a{1001}"), "invalid repeat count: `{1001}`"),
        (matcher(name=""), "invalid label matcher 0: empty label name"),
    ],
)
def test_alertmanagers_matcher_validation_is_a_400(matchers: list[dict[str, Any]], message: str) -> None:
    with pytest.raises(SilenceError, match=re.escape(message)):
        silence_from_api(body(matchers=matchers), RETENTION)


def test_label_names_follow_the_mode_as_for_alerts() -> None:
    """Alertmanager 0.25 (classic names) refuses a NUL in a label name; 0.28+ takes any UTF-8 name."""
    nul = body(matchers=matcher(name="a\x00b"))
    assert silence_from_api(nul, RETENTION).matchers[0].name == "a\x00b"
    with pytest.raises(SilenceError, match='invalid label matcher 0: invalid label name "a\x00b"'):
        silence_from_api(nul, RETENTION, classic_names=True)


def test_an_end_whose_retention_runs_past_year_9999_is_refused_as_alertmanager_cannot_store_it() -> None:
    """Alertmanager stores a silence until endsAt + --data.retention, a protobuf timestamp that
    must fall before 10000-01-01: with 120h, 9999-12-26T23:59:59Z is its last accepted end."""
    assert (
        silence_from_api(body(endsAt="9999-12-26T23:59:59Z"), RETENTION).ends_at
        == END_OF_TIME - RETENTION - 1
    )
    for late in ("9999-12-27T00:00:00Z", "9999-12-31T00:00:00Z"):
        with pytest.raises(SilenceError, match=f"endsAt {late} is too late: .* choose an earlier endsAt"):
            silence_from_api(body(endsAt=late), RETENTION)


def test_an_empty_start_is_go_zero_time_as_go_openapi_reads_it() -> None:
    assert silence_from_api(body(startsAt=""), RETENTION).starts_at == GO_ZERO_EPOCH
