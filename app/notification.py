"""What one notification carries, and the data Alertmanager's templates see.

A `Notification` is built once per send from the group's alerts, with each alert's status fixed as
of the flush time, so that every integration (and every retry) describes the same moment.
`template_data` gives templates the fields of Alertmanager's `template.Data` under the same names
(`Receiver`, `Status`, `Alerts.Firing`, `GroupLabels.SortedPairs`, `CommonLabels`, ...), so that
an operator's Go template runs unchanged (app.gotemplate: `Struct` records, `TEMPLATE_METHODS` for
Alertmanager's methods) and alerter's Jinja2 defaults read the same names.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import cmp_to_key
from typing import Any, ClassVar, NamedTuple

from app.alerts import Alert

# Go's zero time.Time, the EndsAt templates see for a firing alert (re-exported for callers).
from app.gotemplate import GO_ZERO_TIME as GO_ZERO_TIME
from app.gotemplate import Struct

FIRING = "firing"
RESOLVED = "resolved"

_ALERTNAME = "alertname"
_REGEX_META = re.compile(r"([\\.+*?()|\[\]{}^$])")


@dataclass(frozen=True, slots=True)
class AlertData:
    """One alert as notified: its status is the one it had when the notification was built."""

    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: float
    ends_at: float
    generator_url: str
    fingerprint: str
    status: str  # FIRING or RESOLVED

    @property
    def firing(self) -> bool:
        return self.status == FIRING


@dataclass(frozen=True)
class Notification:
    """One message to one receiver integration about one aggregation group."""

    receiver: str
    group_key: str
    group_labels: dict[str, str]
    alerts: list[AlertData]
    external_url: str = ""

    @classmethod
    def build(
        cls,
        receiver: str,
        group_key: str,
        group_labels: Mapping[str, str],
        alerts: Iterable[Alert],
        now: float,
        external_url: str,
    ) -> Notification:
        """Freeze the alerts' statuses at `now` and order them as Alertmanager's flush does."""
        data = [
            AlertData(
                labels=dict(a.labels),
                annotations=dict(a.annotations),
                starts_at=a.starts_at,
                ends_at=a.ends_at,
                generator_url=a.generator_url,
                fingerprint=a.fingerprint,
                status=RESOLVED if a.resolved(now) else FIRING,
            )
            for a in alerts
        ]
        data.sort(key=cmp_to_key(_alert_order))
        return cls(receiver, group_key, dict(group_labels), data, external_url)

    @property
    def status(self) -> str:
        """FIRING when at least one alert fires, as Alertmanager's `Alerts.Status()`."""
        return FIRING if any(a.firing for a in self.alerts) else RESOLVED

    def truncated(self, max_alerts: int) -> tuple[Notification, int]:
        """The notification cut to `max_alerts` alerts (0: no limit) and how many were left out.

        Everything derived from the alerts (status, common labels) is then computed from the
        alerts kept, as in Alertmanager, where truncation happens before the template data is built.
        """
        if max_alerts <= 0 or len(self.alerts) <= max_alerts:
            return self, 0
        return replace(self, alerts=self.alerts[:max_alerts]), len(self.alerts) - max_alerts


def _alert_order(a: AlertData, b: AlertData) -> int:
    """Alertmanager's AlertSlice order: by `job`, then `instance` (alerts that have the label
    first), then by label set (fewer labels first, then the first differing label)."""
    for name in ("job", "instance"):
        av, bv = a.labels.get(name), b.labels.get(name)
        if av is None and bv is None:
            continue
        if av is None or bv is None:
            return 1 if av is None else -1
        if av != bv:
            return -1 if av < bv else 1
    if len(a.labels) != len(b.labels):
        return -1 if len(a.labels) < len(b.labels) else 1
    for name in sorted([*a.labels, *b.labels]):
        if name not in a.labels:
            return -1
        if name not in b.labels:
            return 1
        av, bv = a.labels[name], b.labels[name]
        if av != bv:
            return -1 if av < bv else 1
    return 0


def common_pairs(maps: list[dict[str, str]]) -> dict[str, str]:
    """The name/value pairs present with equal values in every map (empty for no maps)."""
    if not maps:
        return {}
    first, *rest = maps
    return {k: v for k, v in first.items() if all(m.get(k) == v for m in rest)}


