"""Inhibition rules: equal labels, absent labels, two-sided matches, resolved sources."""

from __future__ import annotations

from app.alerts import Alert
from app.config import InhibitRule
from app.inhibit import Inhibitor
from app.labels import fingerprint
from app.matchers import Matcher

NOW = 1_700_000_000.0


def alert(ends: float = NOW + 300, **labels: str) -> Alert:
    return Alert(labels, {}, NOW - 60, ends, "", NOW, False, fingerprint(labels))


RULE = InhibitRule(
    source_matchers=[Matcher("severity", "=", "critical")],
    target_matchers=[Matcher("severity", "=", "warning")],
    equal=["alertname", "cluster"],
)


def inhibitor(rules: list[InhibitRule], alerts: list[Alert]) -> Inhibitor:
    return Inhibitor(lambda: rules, lambda: alerts, refresh=0)


def test_firing_source_mutes_target_that_agrees_on_equal_labels() -> None:
    src = alert(alertname="Disk", cluster="eu", severity="critical")
    ih = inhibitor([RULE], [src])
    assert ih.inhibited_by({"alertname": "Disk", "cluster": "eu", "severity": "warning"}, NOW) == [
        src.fingerprint
    ]
    assert ih.inhibited_by({"alertname": "Disk", "cluster": "us", "severity": "warning"}, NOW) == []
    assert ih.inhibited_by({"alertname": "Disk", "cluster": "eu", "severity": "info"}, NOW) == []


def test_absent_equal_label_counts_as_equal() -> None:
    ih = inhibitor([RULE], [alert(alertname="Disk", severity="critical")])
    assert ih.inhibited_by({"alertname": "Disk", "severity": "warning"}, NOW) != []


def test_resolved_source_does_not_inhibit() -> None:
    ih = inhibitor([RULE], [alert(ends=NOW - 1, alertname="Disk", cluster="eu", severity="critical")])
    assert ih.inhibited_by({"alertname": "Disk", "cluster": "eu", "severity": "warning"}, NOW) == []


def test_alert_matching_both_sides_is_not_inhibited_by_itself_or_its_twins() -> None:
    rule = InhibitRule([Matcher("team", "=", "db")], [Matcher("team", "=", "db")], ["alertname"])
    a = alert(alertname="X", team="db", instance="1")
    b = alert(alertname="X", team="db", instance="2")
    ih = inhibitor([rule], [a, b])
    assert ih.inhibited_by(a.labels, NOW) == []
    assert ih.inhibited_by(b.labels, NOW) == []
