"""Template data and rendering: Alertmanager's data model, its default subject rule, the mapping of
its default template references, autoescaping, the sandbox, and the operator's template files."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app import templates
from app.alerts import Alert
from app.notification import GO_ZERO_TIME, Notification, template_data

NOW = 1_700_000_000.0


def make_alert(ends_in: float = 300.0, annotations: dict[str, str] | None = None, **labels: str) -> Alert:
    return Alert(
        labels=labels,
        annotations=annotations or {},
        starts_at=NOW - 60,
        ends_at=NOW + ends_in,
        generator_url="http://prometheus.test/graph",
        fingerprint="fp-" + "-".join(labels.values()),
    )


def notification(alerts: list[Alert], group_labels: dict[str, str], receiver: str = "ops") -> Notification:
    return Notification.build(receiver, "{}:{}", group_labels, alerts, NOW, "http://alerter.test:9093")


def subject(n: Notification) -> str:
    return templates.render('{{ template "email.default.subject" . }}', template_data(n), html=False)


@pytest.fixture
def operator_templates() -> Iterator[None]:
    """Tests that load template files put the defaults back afterwards (the templates are global)."""
    yield
    templates.load([])


def test_template_data_has_alertmanagers_fields() -> None:
    n = notification(
        [
            make_alert(
                annotations={"summary": "down", "runbook": "r1"}, alertname="Down", instance="b", dc="x"
            ),
            make_alert(ends_in=-1, annotations={"summary": "down"}, alertname="Down", instance="a", dc="x"),
        ],
        {"alertname": "Down"},
        receiver="team.ops (eu)",
    )
    data = template_data(n)
    assert data["Receiver"] == r"team\.ops \(eu\)"  # regex-quoted, as Alertmanager's data is
    assert data["Status"] == "firing"
    assert data["ExternalURL"] == "http://alerter.test:9093"
    assert data["GroupLabels"] == {"alertname": "Down"}
    assert data["CommonLabels"] == {"alertname": "Down", "dc": "x"}
    assert data["CommonAnnotations"] == {"summary": "down"}
    assert [a["Labels"]["instance"] for a in data["Alerts"].Firing] == ["b"]
    assert [a["Labels"]["instance"] for a in data["Alerts"].Resolved] == ["a"]
    firing, resolved = data["Alerts"].Firing[0], data["Alerts"].Resolved[0]
    assert firing["EndsAt"] == GO_ZERO_TIME
    assert resolved["EndsAt"].timestamp() == NOW - 1
    assert firing["StartsAt"].timestamp() == NOW - 60
    assert firing["Labels"].SortedPairs == [("alertname", "Down"), ("dc", "x"), ("instance", "b")]


def test_sorted_pairs_put_alertname_first_then_sort_by_name() -> None:
    data = template_data(notification([make_alert(zone="z", alertname="Zed", app="a")], {}))
    assert data["CommonLabels"].Names == ["alertname", "app", "zone"]
    assert data["CommonLabels"].Values == ["Zed", "a", "z"]
    assert data["CommonLabels"].Remove(["app"]) == {"alertname": "Zed", "zone": "z"}


def test_alerts_are_ordered_like_alertmanagers_flush() -> None:
    n = notification(
        [
            make_alert(alertname="A", instance="b"),
            make_alert(alertname="A", job="node", instance="z"),
            make_alert(alertname="A", instance="a"),
            make_alert(alertname="A", job="api", instance="z"),
            make_alert(alertname="B"),
        ],
        {},
    )
    order = [(a.labels.get("job"), a.labels.get("instance")) for a in n.alerts]
    assert order == [("api", "z"), ("node", "z"), (None, "a"), (None, "b"), (None, None)]


@pytest.mark.parametrize(
    ("alerts", "group_labels", "expected"),
    [
        # Extra common labels, in SortedPairs order, in parentheses.
        (
            [
                make_alert(alertname="InstanceDown", dc="dc1", job="app1", instance="a"),
                make_alert(alertname="InstanceDown", dc="dc1", job="app1", instance="b"),
            ],
            {"alertname": "InstanceDown"},
            "[FIRING:2] InstanceDown (dc1 app1)",
        ),
        # Nothing beyond the group labels: Alertmanager's rule leaves a trailing space.
        (
            [make_alert(alertname="DiskFull", instance="a"), make_alert(alertname="DiskFull", instance="b")],
            {"alertname": "DiskFull"},
            "[FIRING:2] DiskFull ",
        ),
        # Only firing alerts are counted; resolved ones are in the message but not in the count.
        (
            [make_alert(alertname="X", instance="a"), make_alert(ends_in=-5, alertname="X", instance="b")],
            {"alertname": "X"},
            "[FIRING:1] X ",
        ),
        # All resolved: no count.
        (
            [make_alert(ends_in=-5, alertname="X", instance="a")],
            {"alertname": "X"},
            "[RESOLVED] X (a)",
        ),
        # Group label values come alertname first, then by label name.
        (
            [make_alert(alertname="Lag", service="pay", cluster="eu", severity="page")],
            {"severity": "page", "alertname": "Lag", "cluster": "eu"},
            "[FIRING:1] Lag eu page (pay)",
        ),
        # No group labels at all (group_by: []).
        ([make_alert(alertname="Y", job="j")], {}, "[FIRING:1]  (Y j)"),
    ],
)
def test_default_subject_follows_alertmanagers_rule(
    alerts: list[Alert], group_labels: dict[str, str], expected: str
) -> None:
    assert subject(notification(alerts, group_labels)) == expected


def test_default_references_render_wherever_they_appear() -> None:
    data = template_data(notification([make_alert(alertname="X")], {"alertname": "X"}))
    render = templates.render
    assert render('{{ template "email.default.subject" . }}', data, False) == "[FIRING:1] X "
    assert render('{{ template "__subject" . }}', data, False) == "[FIRING:1] X "
    assert render('[prod] {{ template "email.default.subject" . }}!', data, False) == "[prod] [FIRING:1] X !"
    assert render('a  {{- template "email.default.subject" . -}}  b', data, False) == "a[FIRING:1] X b"
    html = render('{{ template "email.default.html" . }}', data, True)
    assert html.startswith("<!DOCTYPE html>")
    assert "<title>[FIRING:1] X </title>" in html


def test_go_templates_other_than_the_defaults_are_not_interpreted() -> None:
    data = template_data(notification([make_alert(alertname="X")], {"alertname": "X"}))
    # Alertmanager has no email.default.text: referring to it fails there too.
    for text in ('{{ template "email.default.text" . }}', "{{ .CommonLabels.alertname }}"):
        with pytest.raises(templates.RenderError, match="does not run Go templates"):
            templates.render(text, data, False)
    # The same data in Jinja2 renders.
    assert templates.render("{{ CommonLabels.alertname }}", data, False) == "X"
    # A missing key renders empty, like Go's missingkey=zero.
    assert templates.render("[{{ CommonLabels.nope }}]", data, False) == "[]"


def test_values_are_data_never_code_and_html_is_escaped() -> None:
    evil = "<script>alert(1)</script> {{ 7*7 }} {% raw %}"
    data = template_data(
        notification(
            [make_alert(annotations={"summary": evil}, alertname="X", payload=evil)],
            {"alertname": "X"},
        )
    )
    text = templates.render("{{ CommonLabels.payload }}|{{ CommonAnnotations.summary }}", data, False)
    assert text == f"{evil}|{evil}"
    html = templates.render('{{ template "email.default.html" . }}', data, True)
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; {{ 7*7 }} {% raw %}" in html
    assert "49" not in html


def test_unsafe_links_are_neutralised_in_html() -> None:
    alert = make_alert(alertname="X")
    alert.generator_url = "javascript:alert(document.cookie)"
    html = templates.render(
        '{{ template "email.default.html" . }}', template_data(notification([alert], {})), True
    )
    assert "javascript:" not in html
    assert 'href="#"' in html
    assert 'href="http://alerter.test:9093/#/alerts?receiver=ops"' in html


def test_sandbox_keeps_templates_away_from_python_and_the_data() -> None:
    data = template_data(notification([make_alert(alertname="X")], {}))
    for text in ("{{ Alerts.__class__.__mro__ }}", "{{ Alerts.append(1) }}", "{{ GroupLabels.update(a=1) }}"):
        with pytest.raises(templates.RenderError, match="SecurityError"):
            templates.render(text, data, False)
    assert len(data["Alerts"]) == 1


@pytest.mark.usefixtures("operator_templates")
def test_operator_template_files_are_loaded_by_name(tmp_path: Path) -> None:
    (tmp_path / "subject.tmpl").write_text("{{ Status|upper }} {{ GroupLabels.alertname }}\n")
    (tmp_path / "macros.tmpl").write_text("{% macro who(a) %}{{ a.Labels.instance }}{% endmacro %}")
    # A Go template file among them is fine as long as nothing renders it.
    (tmp_path / "legacy.tmpl").write_text('{{ define "x" }}{{ .Status }}{{ end }}')
    templates.load([str(tmp_path / "*.tmpl"), str(tmp_path / "none" / "*.tmpl")])
    data = template_data(notification([make_alert(alertname="X", instance="a")], {"alertname": "X"}))
    assert templates.render("subject.tmpl", data, False) == "FIRING X"
    assert templates.render('[{% include "subject.tmpl" %}]', data, False) == "[FIRING X]"
    text = '{% import "macros.tmpl" as m %}{% for a in Alerts %}{{ m.who(a) }}{% endfor %}'
    assert templates.render(text, data, False) == "a"


@pytest.mark.usefixtures("operator_templates")
def test_an_operator_file_can_replace_a_default(tmp_path: Path) -> None:
    (tmp_path / "email.subject.j2").write_text("custom {{ Status }}")
    templates.load([str(tmp_path / "*.j2")])
    data = template_data(notification([make_alert(alertname="X")], {}))
    assert templates.render('{{ template "email.default.subject" . }}', data, False) == "custom firing"


@pytest.mark.usefixtures("operator_templates")
def test_an_unreadable_template_file_keeps_the_templates_in_effect(tmp_path: Path) -> None:
    (tmp_path / "ok.tmpl").write_text("ok")
    templates.load([str(tmp_path / "*.tmpl")])
    (tmp_path / "bad.tmpl").write_bytes(b"\xff\xfe not utf-8")
    with pytest.raises(templates.TemplateLoadError, match=r"bad\.tmpl"):
        templates.load([str(tmp_path / "*.tmpl")])
    assert templates.render("ok.tmpl", {}, False) == "ok"
