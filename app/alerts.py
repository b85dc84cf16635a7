"""The alert model: what `POST /api/v2/alerts` accepts, and how an alert is kept in Redis.

Alertmanager's ingest rules live here (defaults for startsAt/endsAt, validation, empty label
values dropped). The merge of two versions of one alert runs inside Redis (see app/store.py) so
that concurrent posts from several web processes stay atomic.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import msgspec
import orjson

from app.labels import fingerprint, label_name_error
from app.timeutil import GO_ZERO_EPOCH, format_rfc3339, parse_rfc3339


@dataclass(slots=True)
class Alert:
    """One alert. Times are epoch seconds; `timeout` marks an endsAt filled from resolve_timeout."""

    labels: dict[str, str]
    annotations: dict[str, str] = field(default_factory=dict)
    starts_at: float = 0.0
    ends_at: float = 0.0
    generator_url: str = ""
    updated_at: float = 0.0
    timeout: bool = False
    fingerprint: str = ""

    def resolved(self, now: float) -> bool:
        """Alertmanager's rule: resolved once endsAt is not after now."""
        return self.ends_at <= now

    def encode(self) -> str:
        """The stored form: `startsAt endsAt updatedAt timeout {json body}`.

        The times sit in front of the JSON so that the merge script in Redis can read them with
        one pattern match and never re-encode the body.
        """
        body = orjson.dumps({"l": self.labels, "a": self.annotations, "g": self.generator_url}).decode()
        return f"{self.starts_at!r} {self.ends_at!r} {self.updated_at!r} {int(self.timeout)} {body}"

    @classmethod
    def decode(cls, fp: str, raw: str | bytes) -> Alert:
        text = raw.decode() if isinstance(raw, bytes) else raw
        s, e, u, t, body = text.split(" ", 4)
        data = orjson.loads(body)
        return cls(
            labels=data["l"],
            annotations=data["a"],
            starts_at=float(s),
            ends_at=float(e),
            generator_url=data["g"],
            updated_at=float(u),
            timeout=t == "1",
            fingerprint=fp,
        )

    def api_fields(self) -> dict[str, Any]:
        """The fields shared by every API shape of an alert (gettable alert, webhook alert)."""
        return {
            "labels": self.labels,
            "annotations": self.annotations,
            "startsAt": format_rfc3339(self.starts_at),
            "endsAt": format_rfc3339(self.ends_at),
            "generatorURL": self.generator_url,
            "fingerprint": self.fingerprint,
        }


class SchemaError(ValueError):
    """The body does not have the shape of a list of postable alerts (HTTP 422)."""


class MalformedJSON(ValueError):
    """The body is not JSON at all (HTTP 400)."""


class _Postable(msgspec.Struct):
    """One element of the body, typed as Alertmanager's API spec types a postable alert.

    msgspec checks these types in C while it decodes: decoding with orjson and checking field by
    field in Python cost about 8% more CPU per ingest request (bench/inprocess --what=ingest).
    Unknown fields are ignored, as Alertmanager does.
    """

    labels: dict[str, str]
    annotations: dict[str, str] | None = None
    startsAt: str | None = None
    endsAt: str | None = None
    generatorURL: str | None = None


_DECODER = msgspec.json.Decoder(list[_Postable])

# msgspec's "Expected `str | null`, got `int` - at `$[0].startsAt`", in the words of the API.
_EXPECTED = re.compile(
    r"^Expected `(?P<want>[^`]+)`, got `(?P<got>[^`]+)`(?: - at `\$\[(?P<i>\d+)\]\.?(?P<path>[^`]*)`)?$"
)
_MISSING = re.compile(r"^Object missing required field `(?P<field>[^`]+)` - at `\$\[(?P<i>\d+)\]`$")
_KINDS = {"str": "a string", "str | null": "a string", "object": "an object", "object | null": "an object"}


def _schema_message(err: msgspec.ValidationError) -> str:
    text = str(err)
    if m := _MISSING.match(text):
        return f"alert {m['i']}: {m['field']} in body is required"
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

    Returns the valid alerts and one error line per invalid alert. A body that is not JSON
    raises MalformedJSON; shape errors (not a list, an alert without labels, a wrongly typed
    field) raise SchemaError: Alertmanager's generated server refuses the whole request for
    those, so nothing is stored.
    """
    try:
        items = _DECODER.decode(data)
    except msgspec.ValidationError as err:
        raise SchemaError(_schema_message(err)) from None
    except msgspec.DecodeError as err:
        raise MalformedJSON(str(err)) from None
    alerts: list[Alert] = []
    errors: list[str] = []
    for i, item in enumerate(items):
        try:
            alerts.append(_build_alert(item, now, resolve_timeout, classic_names))
        except ValueError as err:
            errors.append(f"alert {i} ({_describe(item.labels)}): {err}")
    return alerts, errors


def _build_alert(item: _Postable, now: float, resolve_timeout: float, classic: bool) -> Alert:
    labels = item.labels
    # Alertmanager drops labels with empty values before it validates (copying only then:
    # this runs for every ingested alert).
    if "" in labels.values():
        labels = {k: v for k, v in labels.items() if v != ""}
    if not labels:
        raise ValueError("at least one label pair required")
    if classic or "" in labels:
        for name in labels:
            problem = label_name_error(name, classic)
            if problem:
                raise ValueError(problem)
    starts_at = _optional_time(item.startsAt)
    ends_at = _optional_time(item.endsAt)
    timeout = False
    if not starts_at:
        starts_at = ends_at or now
    if not ends_at:
        ends_at = now + resolve_timeout
        timeout = True
    if ends_at < starts_at:
        raise ValueError("start time must be before end time")
    return Alert(
        labels=labels,
        annotations=item.annotations or {},
        starts_at=starts_at,
        ends_at=ends_at,
        generator_url=item.generatorURL or "",
        updated_at=now,
        timeout=timeout,
        fingerprint=fingerprint(labels),
    )


def _optional_time(text: str | None) -> float:
    """A timestamp field, or 0.0 when it is absent, empty or Go's zero time (all mean unset)."""
    if not text:
        return 0.0
    ts = parse_rfc3339(text)
    return 0.0 if ts <= GO_ZERO_EPOCH else ts


def _describe(labels: dict[str, str]) -> str:
    name = labels.get("alertname")
    return f"alertname={name}" if name else f"{len(labels)} labels"
