"""The data Alertmanager's templates see (its `template.Data`), built from a notification.

`template_data` gives templates the fields of Alertmanager's `template.Data` under the same names
(`Receiver`, `Status`, `Alerts.Firing`, `GroupLabels.SortedPairs`, `CommonLabels`, ...), so that
an operator's Go template runs unchanged (app.gotemplate: `Struct` records, `TEMPLATE_METHODS` for
Alertmanager's methods) and alerter's Jinja2 defaults read the same names.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, ClassVar, NamedTuple

from app.gotemplate import Struct
from app.notify.message import FIRING, RESOLVED, AlertData, Notification
from app.timeutil import GO_ZERO_TIME

_ALERTNAME = "alertname"
_REGEX_META = re.compile(r"([\\.+*?()|\[\]{}^$])")


def common_pairs(maps: list[dict[str, str]]) -> dict[str, str]:
    """The name/value pairs present with equal values in every map (empty for no maps)."""
    if not maps:
        return {}
    first, *rest = maps
    if not rest:
        return dict(first)  # one alert, the usual notification: no comparison per pair
    return {k: v for k, v in first.items() if all(m.get(k) == v for m in rest)}


@lru_cache(maxsize=1024)
def quote_meta(text: str) -> str:
    """Go's regexp.QuoteMeta; cached, as it quotes the few receiver names over and over.

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
    """The data Alertmanager gives its templates (`template.Data`), for Go templates and Jinja2,
    fields in its order. `RouteLabels` are the route's labels as the notification carries them:
    rendered for a notification, as written while the route labels themselves are rendered."""
    return Struct(
        {
            "Receiver": quote_meta(n.receiver),
            "Status": n.status,
            "Alerts": AlertList(_template_alert(a) for a in n.alerts),
            "NotificationReason": n.notification_reason,
            "GroupLabels": KV(n.group_labels),
            "CommonLabels": KV(common_pairs([a.labels for a in n.alerts])),
            "CommonAnnotations": KV(common_pairs([a.annotations for a in n.alerts])),
            "RouteLabels": KV(n.route_labels),
            "ExternalURL": n.external_url,
        }
    )
