"""Real clients against alerter behind --web.config.file (TLS with client certificates and basic
auth): amtool with --http.config.file, and Prometheus with tls_config and basic_auth in its
`alertmanagers` block, whose InstanceDown alert must reach the receiver."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.e2e.conftest import Deployment, start_split, webhook_receiver, write_config
from tests.e2e.test_web_config import PASSWORD, Certs, users, write_web_config
from tests.support.http_sink import HttpSink
from tests.support.processes import run_amtool
from tests.support.prometheus import RULES, MetricsTarget, Prometheus
from tests.support.redis_server import RedisServer


@pytest.fixture
def guarded(tmp_path: Path) -> Iterator[tuple[Deployment, Certs, HttpSink]]:
    certs = Certs.make(tmp_path / "tls")
    web = write_web_config(
        tmp_path / "web.yml",
        {
            "tls_server_config": {
                "cert_file": certs.file("server.pem"),
                "key_file": certs.file("server.key"),
                "client_auth_type": "RequireAndVerifyClientCert",
                "client_ca_file": certs.file("ca.pem"),
            },
            "basic_auth_users": users(),
        },
    )
    with HttpSink() as sink:
        route = {"group_wait": "1s", "group_interval": "2s", "repeat_interval": "1h"}
        config = write_config(tmp_path / "am.yml", [webhook_receiver(sink.url)], route=route)
        redis = RedisServer()
        redis.start()
        client = (certs.file("client.pem"), certs.file("client.key"))
        dep = start_split(
            config,
            redis,
            1,
            1,
            f"--web.config.file={web}",
            scheme="https",
            verify=certs.file("ca.pem"),
            cert=client,
            auth=("prometheus", PASSWORD),
        )
        try:
            yield dep, certs, sink
        finally:
            dep.stop()
            redis.stop()


def client_config(certs: Certs) -> dict[str, object]:
    """prometheus/common's http_config, as amtool and Prometheus read it."""
    return {
        "basic_auth": {"username": "prometheus", "password": PASSWORD},
        "tls_config": {
            "ca_file": certs.file("ca.pem"),
            "cert_file": certs.file("client.pem"),
            "key_file": certs.file("client.key"),
        },
    }


def test_amtool_with_an_http_config_file(guarded: tuple[Deployment, Certs, HttpSink], tmp_path: Path) -> None:
    dep, certs, sink = guarded
    http_config = tmp_path / "amtool-http.yml"
    http_config.write_text(yaml.safe_dump(client_config(certs)))
    url = dep.web_urls[0]
    run_amtool(url, f"--http.config.file={http_config}", "alert", "add", "alertname=ViaAmtool", "team=ops")
    out = run_amtool(url, f"--http.config.file={http_config}", "alert", "query", "-o", "json")
    assert [a["labels"]["alertname"] for a in yaml.safe_load(out)] == ["ViaAmtool"]
    [notification] = sink.wait_for(1, timeout=20)
    assert notification.json["commonLabels"] == {"alertname": "ViaAmtool", "team": "ops"}
    # Without the client side of the file, amtool is refused.
    with pytest.raises(AssertionError, match="exited"):
        run_amtool(url, "alert", "query")


def test_prometheus_with_tls_and_basic_auth(
    guarded: tuple[Deployment, Certs, HttpSink], tmp_path: Path
) -> None:
    dep, certs, sink = guarded
    rules = tmp_path / "rules.yml"
    rules.write_text(yaml.safe_dump(RULES, sort_keys=False))
    target = MetricsTarget().start()
    prometheus = Prometheus(tmp_path / "prometheus", rules, target, dep.web_urls, client=client_config(certs))
    try:
        prometheus.wait_ready()
        target.stop()
        [firing] = sink.wait_for(1, timeout=40)
        assert firing.json["status"] == "firing"
        assert firing.json["commonLabels"]["alertname"] == "InstanceDown"
        assert firing.json["commonLabels"]["instance"] == target.instance
    finally:
        target.stop()
        prometheus.process.stop()
