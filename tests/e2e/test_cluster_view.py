"""The cluster view on Redis: live peers in /api/v2/status and `amtool cluster show`, and what
happens when processes run different configs (the worker's config decides where a group goes)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import requests

from tests.e2e.conftest import alert, start_split, webhook_receiver, write_config
from tests.support.http_sink import HttpSink
from tests.support.ports import free_port
from tests.support.processes import ManagedProcess, alerter_command, require_binary, wait_until
from tests.support.redis_server import RedisServer


def status(url: str) -> dict:
    return requests.get(f"{url}/api/v2/status", timeout=10).json()


def cluster_with_peers(url: str, count: int) -> dict | None:
    cluster = status(url)["cluster"]
    return cluster if len(cluster["peers"]) == count else None


def test_status_lists_live_peers_and_amtool_shows_them(tmp_path: Path) -> None:
    with RedisServer() as redis:
        dep = start_split(write_config(tmp_path / "am.yml", [webhook_receiver("http://127.0.0.1:9/")]), redis)
        try:
            url = dep.web_urls[0]
            cluster = wait_until(
                lambda: cluster_with_peers(url, 4),
                timeout=15,
                message="expected 2 web and 2 worker peers",
            )
            assert cluster["status"] == "ready"
            assert sorted(p["role"] for p in cluster["peers"]) == ["web", "web", "worker", "worker"]
            assert [p["name"] for p in cluster["peers"]] == sorted(p["name"] for p in cluster["peers"])
            assert cluster["name"] in [p["name"] for p in cluster["peers"]]
            web_addresses = {p["address"] for p in cluster["peers"] if p["role"] == "web"}
            assert web_addresses == {u.removeprefix("http://") for u in dep.web_urls}

            amtool = require_binary("amtool", "prometheus-alertmanager")
            shown = subprocess.run(
                [amtool, f"--alertmanager.url={url}", "cluster", "show"],
                capture_output=True,
                text=True,
                timeout=30,
            )
            assert shown.returncode == 0, shown.stderr
            assert "Cluster Status:  ready" in shown.stdout
            assert f"Node Name:       {status(url)['cluster']['name']}" in shown.stdout

            # A stopped worker leaves the peer list.
            dep.processes[0].stop()
            wait_until(
                lambda: len(status(url)["cluster"]["peers"]) == 3, timeout=20, message="stopped peer stayed"
            )
        finally:
            dep.stop()


def test_a_worker_with_another_config_sends_only_to_receivers_its_config_names(tmp_path: Path) -> None:
    with RedisServer() as redis, HttpSink() as web_sink, HttpSink() as worker_sink:
        web_cfg = write_config(tmp_path / "web.yml", [webhook_receiver(web_sink.url, name="team")])
        worker_cfg = write_config(tmp_path / "worker.yml", [webhook_receiver(worker_sink.url, name="team")])
        common = [f"--redis.url={redis.url}", "--cluster.peer-timeout=5s"]
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        web = ManagedProcess(
            alerter_command(
                "web", f"--config.file={web_cfg}", *common, f"--web.listen-address=127.0.0.1:{port}"
            )
        )
        worker = ManagedProcess(alerter_command("worker", f"--config.file={worker_cfg}", *common))
        try:
            web.wait_http(f"{url}/-/ready", timeout=30)
            peers = wait_until(
                lambda: cluster_with_peers(url, 2),
                timeout=15,
                message="web and worker never both showed as peers",
            )["peers"]
            assert len({p["configHash"] for p in peers}) == 2
            wait_until(
                lambda: (
                    "alerter_cluster_config_mismatch_peers 1.0"
                    in requests.get(f"{url}/metrics", timeout=5).text
                ),
                timeout=15,
                message="config mismatch not reported in /metrics",
            )
            r = requests.post(f"{url}/api/v2/alerts", json=[alert("Mixed", instance="a")], timeout=10)
            assert r.status_code == 200
            [got] = worker_sink.wait_for(1, timeout=15)
            assert got.json["receiver"] == "team"
            assert web_sink.requests == []
        finally:
            web.stop()
            worker.stop()
