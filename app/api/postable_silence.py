"""POST /api/v2/silences: reading a PostableSilence as Alertmanager reads it (0.25's checks, and
the `annotations` of 0.32+).

Alertmanager's generated server answers 400 to a body Go cannot decode into its types (a field of
the wrong JSON type, a time in no layout it knows) and 422 to one that breaks the schema (a
required field missing or null, no matchers); its silence validation then answers 400 (a bad
label name, a regex Go's regexp refuses, matchers that all match the empty string, an end too
late to store). The same refusals here, before anything is written.
"""

from __future__ import annotations

from typing import Any

from app.labels import label_name_error
from app.matchers import Matcher
from app.regex import RegexError
from app.silence import Silence, SilenceError
from app.timeutil import END_OF_TIME, GO_ZERO_EPOCH, parse_rfc3339_checked


class SilenceSchemaError(ValueError):
    """A silence that breaks the API's schema: a required field missing or null, no matchers
    (HTTP 422, as Alertmanager's generated server answers)."""


# The JSON types of a postable silence's fields; null is "not given" for each, as in Go.
_SILENCE_TYPES: dict[str, type] = {
    "id": str,
    "matchers": list,
    "startsAt": str,
    "endsAt": str,
    "createdBy": str,
    "comment": str,
    "annotations": dict,
}
_MATCHER_TYPES: dict[str, type] = {"name": str, "value": str, "isRegex": bool, "isEqual": bool}
# In the order Alertmanager's generated validation reports them.
_REQUIRED = ("comment", "createdBy", "endsAt", "matchers", "startsAt")
_MATCHER_REQUIRED = ("isRegex", "name", "value")
_JSON_TYPES = {str: "a string", list: "an array", bool: "a boolean", dict: "an object"}


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "boolean", int: "number", float: "number", str: "string", list: "array"}.get(
        type(value), "object"
    )


def _type_error(path: str, want: type, value: Any) -> SilenceError:
    got = _json_type(value)
    return SilenceError(f"cannot read the silence: {path} must be {_JSON_TYPES[want]}, got {got}")


def _check_json_types(body: Any) -> None:
    """What Go's JSON decoding refuses (HTTP 400): a body or field of the wrong JSON type."""
    if body is None:
        return
    if not isinstance(body, dict):
        raise _type_error("the body", dict, body)
    for key, want in _SILENCE_TYPES.items():
        value = body.get(key)
        if value is not None and not isinstance(value, want):
            raise _type_error(key, want, value)
    for i, m in enumerate(body.get("matchers") or []):
        if m is not None and not isinstance(m, dict):
            raise _type_error(f"matchers.{i}", dict, m)
        for key, want in _MATCHER_TYPES.items():
            value = (m or {}).get(key)
            if value is not None and not isinstance(value, want):
                raise _type_error(f"matchers.{i}.{key}", want, value)
    for name, value in (body.get("annotations") or {}).items():
        if value is not None and not isinstance(value, str):
            raise _type_error(f"annotations.{name}", str, value)


def _check_required(body: dict[str, Any]) -> None:
    """What the API's schema requires (HTTP 422)."""
    for key in _REQUIRED:
        if body.get(key) is None:
            raise SilenceSchemaError(f"{key} in body is required")
    if not body["matchers"]:
        raise SilenceSchemaError("matchers in body should have at least 1 items")
    for i, m in enumerate(body["matchers"]):
        for key in _MATCHER_REQUIRED:
            if m is None or m.get(key) is None:
                raise SilenceSchemaError(f"matchers.{i}.{key} in body is required")


def _silence_time(body: dict[str, Any], key: str) -> float:
    """A time field; an empty string is Go's zero time, as go-openapi reads it."""
    if body[key] == "":
        return GO_ZERO_EPOCH
    try:
        return parse_rfc3339_checked(body[key])
    except ValueError as err:
        raise SilenceError(f"cannot read the silence: {key}: {err}") from None


def _bad_regex(index: int, pattern: str, problem: str) -> SilenceError:
    return SilenceError(f"invalid label matcher {index}: invalid regular expression {pattern!r}: {problem}")


def matcher_from_api(d: dict[str, Any], index: int, classic_names: bool = False) -> Matcher:
    """One matcher of a silence whose types and required fields were checked, validated as
    Alertmanager validates it (label name by the mode, regex by Go's rules)."""
    problem = label_name_error(d["name"], classic_names)
    if problem:
        raise SilenceError(f"invalid label matcher {index}: {problem}")
    is_regex, is_equal = d["isRegex"], d.get("isEqual")
    is_equal = True if is_equal is None else is_equal
    op = ("=~" if is_equal else "!~") if is_regex else ("=" if is_equal else "!=")
    try:
        return Matcher(d["name"], op, d["value"])
    except RegexError as err:  # RE2's refusals, as Go's regexp words them
        raise _bad_regex(index, d["value"], str(err)) from None


def _annotations(body: dict[str, Any]) -> dict[str, str]:
    """The silence's annotations (Alertmanager 0.32+), whose types were checked. The spec's
    labelSet is any map of strings and Alertmanager validates nothing more: any key, the empty
    one included, and any value; a null value is the empty string, as Go decodes it. An update
    stores the body's annotations, none if it has none, as Alertmanager's does."""
    return {name: value or "" for name, value in (body.get("annotations") or {}).items()}


def silence_from_api(body: Any, retention: float, classic_names: bool = False) -> Silence:
    """Parse a PostableSilence the way Alertmanager does, refusing what it refuses.

    A wrongly typed field or a bad time raises SilenceError (400), a missing field
    SilenceSchemaError (422); then Alertmanager's validation of the matchers (400). `retention`
    is --data.retention: Alertmanager keeps a silence that long after it ends and cannot store
    one whose end plus retention falls after year 9999, so such a silence is refused here too.
    """
    _check_json_types(body)
    if body is None:
        body = {}
    _check_required(body)
    starts, ends = _silence_time(body, "startsAt"), _silence_time(body, "endsAt")
    matchers = tuple(matcher_from_api(m, i, classic_names) for i, m in enumerate(body["matchers"]))
    if all(m.matches("") for m in matchers):
        raise SilenceError("at least one matcher must not match the empty string")
    if ends + retention >= END_OF_TIME:
        raise SilenceError(
            f"endsAt {body['endsAt']} is too late: a silence is kept --data.retention "
            f"({retention:g}s) after it ends, and that must fall before 10000-01-01T00:00:00Z; "
            "choose an earlier endsAt"
        )
    return Silence(
        id=body.get("id") or "",
        matchers=matchers,
        starts_at=starts,
        ends_at=ends,
        updated_at=0.0,
        created_by=body["createdBy"],
        comment=body["comment"],
        annotations=_annotations(body),
    )
