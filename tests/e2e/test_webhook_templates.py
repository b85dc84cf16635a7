"""A webhook whose `url` is a template and whose `payload` is the operator's own structure, end
to end on real processes (embedded and split): each group's notification reaches the path its
labels render to, with the custom body, and a templates file's definition can build the body."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.conftest import alert, write_config
from tests.support.http_sink import HttpSink

TEMPLATE = (
    '{{ define "hook.body" }}{"summary": "{{ .Status }}: {{ len .Alerts }} x {{ .CommonLabels.alertname }}"}'
    "{{ end }}"
)


def test_templated_url_and_custom_payload_reach_the_receiver(deploy, tmp_path: Path) -> None:
    (tmp_path / "hook.tmpl").write_text(TEMPLATE)
    with HttpSink() as sink:
        receivers = [
            {
                "name": "hook",
                "webhook_configs": [
                    {
                        "url": sink.url
                        + "teams/{{ .CommonLabels.team }}/{{ .GroupLabels.alertname | toLower }}",
                        "payload": {
                            "title": "[{{ .Status | toUpper }}] {{ .GroupLabels.alertname }}",
                            "count": "{{ len .Alerts }}",
                            "instances": "{{ range .Alerts }}- {{ .Labels.instance }}\n{{ end }}",
                            "static": 7,
                        },
                    },
                    {
                        "url": sink.url + "body/{{ .CommonLabels.team }}",
                        "payload": '{{ template "hook.body" . }}',
                    },
                ],
            }
        ]
        config = write_config(tmp_path / "am.yml", receivers, extra={"templates": [str(tmp_path / "*.tmpl")]})
        dep = deploy(config)
        dep.post(
            [
                alert("DiskFull", instance="db-1", team="storage"),
                alert("DiskFull", instance="db-2", team="storage"),
            ]
        )
        requests = sink.wait_for(2, timeout=20)
        by_path = {r.path: r for r in requests}
        assert set(by_path) == {"/teams/storage/diskfull", "/body/storage"}
        assert by_path["/teams/storage/diskfull"].json == {
            "count": 2,
            "instances": ["db-1", "db-2"],
            "static": 7,
            "title": "[FIRING] DiskFull",
        }
        assert by_path["/body/storage"].json == {"summary": "firing: 2 x DiskFull"}
