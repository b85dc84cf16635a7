"""The alert model: what `POST /api/v2/alerts` accepts, and how an alert is kept in Redis.

Alertmanager's ingest rules live here (defaults for startsAt/endsAt, validation, empty label
values dropped). The merge of two versions of one alert runs inside Redis (see app/store.py) so
that concurrent posts from several web processes stay atomic.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

import msgspec
import orjson

from app.labels import fingerprint, label_name_error
from app.requesturi import request_uri_error
from app.timeutil import GO_ZERO_EPOCH, format_rfc3339, parse_rfc3339


class Alert(msgspec.Struct):
    """One alert. Times are epoch seconds; `timeout` marks an endsAt filled from resolve_timeout.

    A msgspec Struct, built in C: ingest builds one per posted alert, and a flush or a listing one
    per stored alert. As a slotted dataclass its Python __init__ cost about 3,300 instructions a
    build against 1,650 (callgrind), 2.7 % of an ingest request's instructions in the web tier.
    """

    labels: dict[str, str]
    annotations: dict[str, str] = msgspec.field(default_factory=dict)
    starts_at: float = 0.0
    ends_at: float = 0.0
    generator_url: str = ""
    updated_at: float = 0.0
    timeout: bool = False
    fingerprint: str = ""

    def resolved(self, now: float) -> bool:
        """Alertmanager's rule: resolved once endsAt is not after now."""
        return self.ends_at <= now

    def encode(self) -> bytes:
        """The stored form: `startsAt endsAt updatedAt timeout {json body}`.

        The times sit in front of the JSON so that the merge script in Redis can read them with
        one pattern match and never re-encode the body. Bytes, as they go to Redis: decoding
        orjson's output to a str and joining str lines cost a fifth of building a batch. The
        body is encode_body()'s, written out here: a call per stored alert costs more.
        """
        body = orjson.dumps({"l": self.labels, "a": self.annotations, "g": self.generator_url})
        return _times_text(self.starts_at, self.ends_at, self.updated_at, self.timeout) + body

    def encode_times(self) -> bytes:
        """The stored form's times without the space that follows them, as P:alert-times holds
        a split alert's (app/redis_keys.py)."""
        return _times_text(self.starts_at, self.ends_at, self.updated_at, self.timeout)[:-1]

    def encode_body(self) -> bytes:
        """The stored form after its times: for PUT_ALERTS, which is sent the times of a batch's
        alerts posted without startsAt and endsAt (all the same) once, and stores such an alert
        split, its body and its times apart (app/redis_keys.py, P:alert-times)."""
        return orjson.dumps({"l": self.labels, "a": self.annotations, "g": self.generator_url})

    @classmethod
    def decode(cls, fp: str, raw: str | bytes) -> Alert:
        text = raw.decode() if isinstance(raw, bytes) else raw
        s, e, u, t, body = text.split(" ", 4)
        data = orjson.loads(body)
        # Positional, in field order: keywords cost a flush a little more for every alert.
        return cls(data["l"], data["a"], float(s), float(e), data["g"], float(u), t == "1", fp)

    def api_fields(self) -> dict[str, Any]:
        """The fields of the API's gettable alert that the alert itself holds.

        An empty generatorURL is left out, as Alertmanager leaves it out: the spec's `uri` format
        has no empty value.
        """
        out: dict[str, Any] = {
            "labels": self.labels,
            "annotations": self.annotations,
            "startsAt": format_rfc3339(self.starts_at),
            "endsAt": format_rfc3339(self.ends_at),
            "fingerprint": self.fingerprint,
        }
        if self.generator_url:
            out["generatorURL"] = self.generator_url
        return out


class UnreadableBody(ValueError):
    """The body cannot be read as a list of postable alerts (HTTP 400, nothing stored): not JSON,
    a value of the wrong JSON type, a time that is no timestamp. Alertmanager's generated server
    fails to parse such a body and stores none of it."""


class SchemaError(ValueError):
    """A postable alert breaks the API's schema (HTTP 422, nothing stored): `labels` missing or
    null, a `generatorURL` that is not a URI. Alertmanager's generated server refuses the whole
    request for those after it has parsed the body."""


class _Postable(msgspec.Struct):
    """One element of the body, typed as Alertmanager's API spec types a postable alert.

    msgspec checks these types in C while it decodes: decoding with orjson and checking field by
    field in Python cost about 8% more CPU per ingest request (bench/inprocess --what=ingest).
    Unknown fields are ignored, as Alertmanager does. A null label or annotation value is Go's
    empty string; `labels` is optional here only so that a missing and a null `labels` are both
    the 422 they are in Alertmanager, not a type error.
    """

    labels: dict[str, str | None] | None = None
    annotations: dict[str, str | None] | None = None
    startsAt: str | None = None
    endsAt: str | None = None
    generatorURL: str | None = None


# A body of `null` is no alerts, as in Alertmanager.
_DECODER = msgspec.json.Decoder(list[_Postable] | None)

# msgspec's "Expected `str | null`, got `int` - at `$[0].startsAt`", in the words of the API.
_EXPECTED = re.compile(
    r"^Expected `(?P<want>[^`]+)`, got `(?P<got>[^`]+)`(?: - at `\$\[(?P<i>\d+)\]\.?(?P<path>[^`]*)`)?$"
)
_KINDS = {"str": "a string", "str | null": "a string", "object": "an object", "object | null": "an object"}


