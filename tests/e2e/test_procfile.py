"""The Procfile run by a real Procfile runner (honcho) from a clean clone, with nothing but
REDIS_URL and PORT set, as README's "Deploy with a Procfile" shows: both processes come up and
join the cluster view, an alert goes in, one notification comes out, and SIGTERM to the runner
ends everything cleanly with nothing sent twice."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import yaml

from tests.e2e.conftest import alert
from tests.support.http_sink import HttpSink
from tests.support.ports import free_port
from tests.support.processes import REPO_ROOT, ManagedProcess, holds, wait_until
from tests.support.redis_server import RedisServer

HONCHO = Path(sys.executable).with_name("honcho")


def clean_clone(destination: Path) -> Path:
    """The repository's tracked files as they are in this checkout (a clone of the commit under
    test, uncommitted edits to tracked files included)."""
    tracked = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO_ROOT, capture_output=True, check=True
    ).stdout.split(b"\0")
    for name in filter(None, (t.decode() for t in tracked)):
        source = REPO_ROOT / name
        if source.is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name)
    return destination


@pytest.fixture
def redis() -> Iterator[RedisServer]:
    server = RedisServer()
    server.start()
    yield server
    server.stop()


def run_procfile(clone: Path, redis: RedisServer, **env: str) -> tuple[ManagedProcess, str]:
    """`honcho start web worker` in the clone with only the platform's variables: the release
    process (check-config) runs at deploy time on a platform, not beside the others."""
    if not HONCHO.exists():
        pytest.fail(f"{HONCHO} is missing: scripts/test installs honcho with the test dependencies")
    port = free_port()
    platform = {
        "REDIS_URL": redis.url,
        "PORT": str(port),
        "PATH": f"{HONCHO.parent}{os.pathsep}{os.environ['PATH']}",
        **env,
    }
    cleared: dict[str, str | None] = {k: None for k in os.environ if k.startswith(("ALERTER_", "WEB_"))}
    proc = ManagedProcess([str(HONCHO), "start", "web", "worker"], env={**cleared, **platform}, cwd=clone)
    url = f"http://127.0.0.1:{port}"
    proc.wait_http(f"{url}/-/ready", timeout=60)
    return proc, url


def roles(url: str) -> list[str]:
    peers = requests.get(f"{url}/api/v2/status", timeout=10).json()["cluster"]["peers"]
    return sorted(p["role"] for p in peers)


def test_the_repository_example_runs_from_a_clean_clone(tmp_path: Path, redis: RedisServer) -> None:
    clone = clean_clone(tmp_path / "clone")
    proc, url = run_procfile(clone, redis)
    try:
        wait_until(lambda: roles(url) == ["web", "worker"], 30, message="web and worker did not both join")
        original = requests.get(f"{url}/api/v2/status", timeout=10).json()["config"]["original"]
        example = yaml.safe_load((clone / "config" / "alertmanager.yml").read_text())
        loaded = yaml.safe_load(original)
        assert [r["name"] for r in loaded["receivers"]] == [r["name"] for r in example["receivers"]]
    finally:
        proc.stop()


def test_deploy_with_a_procfile(tmp_path: Path, redis: RedisServer) -> None:
    clone = clean_clone(tmp_path / "clone")
    with HttpSink() as sink:
        config = {
            "route": {
                "receiver": "hook",
                "group_by": ["alertname"],
                "group_wait": "1s",
                "group_interval": "2s",
            },
            "receivers": [{"name": "hook", "webhook_configs": [{"url": sink.url}]}],
        }
        # The platform has no disk: the configuration comes in an environment variable.
        proc, url = run_procfile(clone, redis, ALERTER_CONFIG_YAML=yaml.safe_dump(config))
        try:
            wait_until(
                lambda: roles(url) == ["web", "worker"], 30, message="web and worker did not both join"
            )
            r = requests.post(f"{url}/api/v2/alerts", json=[alert("DeployCheck")], timeout=10)
            assert r.status_code == 200, r.text
            [notification] = sink.wait_for(1, timeout=30)
            assert notification.json["commonLabels"]["alertname"] == "DeployCheck"
            # A dyno restart: SIGTERM to the runner, which passes it on to web and worker. honcho
            # itself then exits 128+15, as a process ended by SIGTERM does.
            proc.popen.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=40) == 128 + signal.SIGTERM, proc.log_tail()
        finally:
            proc.stop()
        log = proc.log_text()
        # Each process drained and exited by itself, with success.
        assert "web.1 stopped (rc=0)" in log and "worker.1 stopped (rc=0)" in log, log
        with pytest.raises(requests.ConnectionError):
            requests.get(f"{url}/-/healthy", timeout=2)
        holds(lambda: len(sink.requests) == 1, 3, lambda: f"sent again: {sink.requests}")
