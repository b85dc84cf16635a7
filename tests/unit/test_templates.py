"""Template data and rendering: Alertmanager's data model, its default subject rule, the mapping of
its default template references, autoescaping, the sandbox, and the operator's template files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from app import template
from app.alerts import Alert
from app.gotemplate import GO_ZERO_TIME
from app.notify.message import Notification
from app.template import Templates
from app.template.data import template_data

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
    return DEFAULTS.render('{{ template "email.default.subject" . }}', template_data(n), html=False)


# alerter's defaults alone: what a config without `templates:` renders with.
DEFAULTS = Templates()


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
    render = DEFAULTS.render
    assert render('{{ template "email.default.subject" . }}', data, False) == "[FIRING:1] X "
    assert render('{{ template "__subject" . }}', data, False) == "[FIRING:1] X "
    assert render('[prod] {{ template "email.default.subject" . }}!', data, False) == "[prod] [FIRING:1] X !"
    assert render('a  {{- template "email.default.subject" . -}}  b', data, False) == "a[FIRING:1] X b"
    html = render('{{ template "email.default.html" . }}', data, True)
    assert html.startswith("<!DOCTYPE html>")
    assert "<title>[FIRING:1] X </title>" in html


def firing_and_resolved() -> dict[str, Any]:
    """A firing alert with annotations and a resolved one without, for a receiver whose name
    Alertmanager regex-quotes in the data (`team\\.ops eu`)."""
    alerts = [
        make_alert(
            annotations={"summary": "disk <full>", "runbook": "http://wiki/disk"},
            alertname="Disk",
            instance="b",
        ),
        make_alert(ends_in=-5, alertname="Disk", instance="a"),
    ]
    return template_data(notification(alerts, {"alertname": "Disk"}, receiver="team.ops eu"))


FIRING_TEXT = (
    "Labels:\n - alertname = Disk\n - instance = b\n"
    "Annotations:\n - runbook = http://wiki/disk\n - summary = disk <full>\n"
    "Source: http://prometheus.test/graph\n"
)
RESOLVED_TEXT = (
    "Labels:\n - alertname = Disk\n - instance = a\nAnnotations:\nSource: http://prometheus.test/graph\n"
)
FIRING_MARKDOWN = (
    "\nLabels:\n  - alertname = Disk\n  - instance = b\n"
    "\nAnnotations:\n  - runbook = http://wiki/disk\n  - summary = disk <full>\n"
    "\nSource: http://prometheus.test/graph\n"
)
RESOLVED_MARKDOWN = "\nLabels:\n  - alertname = Disk\n  - instance = a\n\nAnnotations:\n\nSource: http://prometheus.test/graph\n"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{{ template "__alertmanager" . }}', "Alertmanager"),
        # The receiver as the data has it (regex-quoted), query-escaped.
        ('{{ template "__alertmanagerURL" . }}', "http://alerter.test:9093/#/alerts?receiver=team%5C.ops+eu"),
        ('[{{ template "__description" . }}]', "[]"),
        ('{{ template "__subject" . }}', "[FIRING:1] Disk "),
        ('{{ template "__text_alert_list" .Alerts.Firing }}', FIRING_TEXT),
        # Alerts in the data's order: the resolved one (instance a) first.
        ('{{ template "__text_alert_list" .Alerts }}', RESOLVED_TEXT + FIRING_TEXT),
        ('[{{ template "__text_alert_list" list }}]', "[]"),
        ('{{ template "__text_alert_list_markdown" .Alerts.Firing }}', FIRING_MARKDOWN + "\n"),
        ('{{ template "__text_alert_list_markdown" .Alerts }}', RESOLVED_MARKDOWN + FIRING_MARKDOWN + "\n"),
        ('[{{ template "__text_alert_list_markdown" list }}]', "[\n]"),
    ],
)
def test_alertmanagers_default_definitions_render_as_there(text: str, expected: str) -> None:
    assert DEFAULTS.render(text, firing_and_resolved(), html=False) == expected


def test_default_definitions_escape_values_in_html() -> None:
    html = DEFAULTS.render('{{ template "__text_alert_list" .Alerts.Firing }}', firing_and_resolved(), True)
    assert html == FIRING_TEXT.replace("<full>", "&lt;full&gt;")


def test_an_operator_define_replaces_a_go_default(tmp_path: Path) -> None:
    # A file named like alerter's own defaults does not hide the definitions it does not make.
    (tmp_path / "defaults.gotmpl").write_text('{{ define "__alertmanager" }}Pager{{ end }}')
    loaded = Templates.from_globs([str(tmp_path / "*.gotmpl")])
    data = firing_and_resolved()
    assert loaded.render('{{ template "__alertmanager" . }}', data, False) == "Pager"
    assert loaded.render('{{ template "__text_alert_list" .Alerts.Firing }}', data, False) == FIRING_TEXT


def test_operator_templates_are_go_templates() -> None:
    data = template_data(notification([make_alert(alertname="X", dc="eu")], {"alertname": "X"}))
    render = DEFAULTS.render
    text = "[{{ .Status | toUpper }}] {{ .GroupLabels.alertname }} {{ .CommonLabels.nope }}"
    text += "({{ .CommonLabels.dc }})"
    assert render(text, data, False) == "[FIRING] X (eu)"
    # Go and the Jinja2 defaults render the same default subject.
    go_subject = (
        '[{{ .Status | toUpper }}{{ if eq .Status "firing" }}:{{ .Alerts.Firing | len }}{{ end }}] '
        '{{ .GroupLabels.SortedPairs.Values | join " " }} {{ if gt (len .CommonLabels) (len .GroupLabels) }}'
        '({{ with .CommonLabels.Remove .GroupLabels.Names }}{{ .Values | join " " }}{{ end }}){{ end }}'
    )
    assert render(go_subject, data, False) == render('{{ template "email.default.subject" . }}', data, False)
    assert render("", data, False) == ""


def test_go_errors_name_the_template_line_and_action() -> None:
    data = template_data(notification([make_alert(alertname="X")], {"alertname": "X"}))
    # Alertmanager has no email.default.text: referring to it fails there too.
    with pytest.raises(template.RenderError, match=r'at <template "email.default.text" .>: no such template'):
        DEFAULTS.render('{{ template "email.default.text" . }}', data, False)
    with pytest.raises(template.RenderError, match=r"template: inline:2: function \"upper\" not defined"):
        DEFAULTS.render("ok\n{{ .Status | upper }}", data, False)
    with pytest.raises(template.RenderError, match="can't evaluate field Alert in type struct"):
        DEFAULTS.render("{{ range .Alert }}{{ end }}", data, False)


def test_legacy_jinja2_fields_still_render() -> None:
    """Config fields written for earlier alerter releases (Jinja2) render when they are not Go."""
    data = template_data(notification([make_alert(alertname="X", instance="<a>")], {"alertname": "X"}))
    assert DEFAULTS.render("{{ Status|upper }} {{ CommonLabels.alertname }}", data, False) == "FIRING X"
    text = "{% for a in Alerts %}<p>{{ a.Labels.instance }}</p>{% endfor %}"
    assert DEFAULTS.render(text, data, True) == "<p>&lt;a&gt;</p>"
    # A missing key renders empty, like Go's missingkey=zero.
    assert DEFAULTS.render("[{{ CommonLabels.nope }}]", data, False) == "[]"


def test_values_are_data_never_code_and_html_is_escaped() -> None:
    evil = "<script>alert(1)</script> {{ 7*7 }} {% raw %}"
    data = template_data(
        notification(
            [make_alert(annotations={"summary": evil}, alertname="X", payload=evil)],
            {"alertname": "X"},
        )
    )
    text = DEFAULTS.render("{{ .CommonLabels.payload }}|{{ .CommonAnnotations.summary }}", data, False)
    assert text == f"{evil}|{evil}"
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt; {{ 7*7 }} {% raw %}"
    go_html = DEFAULTS.render("<p>{{ .CommonAnnotations.summary }}</p>", data, True)
    assert go_html == f"<p>{escaped}</p>"
    html = DEFAULTS.render('{{ template "email.default.html" . }}', data, True)
    assert "<script>" not in html
    assert escaped in html
    assert "49" not in html


def test_unsafe_links_are_neutralised_in_the_default_html() -> None:
    alert = make_alert(alertname="X")
    alert.generator_url = "javascript:alert(document.cookie)"
    html = DEFAULTS.render(
        '{{ template "email.default.html" . }}', template_data(notification([alert], {})), True
    )
    assert "javascript:" not in html
    assert 'href="#"' in html
    assert 'href="http://alerter.test:9093/#/alerts?receiver=ops"' in html


def test_sandbox_keeps_templates_away_from_python_and_the_data() -> None:
    data = template_data(notification([make_alert(alertname="X")], {}))
    for text in ("{{ .Alerts.__class__ }}", "{{ .Alerts.append 1 }}", "{{ .Receiver.upper }}"):
        with pytest.raises(template.RenderError, match=r"can't evaluate field|has arguments"):
            DEFAULTS.render(text, data, False)
    # On a map, a name is a key (missing: empty), never the dict's method.
    assert DEFAULTS.render("[{{ .GroupLabels.update }}]", data, False) == "[]"
    # The legacy Jinja2 path is Jinja2's immutable sandbox.
    with pytest.raises(template.RenderError, match="SecurityError"):
        DEFAULTS.render("{{ Alerts.append(1) }}", data, False)
    assert len(data["Alerts"]) == 1


def test_operator_template_files_define_go_templates(tmp_path: Path) -> None:
    (tmp_path / "a.tmpl").write_text(
        '{{ define "my.subject" }}{{ .Status | toUpper }} {{ template "my.who" . }}{{ end }}\n'
        '{{ define "my.who" }}{{ range .Alerts }}{{ .Labels.instance }}{{ end }}{{ end }}\n'
    )
    # Later files replace earlier definitions, as Alertmanager's globs do.
    (tmp_path / "b.tmpl").write_text('{{ define "my.who" }}<{{ len .Alerts }}>{{ end }}')
    loaded = Templates.from_globs([str(tmp_path / "*.tmpl"), str(tmp_path / "none" / "*.tmpl")])
    data = template_data(notification([make_alert(alertname="X", instance="a")], {"alertname": "X"}))
    assert loaded.render('[{{ template "my.subject" . }}]', data, False) == "[FIRING <1>]"
    # In HTML, a template's own text is markup and stays as written.
    assert loaded.render('{{ template "my.who" . }}', data, True) == "<1>"


def test_an_operator_define_replaces_a_default(tmp_path: Path) -> None:
    (tmp_path / "subject.tmpl").write_text(
        '{{ define "email.default.subject" }}custom {{ .Status }}{{ end }}'
    )
    loaded = Templates.from_globs([str(tmp_path / "*.tmpl")])
    data = template_data(notification([make_alert(alertname="X")], {}))
    assert loaded.render('{{ template "email.default.subject" . }}', data, False) == "custom firing"
    # Other defaults stay alerter's own.
    assert loaded.render('{{ template "__subject" . }}', data, False) == "[FIRING:1]  (X)"


def test_a_default_reference_needs_the_data(tmp_path: Path) -> None:
    data = template_data(notification([make_alert(alertname="X")], {}))
    with pytest.raises(template.RenderError, match="needs the notification data"):
        DEFAULTS.render('{{ template "email.default.subject" .Status }}', data, False)


def test_template_files_that_do_not_load_keep_the_templates_in_effect(tmp_path: Path) -> None:
    (tmp_path / "ok.tmpl").write_text('{{ define "ok" }}ok{{ end }}')
    loaded = Templates.from_globs([str(tmp_path / "*.tmpl")])
    (tmp_path / "bad.tmpl").write_bytes(b"\xff\xfe not utf-8")
    with pytest.raises(template.TemplateLoadError, match=r"bad\.tmpl: the file is not valid UTF-8"):
        Templates.from_globs([str(tmp_path / "*.tmpl")])
    (tmp_path / "bad.tmpl").write_text('line 1\n{{ define "x" }}{{ if .X }}\n')
    with pytest.raises(template.TemplateLoadError, match=r"template: bad\.tmpl:3: unexpected EOF"):
        Templates.from_globs([str(tmp_path / "*.tmpl")])
    assert loaded.render('{{ template "ok" . }}', {}, False) == "ok"


def test_check_reports_the_first_file_that_does_not_parse(tmp_path: Path) -> None:
    (tmp_path / ".hidden.tmpl").write_text("{{ end }}")  # Go's globs match hidden files
    assert template.check([str(tmp_path / "*.tmpl")]) == "template: .hidden.tmpl:1: unexpected {{end}}"
    (tmp_path / ".hidden.tmpl").unlink()
    assert template.check([str(tmp_path / "*.tmpl"), str(tmp_path / "missing" / "*")]) is None