def _type_message(err: msgspec.ValidationError) -> str:
    text = str(err)
    m = _EXPECTED.match(text)
    if m is None:
        return text
    if m["i"] is None:
        return f"body must be a JSON array of alerts, got {m['got']}"
    path = m["path"] or "alert"
    if path.endswith("[...]"):  # msgspec does not name the key of a map value
        path = f"every value in {path[:-5]}"
    return f"alert {m['i']}: {path} must be {_KINDS.get(m['want'], m['want'])}, got {m['got']}"


def parse_postable_alerts(
    data: bytes, now: float, resolve_timeout: float, classic_names: bool = False
) -> tuple[list[Alert], list[str]]:
    """Turn a request body into alerts, Alertmanager's way.

    Returns the valid alerts and one error line per invalid alert. A body Alertmanager cannot
    parse (not JSON, a wrongly typed value, a bad timestamp anywhere in it) raises UnreadableBody;
    a parsed body that breaks the schema (an alert without labels, a generatorURL that is not a
    URI) raises SchemaError. Either refuses the whole request, so nothing is stored; the first
    takes precedence, as Alertmanager parses the whole body before it validates any of it.
    """
    if not data:
        raise SchemaError("alerts in body is required")
    try:
        items = _DECODER.decode(data) or []
    except msgspec.ValidationError as err:
        raise UnreadableBody(f"request body does not match the API: {_type_message(err)}") from None
    except msgspec.DecodeError as err:
        raise UnreadableBody(f"malformed JSON in request body: {err}") from None
    alerts: list[Alert] = []
    errors: list[str] = []
    schema_error: SchemaError | None = None
    # The last generatorURL found valid: Prometheus sends the alerts of a rule together, with one
    # generatorURL, and comparing it costs less than request_uri_error's cache.
    valid_url: str | None = None
    for i, item in enumerate(items):
        # Per alert, every call counts (this loop is a third of an ingest request's CPU): an
        # absent time is tested here rather than in a call, and the schema check is called only
        # for an alert that may break it.
        starts_text, ends_text = item.startsAt, item.endsAt
        try:
            starts_at = _optional_time(starts_text) if starts_text else 0.0
            ends_at = _optional_time(ends_text) if ends_text else 0.0
        except ValueError as err:
            raise UnreadableBody(f"alert {i}: {err}") from None
        url = item.generatorURL
        problem = _schema_problem(item) if item.labels is None or (url and url != valid_url) else None
        if url and problem is None:
            valid_url = url
        if problem or schema_error:
            schema_error = schema_error or SchemaError(f"alert {i}: {problem}")
            continue  # only the timestamps of the rest can still change the answer
        try:
            alerts.append(_build_alert(item, starts_at, ends_at, now, resolve_timeout, classic_names))
        except ValueError as err:
            errors.append(f"alert {i} ({_describe(item.labels or {})}): {err}")
    if schema_error:
        raise schema_error
    return alerts, errors


def _schema_problem(item: _Postable) -> str | None:
    if item.labels is None:
        return "labels in body is required"
    if item.generatorURL and (problem := request_uri_error(item.generatorURL)):
        return f"generatorURL in body must be of type uri: {item.generatorURL!r} ({problem})"
    return None


def _build_alert(
    item: _Postable, starts_at: float, ends_at: float, now: float, resolve_timeout: float, classic: bool
) -> Alert:
    raw = item.labels or {}
    # Alertmanager drops labels with empty (or null) values before it validates, copying only
    # then: this runs for every ingested alert, and one all() is a single pass in C. (No
    # typing.cast for the narrowed types: a Python call per alert, twice.)
    labels: dict[str, str] = raw if all(raw.values()) else {k: v for k, v in raw.items() if v}  # type: ignore[assignment]
    if not labels:
        raise ValueError("at least one label pair required")
    if classic or "" in labels:
        for name in labels:
            problem = label_name_error(name, classic)
            if problem:
                raise ValueError(problem)
    raw_annotations = item.annotations or {}
    annotations: dict[str, str] = raw_annotations  # type: ignore[assignment]
    if None in raw_annotations.values():
        annotations = {k: v or "" for k, v in raw_annotations.items()}
    timeout = False
    if not starts_at:
        starts_at = ends_at or now
    if not ends_at:
        ends_at = now + resolve_timeout
        timeout = True
    if ends_at < starts_at:
        raise ValueError("start time must be before end time")
    # Positional: keyword arguments measured a tenth of this function's time slower.
    return Alert(
        labels, annotations, starts_at, ends_at, item.generatorURL or "", now, timeout, fingerprint(labels)
    )


@lru_cache(maxsize=4096)
def _times_text(starts_at: float, ends_at: float, updated_at: float, timeout: bool) -> bytes:
    """The times in front of a stored alert, with the space that follows them.

    Cached: a float's repr() costs more than the rest of an alert's encoding, and the alerts of a
    request share their updatedAt (now) and mostly their startsAt and endsAt (Prometheus gives a
    batch one endsAt; without times every alert gets now and now + resolve_timeout).
    """
    return f"{starts_at!r} {ends_at!r} {updated_at!r} {int(timeout)} ".encode()


def _optional_time(text: str | None) -> float:
    """A timestamp field, or 0.0 when it is absent, empty or Go's zero time (all mean unset:
    amtool and Go clients send the zero time for it)."""
    if not text:
        return 0.0
    ts = parse_rfc3339(text)
    return 0.0 if ts <= GO_ZERO_EPOCH else ts


def _describe(labels: dict[str, str | None]) -> str:
    name = labels.get("alertname")
    return f"alertname={name}" if name else f"{len(labels)} labels"
