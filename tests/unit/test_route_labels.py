"""Route labels rendered as Alertmanager's dispatcher renders them at a flush: templates against
the group's data, references between labels, and failures that leave one label out."""

from __future__ import annotations

import logging

import pytest

from app.alerts import Alert
from app.notify.message import Notification
from app.template import Templates
from app.template.routelabels import render_route_labels

NOW = 1_700_000_000.0


def group(*instances: str) -> Notification:
    alerts = [
        Alert(
            labels={"alertname": "DiskFull", "team": "db", "instance": i},
            annotations={},
            starts_at=NOW - 60,
            ends_at=NOW + 300,
            generator_url="",
            fingerprint=f"fp-{i}",
        )
        for i in instances
    ]
    return Notification.build("dba", '{}:{alertname="DiskFull"}', {"alertname": "DiskFull"}, alerts, NOW, "")


def test_labels_are_rendered_against_the_groups_data() -> None:
    labels = {
        "owner": "{{ .CommonLabels.team }}-oncall",
        "size": "{{ len .Alerts }}",
        "plain": "static",
        "seen": "{{ .Receiver }}/{{ .GroupLabels.alertname }}",
    }
    assert render_route_labels(Templates(), labels, group("a", "b")) == {
        "owner": "db-oncall",
        "size": "2",
        "plain": "static",
        "seen": "dba/DiskFull",
    }


def test_a_label_can_name_another_which_is_rendered_first() -> None:
    labels = {
        "page": '{{ routeLabels "owner" }}@pager',
        "owner": "{{ .CommonLabels.team }}",
        # While rendering, .RouteLabels are the labels as written; there is no reason yet.
        "written": "{{ .RouteLabels.owner }} {{ .NotificationReason }}",
        "unknown": '[{{ routeLabels "nope" }}]',
    }
    assert render_route_labels(Templates(), labels, group("a")) == {
        "page": "db@pager",
        "owner": "db",
        "written": "{{ .CommonLabels.team }} unknown",
        "unknown": "[]",
    }


def test_a_label_that_fails_is_left_out_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    labels = {
        "ok": "fine",
        "broken": "{{ .Nope }}",
        "loop": '{{ routeLabels "again" }}',
        "again": '{{ routeLabels "loop" }}',
    }
    with caplog.at_level(logging.ERROR, logger="app.template.routelabels"):
        assert render_route_labels(Templates(), labels, group("a")) == {"ok": "fine"}
    failed = {r.fields["label"]: r.fields["err"] for r in caplog.records}  # type: ignore[attr-defined]
    assert set(failed) == {"broken", "loop", "again"}
    assert "route label cycle detected: loop -> again -> loop" in failed["loop"]


def test_a_route_without_labels_renders_nothing() -> None:
    assert render_route_labels(Templates(), {}, group("a")) == {}
