"""Real alerter processes for end-to-end tests: the embedded single node and the split tiers."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from app.timeutil import format_rfc3339
from tests.support.ports import free_port
from tests.support.processes import ManagedProcess, alerter_command
from tests.support.redis_server import RedisServer

# Short timers so that a whole group lifecycle fits in seconds.
TIMING = {"group_wait": "1s", "group_interval": "2s", "repeat_interval": "6s"}


def write_config(
    path: Path,
    receivers: list[dict[str, Any]],
    route: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
) -> Path:
    cfg: dict[str, Any] = {
        "route": {"receiver": receivers[0]["name"], "group_by": ["alertname"], **TIMING, **(route or {})},
        "receivers": receivers,
        **(extra or {}),
    }
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def webhook_receiver(url: str, name: str = "hook", **opts: Any) -> dict[str, Any]:
    return {"name": name, "webhook_configs": [{"url": url, **opts}]}


def alert(alertname: str, ends_in: float = 300.0, started_ago: float = 0.0, **labels: str) -> dict[str, Any]:
    """An alert as Prometheus sends it: endsAt always set, in the future while firing.

    A startsAt older than group_wait makes a new group due at once (Alertmanager's rule), so
    alerts start now unless a test says otherwise.
    """
    now = time.time()
    return {
        "labels": {"alertname": alertname, **labels},
        "annotations": {"summary": f"{alertname} on {labels.get('instance', '?')}"},
        "startsAt": format_rfc3339(now - started_ago),
        "endsAt": format_rfc3339(now + ends_in),
        "generatorURL": f"http://prometheus.test/graph?g0.expr={alertname}",
    }


@dataclass
class Deployment:
    """A running alerter: the base URLs of its web instances and every process behind it."""

    web_urls: list[str]
    processes: list[ManagedProcess] = field(default_factory=list)
    worker_urls: list[str] = field(default_factory=list)

    def post(self, alerts: list[dict[str, Any]]) -> None:
        """Send the batch to every web instance, as every Prometheus server does."""
        for url in self.web_urls:
            r = requests.post(f"{url}/api/v2/alerts", json=alerts, timeout=10)
            assert r.status_code == 200, r.text

    def get(self, path: str, **params: Any) -> Any:
        r = requests.get(f"{self.web_urls[0]}{path}", params=params, timeout=10)
        assert r.status_code == 200, r.text
        return r.json()

    def logs(self) -> str:
        return "\n".join(p.log_text() for p in self.processes)

    def stop(self) -> None:
        """Stop every process of the deployment (each waits for its own exit)."""
        for proc in self.processes:
            proc.stop()


def start_embedded(
    config: Path,
    storage: Path,
    *extra: str,
    scheme: str = "http",
    external_path: str = "",
    **ready_options: Any,
) -> Deployment:
    """alerter all-in-one; `scheme` and `ready_options` (auth, verify, cert for requests) are for
    a web configuration with TLS or basic auth. With `external_path` ("/alerter"),
    --web.external-url is this instance's own address plus that path, so everything is served
    under it, as behind a reverse proxy."""
    port = free_port()
    url = f"{scheme}://127.0.0.1:{port}{external_path}"
    proc = ManagedProcess(
        alerter_command(
            f"--config.file={config}",
            f"--storage.path={storage}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=debug",
            *([f"--web.external-url={url}/"] if external_path else []),
            *extra,
        )
    )
    proc.wait_http(f"{url}/-/ready", timeout=30, **ready_options)
    return Deployment([url], [proc])


def start_split(
    config: Path,
    redis: RedisServer | Sequence[str],
    webs: int = 2,
    workers: int = 2,
    *extra: str,
    env: Mapping[str, str | None] | None = None,
    scheme: str = "http",
    **ready_options: Any,
) -> Deployment:
    """`alerter web` and `alerter worker` processes on `redis`: a RedisServer (its --redis.url)
    or the flags that name Redis; `env` is added to their environment; `scheme` and
    `ready_options` (auth, verify, cert for requests) are for a web configuration."""
    backend = [f"--redis.url={redis.url}"] if isinstance(redis, RedisServer) else list(redis)
    common = [f"--config.file={config}", *backend, "--log.level=debug", *extra]
    dep = Deployment([])
    for _ in range(workers):
        # Each worker serves its own /metrics (its notification counters) on a port of its own.
        port = free_port()
        dep.worker_urls.append(f"{scheme}://127.0.0.1:{port}")
        dep.processes.append(
            ManagedProcess(
                alerter_command("worker", *common, f"--web.listen-address=127.0.0.1:{port}"), env=env
            )
        )
    for _ in range(webs):
        port = free_port()
        dep.processes.append(
            ManagedProcess(
                alerter_command("web", *common, f"--web.listen-address=127.0.0.1:{port}", "--web.workers=2"),
                env=env,
            )
        )
        dep.web_urls.append(f"{scheme}://127.0.0.1:{port}")
    for url, proc in zip(dep.web_urls, dep.processes[workers:], strict=True):
        proc.wait_http(f"{url}/-/ready", timeout=30, **ready_options)
    # The workers' own /metrics too: a test may read a worker's counters first thing.
    for url, proc in zip(dep.worker_urls, dep.processes[:workers], strict=True):
        proc.wait_http(f"{url}/metrics", timeout=30, **ready_options)
    return dep


@pytest.fixture(params=["embedded", "split"])
def deploy(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """A factory that starts alerter in the parametrised mode on a given config."""
    started: list[Deployment] = []
    servers: list[RedisServer] = []

    def start(config: Path) -> Deployment:
        if request.param == "embedded":
            dep = start_embedded(config, tmp_path / "data")
        else:
            redis = RedisServer()
            redis.start()
            servers.append(redis)
            dep = start_split(config, redis)
        started.append(dep)
        return dep

    yield start
    for dep in started:
        dep.stop()
    for server in servers:
        server.stop()