def quote_meta(text: str) -> str:
    """Go's regexp.QuoteMeta.

    Alertmanager puts the receiver name into its template data (and so into the webhook payload)
    regex-quoted, for its UI link `#/alerts?receiver=...`; alerter does the same so that receivers
    comparing that field keep working.
    """
    return _REGEX_META.sub(r"\\\1", text)


class Pair(NamedTuple):
    Name: str
    Value: str


class Strings(list[str]):
    """Alertmanager's Strings: a list of strings with `Join`, as in `.GroupLabels.Values.Join " "`."""

    TEMPLATE_METHODS: ClassVar[frozenset[str]] = frozenset({"Join"})

    def Join(self, sep: str) -> str:
        return sep.join(self)


class Pairs(list[Pair]):
    """Alertmanager's Pairs: `SortedPairs` with `Names`, `Values`, and `name=value, ...` as text."""

    TEMPLATE_METHODS: ClassVar[frozenset[str]] = frozenset({"Names", "Values", "String"})

    @property
    def Names(self) -> Strings:
        return Strings(p.Name for p in self)

    @property
    def Values(self) -> Strings:
        return Strings(p.Value for p in self)

    def String(self) -> str:
        return ", ".join(f"{p.Name}={p.Value}" for p in self)


class KV(dict[str, str]):
    """A label or annotation map with the accessors of Alertmanager's template KV type.

    The accessors keep Alertmanager's capitalised names so that templates read the same.

    `SortedPairs` puts `alertname` first and sorts the other names, as Alertmanager does, so that
    lists built from it (the default subject, for one) come out in the same order. Go templates
    reach the accessors through TEMPLATE_METHODS; they come before a label of the same name there.
    """

    TEMPLATE_METHODS: ClassVar[frozenset[str]] = frozenset(
        {"SortedPairs", "Names", "Values", "Remove", "String"}
    )

    @property
    def SortedPairs(self) -> Pairs:
        rest = sorted(k for k in self if k != _ALERTNAME)
        names = [_ALERTNAME, *rest] if _ALERTNAME in self else rest
        return Pairs(Pair(k, self[k]) for k in names)

    @property
    def Names(self) -> Strings:
        return self.SortedPairs.Names

    @property
    def Values(self) -> Strings:
        return self.SortedPairs.Values

    def Remove(self, names: Iterable[str]) -> KV:
        drop = set(names)
        return KV({k: v for k, v in self.items() if k not in drop})

    def String(self) -> str:
        return self.SortedPairs.String()


class AlertList(list[dict[str, Any]]):
    """The alerts of the template data, with Alertmanager's `.Firing` and `.Resolved` views."""

    TEMPLATE_METHODS: ClassVar[frozenset[str]] = frozenset({"Firing", "Resolved"})

    @property
    def Firing(self) -> list[dict[str, Any]]:
        return [a for a in self if a["Status"] == FIRING]

    @property
    def Resolved(self) -> list[dict[str, Any]]:
        return [a for a in self if a["Status"] == RESOLVED]


def _template_alert(a: AlertData) -> Struct:
    """Alertmanager's template.Alert; a Struct, so a misspelt field fails as it does there."""
    return Struct(
        {
            "Status": a.status,
            "Labels": KV(a.labels),
            "Annotations": KV(a.annotations),
            "StartsAt": datetime.fromtimestamp(a.starts_at, UTC),
            # Alertmanager hides the end time of an alert that still fires.
            "EndsAt": GO_ZERO_TIME if a.firing else datetime.fromtimestamp(a.ends_at, UTC),
            "GeneratorURL": a.generator_url,
            "Fingerprint": a.fingerprint,
        }
    )


def template_data(n: Notification) -> Struct:
    """The data Alertmanager gives its templates (`template.Data`), for Go templates and Jinja2."""
    return Struct(
        {
            "Receiver": quote_meta(n.receiver),
            "Status": n.status,
            "Alerts": AlertList(_template_alert(a) for a in n.alerts),
            "GroupLabels": KV(n.group_labels),
            "CommonLabels": KV(common_pairs([a.labels for a in n.alerts])),
            "CommonAnnotations": KV(common_pairs([a.annotations for a in n.alerts])),
            "ExternalURL": n.external_url,
        }
    )
