"""The webhook integration against a real local HTTP(S) server: payload (with the notification
reason and route labels), templated `url`, custom `payload`, auth, TLS, proxies, truncation,
retryability and secret-free error messages."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest

from app.alerts import Alert
from app.config import Authorization, BasicAuth, HTTPConfig, TLSConfig, WebhookConfig
from app.notify.errors import NotifyError
from app.notify.integrations._common import go_json
from app.notify.integrations.webhook import send_webhook
from app.notify.message import Notification
from app.notify.transport import USER_AGENT
from app.template import Templates
from tests.support.http_sink import HttpSink
from tests.support.sendctx import send_ctx

NOW = 1_700_000_000.0  # 2023-11-14T22:13:20Z


def make_alert(ends_at: float = NOW + 300, **labels: str) -> Alert:
    return Alert(
        labels=labels,
        annotations={"summary": f"{labels.get('instance')} is down", "runbook": "https://runbooks.test/down"},
        starts_at=NOW - 90.5,
        ends_at=ends_at,
        generator_url="http://prometheus.test/graph?g0.expr=up%3D%3D0",
        fingerprint="fp-" + labels.get("instance", "x"),
    )


def make_notification(
    alerts: list[Alert], receiver: str = "ops-hook", route_labels: dict[str, str] | None = None
) -> Notification:
    return Notification.build(
        receiver=receiver,
        group_key='{}/{severity="page"}:{alertname="InstanceDown"}',
        group_labels={"alertname": "InstanceDown"},
        alerts=alerts,
        now=NOW,
        external_url="http://alerter.test:9093",
        route_labels=route_labels,
        notification_reason="new alerts added",
    )


def down(*instances: str) -> Notification:
    return make_notification(
        [make_alert(alertname="InstanceDown", instance=i, job="node") for i in instances]
    )


def test_payload_has_alertmanagers_version_4_shape(tmp_path: Path) -> None:
    n = make_notification(
        [
            make_alert(alertname="InstanceDown", instance="b:9100", job="node"),
            make_alert(NOW - 10, alertname="InstanceDown", instance="a:9100", job="node"),
        ],
        receiver="team.ops",
        route_labels={"owner": "sre"},
    )
    with HttpSink() as sink:
        send_webhook(WebhookConfig(url=sink.url + "hooks/alerts"), n, send_ctx(5))
        [request] = sink.wait_for(1, timeout=5)

    assert request.method == "POST"
    assert request.path == "/hooks/alerts"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["User-Agent"] == USER_AGENT
    assert USER_AGENT.startswith("alerter/")
    assert "Authorization" not in request.headers
    summary = {"runbook": "https://runbooks.test/down"}
    assert request.json == {
        "receiver": r"team\.ops",  # Alertmanager regex-quotes the receiver name
        "status": "firing",
        "alerts": [
            {
                "status": "resolved",
                "labels": {"alertname": "InstanceDown", "instance": "a:9100", "job": "node"},
                "annotations": {"summary": "a:9100 is down", **summary},
                "startsAt": "2023-11-14T22:11:49.500Z",
                "endsAt": "2023-11-14T22:13:10.000Z",
                "generatorURL": "http://prometheus.test/graph?g0.expr=up%3D%3D0",
                "fingerprint": "fp-a:9100",
            },
            {
                "status": "firing",
                "labels": {"alertname": "InstanceDown", "instance": "b:9100", "job": "node"},
                "annotations": {"summary": "b:9100 is down", **summary},
                "startsAt": "2023-11-14T22:11:49.500Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://prometheus.test/graph?g0.expr=up%3D%3D0",
                "fingerprint": "fp-b:9100",
            },
        ],
        "notification_reason": "new alerts added",
        "groupLabels": {"alertname": "InstanceDown"},
        "commonLabels": {"alertname": "InstanceDown", "job": "node"},
        "commonAnnotations": summary,
        "routeLabels": {"owner": "sre"},
        "externalURL": "http://alerter.test:9093",
        "version": "4",
        "groupKey": '{}/{severity="page"}:{alertname="InstanceDown"}',
        "truncatedAlerts": 0,
    }
    # In the order Go writes the fields, encoded as Go's json.Encoder does (a final newline).
    assert list(request.json) == [
        "receiver",
        "status",
        "alerts",
        "notification_reason",
        "groupLabels",
        "commonLabels",
        "commonAnnotations",
        "routeLabels",
        "externalURL",
        "version",
        "groupKey",
        "truncatedAlerts",
    ]
    assert request.body.endswith(b"}\n")


def test_all_resolved_notification_has_status_resolved() -> None:
    n = make_notification([make_alert(NOW - 1, alertname="InstanceDown", instance="a")])
    with HttpSink() as sink:
        send_webhook(WebhookConfig(url=sink.url), n, send_ctx(5))
        payload = sink.wait_for(1, timeout=5)[0].json
    assert payload["status"] == "resolved"
    assert payload["alerts"][0]["endsAt"] == "2023-11-14T22:13:19.000Z"


def test_max_alerts_truncates_and_counts_the_rest() -> None:
    with HttpSink() as sink:
        send_webhook(WebhookConfig(url=sink.url, max_alerts=2), down("a", "b", "c", "d", "e"), send_ctx(5))
        send_webhook(WebhookConfig(url=sink.url, max_alerts=5), down("a", "b", "c", "d", "e"), send_ctx(5))
        cut, whole = (r.json for r in sink.wait_for(2, timeout=5))
    assert [a["labels"]["instance"] for a in cut["alerts"]] == ["a", "b"]
    assert cut["truncatedAlerts"] == 3
    # Common labels come from the alerts sent, as in Alertmanager.
    assert cut["commonLabels"] == {"alertname": "InstanceDown", "job": "node"}
    assert len(whole["alerts"]) == 5
    assert whole["truncatedAlerts"] == 0


@pytest.mark.parametrize("from_file", [False, True])
def test_basic_auth_header_as_received(tmp_path: Path, from_file: bool) -> None:
    secret = tmp_path / "password"
    secret.write_text("pa:ss wörd\n")
    auth = (
        BasicAuth(username="alerter", password_file=str(secret))
        if from_file
        else BasicAuth("alerter", "pa:ss wörd")
    )
    with HttpSink() as sink:
        send_webhook(
            WebhookConfig(url=sink.url, http_config=HTTPConfig(basic_auth=auth)), down("a"), send_ctx(5)
        )
        header = sink.wait_for(1, timeout=5)[0].headers["Authorization"]
    assert header == "Basic " + base64.b64encode("alerter:pa:ss wörd".encode()).decode()


def test_authorization_header_from_credentials_and_file(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("  from-file-token \n")
    configs = [
        Authorization(credentials="inline-token"),
        Authorization(type="Token", credentials_file=str(token_file)),
    ]
    with HttpSink() as sink:
        for auth in configs:
            send_webhook(
                WebhookConfig(url=sink.url, http_config=HTTPConfig(authorization=auth)),
                down("a"),
                send_ctx(5),
            )
        received = [r.headers["Authorization"] for r in sink.wait_for(2, timeout=5)]
    assert received == ["Bearer inline-token", "Token from-file-token"]


def test_url_file_is_read_at_send_time(tmp_path: Path) -> None:
    url_file = tmp_path / "url"
    with HttpSink() as sink:
        url_file.write_text(sink.url + "first\n")
        cfg = WebhookConfig(url_file=str(url_file))
        send_webhook(cfg, down("a"), send_ctx(5))
        url_file.write_text(sink.url + "second")
        send_webhook(cfg, down("a"), send_ctx(5))
        assert [r.path for r in sink.wait_for(2, timeout=5)] == ["/first", "/second"]
    with pytest.raises(NotifyError, match="cannot read url_file") as missing:
        send_webhook(WebhookConfig(url_file=str(tmp_path / "absent")), down("a"), send_ctx(5))
    assert not missing.value.retryable


@pytest.mark.parametrize("status", [400, 401, 404, 422, 429])
def test_client_errors_are_permanent_and_name_what_to_check(status: int) -> None:
    with HttpSink(statuses=[status]) as sink:
        url = sink.url + "services/T000/B000/XXXXSECRET?token=hunter2"
        with pytest.raises(NotifyError) as failure:
            send_webhook(WebhookConfig(url=url), down("a"), send_ctx(5))
    err = failure.value
    assert not err.retryable
    assert f"answered {status}" in str(err)
    assert f"http://127.0.0.1:{sink.port}/<redacted>" in str(err)
    for secret in ("services", "XXXXSECRET", "hunter2"):
        assert secret not in str(err)
    if status == 401:
        assert "check basic_auth, authorization or oauth2" in str(err)


def test_server_errors_are_retryable_and_a_retry_can_succeed() -> None:
    with HttpSink(statuses=[500, 503]) as sink:
        for _ in range(2):
            with pytest.raises(NotifyError, match="will retry") as failure:
                send_webhook(WebhookConfig(url=sink.url), down("a"), send_ctx(5))
            assert failure.value.retryable
        send_webhook(WebhookConfig(url=sink.url), down("a"), send_ctx(5))
        assert len(sink.wait_for(3, timeout=5)) == 3


def test_unreachable_receiver_is_retryable_without_leaking_the_url() -> None:
    with HttpSink() as sink:
        port = sink.port
    url = f"http://user:pw@127.0.0.1:{port}/secret-path?key=abc"  # the sink is closed now
    with pytest.raises(NotifyError, match="connection failed") as failure:
        send_webhook(WebhookConfig(url=url), down("a"), send_ctx(5))
    assert failure.value.retryable
    assert f"http://127.0.0.1:{port}/<redacted>" in str(failure.value)
    for secret in ("user", "pw@", "secret-path", "abc"):
        assert secret not in str(failure.value)


def test_unreadable_credentials_file_is_reported(tmp_path: Path) -> None:
    auth = HTTPConfig(basic_auth=BasicAuth(username="u", password_file=str(tmp_path / "gone")))
    with HttpSink() as sink:
        with pytest.raises(NotifyError, match="cannot read basic_auth password_file"):
            send_webhook(WebhookConfig(url=sink.url, http_config=auth), down("a"), send_ctx(5))
        assert sink.requests == []


# alerter silences this warning process-wide; pytest re-enables warnings for every test.
@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_tls_verification_with_ca_file_server_name_and_insecure_skip_verify() -> None:
    with HttpSink(tls=True) as sink:
        with pytest.raises(NotifyError, match=r"TLS handshake failed.*check tls_config") as untrusted:
            send_webhook(WebhookConfig(url=sink.url), down("a"), send_ctx(5))
        assert untrusted.value.retryable

        trusted = HTTPConfig(tls_config=TLSConfig(ca_file=sink.ca_file))
        send_webhook(WebhookConfig(url=sink.url, http_config=trusted), down("a"), send_ctx(5))

        # server_name: the certificate is checked against that name, not the dialled address.
        named = HTTPConfig(tls_config=TLSConfig(ca_file=sink.ca_file, server_name="localhost"))
        send_webhook(WebhookConfig(url=sink.url, http_config=named), down("a"), send_ctx(5))
        wrong = HTTPConfig(tls_config=TLSConfig(ca_file=sink.ca_file, server_name="other.test"))
        with pytest.raises(NotifyError, match="TLS handshake failed"):
            send_webhook(WebhookConfig(url=sink.url, http_config=wrong), down("a"), send_ctx(5))

        insecure = HTTPConfig(tls_config=TLSConfig(insecure_skip_verify=True))
        send_webhook(WebhookConfig(url=sink.url, http_config=insecure), down("a"), send_ctx(5))
        assert len(sink.wait_for(3, timeout=5)) == 3


def test_client_certificate_is_presented() -> None:
    with HttpSink(tls=True, client_ca=True) as sink:
        tls = TLSConfig(ca_file=sink.ca_file, cert_file=sink.client_cert_file, key_file=sink.client_key_file)
        send_webhook(
            WebhookConfig(url=sink.url, http_config=HTTPConfig(tls_config=tls)), down("a"), send_ctx(5)
        )
        assert sink.wait_for(1, timeout=5)[0].client_cert_subject == "alerter-client"

        inline = TLSConfig(
            ca_file=sink.ca_file,
            cert=Path(sink.client_cert_file).read_text(),
            key=Path(sink.client_key_file).read_text(),
        )
        send_webhook(
            WebhookConfig(url=sink.url, http_config=HTTPConfig(tls_config=inline)), down("a"), send_ctx(5)
        )
        assert sink.wait_for(2, timeout=5)[1].client_cert_subject == "alerter-client"


def test_bad_tls_config_is_a_permanent_error(tmp_path: Path) -> None:
    tls = TLSConfig(ca_file=str(tmp_path / "missing-ca.pem"))
    with pytest.raises(NotifyError, match="cannot load the CA") as failure:
        send_webhook(
            WebhookConfig(url="https://127.0.0.1:1/", http_config=HTTPConfig(tls_config=tls)),
            down("a"),
            send_ctx(5),
        )
    assert not failure.value.retryable


def test_proxy_url_carries_the_request() -> None:
    with HttpSink() as proxy:
        cfg = WebhookConfig(
            url="http://receiver.invalid/hook?t=1", http_config=HTTPConfig(proxy_url=proxy.url)
        )
        send_webhook(cfg, down("a"), send_ctx(5))
        request = proxy.wait_for(1, timeout=5)[0]
    assert request.path == "http://receiver.invalid/hook?t=1"  # absolute-form target: it went via the proxy
    assert request.json["version"] == "4"


def test_connections_are_reused_across_sends() -> None:
    with HttpSink() as sink:
        for _ in range(3):
            send_webhook(WebhookConfig(url=sink.url), down("a"), send_ctx(5))
        ports = {r.client_port for r in sink.wait_for(3, timeout=5)}
    assert len(ports) == 1


def test_redirects_are_not_followed_when_disabled() -> None:
    with HttpSink(statuses=[302]) as sink:
        cfg = WebhookConfig(url=sink.url, http_config=HTTPConfig(follow_redirects=False))
        with pytest.raises(NotifyError, match=r"answered 302.*redirects") as failure:
            send_webhook(cfg, down("a"), send_ctx(5))
    assert not failure.value.retryable


# --- templated url --------------------------------------------------------------------------


def test_a_templated_url_is_rendered_for_each_notification() -> None:
    with HttpSink() as sink:
        cfg = WebhookConfig(
            url=sink.url + "hooks/{{ .CommonLabels.alertname }}/{{ .CommonLabels.job | toLower }}"
        )
        send_webhook(cfg, down("a"), send_ctx(5))
        other = make_notification([make_alert(alertname="DiskFull", job="DB")])
        send_webhook(cfg, other, send_ctx(5))
        paths = [r.path for r in sink.wait_for(2, timeout=5)]
    assert paths == ["/hooks/InstanceDown/node", "/hooks/DiskFull/db"]


def test_a_url_file_is_a_template_too(tmp_path: Path) -> None:
    with HttpSink() as sink:
        url_file = tmp_path / "url"
        url_file.write_text(sink.url + "by-receiver/{{ .Receiver }}\n")
        send_webhook(WebhookConfig(url_file=str(url_file)), down("a"), send_ctx(5))
        assert sink.wait_for(1, timeout=5)[0].path == "/by-receiver/ops-hook"


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        (
            "{{ .CommonLabels.target }}",
            "the URL is empty after templating; check the template in url or url_file",
        ),
        ("{{ .CommonLabels.job }}://hooks.test/t0k3n", 'not valid (unsupported scheme "node" for URL)'),
        ("http://hooks.test/{{ .CommonLabels.job }}\n", "not valid (net/url: invalid control character"),
        ("http://hooks.test/{{ .Nope }}", "cannot render the webhook url template"),
    ],
)
def test_a_url_template_that_gives_no_usable_url_is_a_permanent_error(url: str, problem: str) -> None:
    with pytest.raises(NotifyError) as failure:
        send_webhook(WebhookConfig(url=url), down("a"), send_ctx(5))
    assert not failure.value.retryable
    assert problem in str(failure.value)
    assert "t0k3n" not in str(failure.value) and "hooks.test" not in str(failure.value)


def test_errors_of_a_templated_url_do_not_quote_its_path() -> None:
    with pytest.raises(NotifyError) as failure:
        send_webhook(
            WebhookConfig(url="http://127.0.0.1:1/{{ .CommonLabels.job }}?token=hunter2"),
            down("a"),
            send_ctx(5),
        )
    assert failure.value.retryable
    assert "http://127.0.0.1:1/<redacted>" in str(failure.value)
    assert "hunter2" not in str(failure.value) and "node" not in str(failure.value)


# --- custom payload --------------------------------------------------------------------------


def test_a_custom_payload_is_rendered_and_read_as_alertmanager_does() -> None:
    custom = {
        # "FIRING: InstanceDown" reads as a YAML map, so Alertmanager sends a map; so does alerter.
        "text": "{{ .Status | toUpper }}: {{ .CommonLabels.alertname }}",
        "title": "{{ .Status | toUpper }} {{ .CommonLabels.alertname }}",
        "count": "{{ len .Alerts }}",  # rendered "2", read as YAML: the number 2
        "instances": "{{ range .Alerts }}- {{ .Labels.instance }}\n{{ end }}",  # a YAML list
        "labels": "{{ .CommonLabels | toJson }}",  # JSON is YAML: a map
        "quoted": "'{{ len .Alerts }}'",  # a YAML string stays the string, quotes included
        "static": 5,
        "nested": {"{{ .Status }}": ["{{ .ExternalURL }}", True, None]},
        "reason": "{{ .NotificationReason }}",
        "group": "{{ .GroupLabels.alertname }}",
        1: "not a string key: left out, as Alertmanager does",
    }
    with HttpSink() as sink:
        send_webhook(WebhookConfig(url=sink.url, payload=custom), down("a", "b"), send_ctx(5))
        [request] = sink.wait_for(1, timeout=5)
    assert request.json == {
        "count": 2,
        "group": "InstanceDown",
        "instances": ["a", "b"],
        "labels": {"alertname": "InstanceDown", "job": "node"},
        "nested": {"firing": ["http://alerter.test:9093", True, None]},
        "quoted": "'2'",
        "reason": "new alerts added",
        "static": 5,
        "text": {"FIRING": "InstanceDown"},
        "title": "FIRING InstanceDown",
    }
    assert list(request.json) == sorted(request.json)  # Go writes map keys sorted
    assert request.headers["Content-Type"] == "application/json"


def test_a_custom_payload_template_string_can_produce_the_whole_document() -> None:
    templates = Templates(
        {
            "custom.tmpl": '{{ define "hook.json" }}{"state": "{{ .Status }}", '
            '"hosts": [{{ range $i, $a := .Alerts }}{{ if $i }}, {{ end }}"{{ $a.Labels.instance }}"'
            "{{ end }}]}{{ end }}"
        }
    )
    with HttpSink() as sink:
        cfg = WebhookConfig(url=sink.url, payload='{{ template "hook.json" . }}', max_alerts=2)
        send_webhook(cfg, down("a", "b", "c"), send_ctx(5, templates))
        [request] = sink.wait_for(1, timeout=5)
    # max_alerts cuts the alerts before the payload is rendered.
    assert request.json == {"hosts": ["a", "b"], "state": "firing"}


def test_templates_see_route_labels_as_rendered_and_the_notification_reason() -> None:
    n = make_notification(
        [make_alert(alertname="InstanceDown", instance="a")],
        route_labels={"owner": "db", "raw": "{{ .Status }}"},
    )
    custom = {
        "owner": "{{ .RouteLabels.owner }}",
        "fn": '{{ routeLabels "owner" }}',
        # Route labels arrive rendered: routeLabels returns them as they are, never renders again.
        "verbatim": '{{ routeLabels "raw" }}',
        "missing": '{{ routeLabels "nope" }}',
        "why": "{{ .NotificationReason }}",
    }
    with HttpSink() as sink:
        send_webhook(WebhookConfig(url=sink.url, payload=custom), n, send_ctx(5))
        [request] = sink.wait_for(1, timeout=5)
    assert request.json == {
        "fn": "db",
        "missing": None,  # an empty rendering reads as YAML null, as in Alertmanager
        "owner": "db",
        "verbatim": "{{ .Status }}",
        "why": "new alerts added",
    }


@pytest.mark.parametrize(
    ("custom", "problem"),
    [
        ({"text": "{{ .GroupKey }}"}, "cannot render the payload template"),  # the data, not the message
        ({"{{ .Nope }}": "x"}, "cannot render the payload template"),
        ({"big": "{{ if true }}.inf{{ end }}"}, "payload template: json: unsupported value: inf"),
    ],
)
def test_a_custom_payload_that_cannot_be_rendered_is_a_permanent_error(custom: Any, problem: str) -> None:
    with HttpSink() as sink:
        with pytest.raises(NotifyError) as failure:
            send_webhook(WebhookConfig(url=sink.url, payload=custom), down("a"), send_ctx(5))
        assert sink.requests == []
    assert not failure.value.retryable
    assert problem in str(failure.value)


@pytest.mark.parametrize(
    ("text", "encoded"),
    [
        ("a<b>&c", b'"a\\u003cb\\u003e\\u0026c"\n'),
        # The line separators are escaped; other characters whose UTF-8 form starts with the
        # same byte (U+2000 to U+2FFF: an ellipsis, an arrow) are sent as they are, as by Go.
        ("x\u2028y\u2029z", b'"x\\u2028y\\u2029z"\n'),
        ("a\u2026b\u2192c", '"a\u2026b\u2192c"\n'.encode()),
        ("\u2026<\u2029", b'"\xe2\x80\xa6\\u003c\\u2029"\n'),
    ],
)
def test_go_json_escapes_as_go_encodes(text: str, encoded: bytes) -> None:
    assert go_json(text) == encoded
