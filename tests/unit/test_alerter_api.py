"""The web UI's files and alerter's own read API (/api/alerter/v1) through Flask's test client;
the Redis view also against a real redis-server and Sentinel."""

from __future__ import annotations

import re
import time
from dataclasses import replace
from pathlib import Path

import fakeredis
import pytest
import yaml
from flask.testing import FlaskClient

from app import history
from app.history import AttemptOutcome
from app.runtime import Runtime
from app.settings import Settings
from app.ui import STATIC
from app.web import create_app
from tests.support.redis_server import RedisServer, SentinelServer
from tests.unit.test_notify import task_for

CONFIG = {
    "route": {"receiver": "team", "group_by": ["alertname"]},
    "receivers": [
        {"name": "team", "webhook_configs": [{"url": "http://127.0.0.1:9/"}]},
        {"name": "team-b", "webhook_configs": [{"url": "http://127.0.0.1:9/b"}]},
    ],
}


def runtime(tmp_path: Path, **settings: str) -> Runtime:
    path = tmp_path / "am.yml"
    path.write_text(yaml.safe_dump(CONFIG))
    return Runtime(
        Settings(config_file=str(path), storage_path=str(tmp_path), **settings),
        fakeredis.FakeRedis(server=fakeredis.FakeServer()),
    )


@pytest.fixture
def rt(tmp_path: Path) -> Runtime:
    return runtime(tmp_path)


@pytest.fixture
def client(rt: Runtime) -> FlaskClient:
    return create_app(rt).test_client()


def test_the_page_is_served_at_the_root_with_a_strict_content_security_policy(client: FlaskClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert b'<script type="module" src="assets/main.js">' in page.data
    policy = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe" not in policy
    assert page.headers["Cache-Control"] == "no-cache"
    script = client.get("/assets/pages/alerts.js")
    assert script.status_code == 200 and script.mimetype == "text/javascript"
    assert client.get("/assets/app.css").mimetype == "text/css"
    assert client.get("/assets/nothing.js").status_code == 404
    assert client.get("/assets/../__init__.py").status_code == 404
    assert client.get("/assets/%2e%2e/__init__.py").status_code == 404


def test_every_module_the_page_imports_is_served(client: FlaskClient) -> None:
    """Follow the imports from main.js: a renamed or missing module would leave a blank page."""
    seen: set[str] = set()
    todo = ["main.js"]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        # Buffered: the response is read and closed, as a server closes it, which gives its GET
        # slot (--web.get-concurrency) back.
        r = client.get(f"/assets/{name}", buffered=True)
        assert r.status_code == 200, name
        base = name.rsplit("/", 1)[0] + "/" if "/" in name else ""
        for target in re.findall(r'from "(\.{1,2}/[^"]+)"', r.get_data(as_text=True)):
            parts = (base + target).split("/")
            resolved: list[str] = []
            for part in parts:
                if part == "..":
                    resolved.pop()
                elif part != ".":
                    resolved.append(part)
            todo.append("/".join(resolved))
    on_disk = {str(p.relative_to(STATIC / "assets")) for p in (STATIC / "assets").rglob("*.js")}
    assert seen == on_disk  # and no module lies unused


def test_under_a_route_prefix_the_page_moves_with_the_api(tmp_path: Path) -> None:
    client = create_app(runtime(tmp_path, external_url="http://proxy.example/alerter/")).test_client()
    assert client.get("/alerter/").status_code == 200
    assert client.get("/alerter").status_code == 308  # to the page's own address, "/alerter/"
    assert client.get("/alerter/assets/main.js").status_code == 200
    assert client.get("/alerter/api/alerter/v1/workers").status_code == 200
    assert client.get("/").status_code == 404


def record(rt: Runtime, name: str, receiver: str, outcome: AttemptOutcome = "sent", **labels: str) -> str:
    task = task_for(name)
    task.group.labels.update(labels)
    task.target = replace(task.target, receiver=receiver)
    history.record_attempt(rt.nflog, task, 1, outcome)
    return task.group.gid


def test_history_lists_groups_filtered_like_the_alert_groups(rt: Runtime, client: FlaskClient) -> None:
    record(rt, "Disk", "team", severity="critical")
    record(rt, "Cpu", "team-b", "failed", severity="warning")
    history.flush()

    def names(query: str) -> list[str]:
        r = client.get(f"/api/alerter/v1/history{query}")
        assert r.status_code == 200, r.get_json()
        return [g["labels"]["alertname"] for g in r.get_json()["groups"]]

    assert names("") == ["Cpu", "Disk"]  # latest attempt first
    assert names("?receiver=team") == ["Disk"]  # anchored, as in GET /api/v2/alerts/groups
    assert names("?receiver=team.*") == ["Cpu", "Disk"]
    assert names("?filter=severity%3D%22critical%22") == ["Disk"]
    assert names("?filter=severity%3D~%22.*ing%22&receiver=team-b") == ["Cpu"]
    cpu = client.get("/api/alerter/v1/history?receiver=team-b").get_json()["groups"][0]
    assert (
        cpu["latest"]["outcome"] == "failed"
        and cpu["kept"] == 1
        and cpu["groupKey"] == '{}:{alertname="Cpu"}'
    )


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("?recever=team", "unknown query parameter recever (this endpoint takes: filter, receiver)"),
        ("?filter=severity", "bad matcher format: severity"),
        ("?receiver=(", "failed to parse receiver param"),
    ],
)
def test_history_refuses_what_it_cannot_honour(client: FlaskClient, query: str, message: str) -> None:
    r = client.get(f"/api/alerter/v1/history{query}")
    assert r.status_code == 400
    assert r.get_json().startswith(message)


def test_one_groups_history_has_its_attempts_and_its_log_entries(rt: Runtime, client: FlaskClient) -> None:
    gid = record(rt, "Disk", "team")
    history.flush()
    task = task_for("Disk")
    verdict, lease = rt.nflog.acquire(task.log_field, "", task.firing_set, task.resolved_set, ttl=15)
    assert verdict == "ok" and lease is not None
    rt.nflog.commit(lease, task.firing_set, task.resolved_set, time.time(), 3600)

    body = client.get(f"/api/alerter/v1/history/{gid}").get_json()
    assert body["group"]["id"] == gid and body["group"]["receiver"] == "team"
    assert [(a["outcome"], a["attempt"]) for a in body["attempts"]] == [("sent", 1)]
    [entry] = body["log"]
    assert (entry["receiver"], entry["integration"], entry["index"]) == ("team", "webhook", 0)
    assert entry["firing"] == sorted(task.firing_set) and entry["resolved"] == []
    missing = client.get("/api/alerter/v1/history/0123abcd")
    assert missing.status_code == 404 and missing.get_json() == "no notification history for group 0123abcd"
    assert client.get(f"/api/alerter/v1/history/{gid}?limit=5").status_code == 400


def test_the_workers_view_counts_jobs_overdue_timers_and_leases(rt: Runtime, client: FlaskClient) -> None:
    rt.enqueue_flushes(["g1", "g2"])
    rt.enqueue_housekeeping()
    now = time.time()
    rt.client.sadd(rt.keys.groups, "g1", "g2", "g3")
    rt.client.zadd(rt.keys.timers, {"g1": now - 30, "g2": now - 0.2, "g3": now + 60})
    rt.client.set(rt.keys.inflight("g1"), "1", px=15000)
    rt.client.set(rt.keys.lease("ab12"), "4242.x.1", px=15000)

    view = client.get("/api/alerter/v1/workers").get_json()
    assert view["queue"] == {"name": "alerter", "waiting": 2, "running": 0, "failed": 0}
    timers = view["timers"]
    assert (timers["groups"], timers["armed"], timers["overdue"], timers["inFlight"]) == (3, 3, 1, 1)
    assert 29 < timers["mostOverdueSeconds"] < 60 and 0 < timers["nextDueInSeconds"] <= 60
    assert view["leases"]["count"] == 1
    [lease] = view["leases"]["held"]
    assert lease["lease"] == "ab12" and lease["holder"] == "4242.x.1" and 0 < lease["expiresInSeconds"] <= 15
    assert view["workers"] == []
    assert client.get("/api/alerter/v1/workers?all=1").status_code == 400


def test_the_redis_view_embedded(client: FlaskClient, tmp_path: Path) -> None:
    assert client.get("/api/alerter/v1/redis").get_json() == {
        "mode": "embedded",
        "storagePath": str(tmp_path),
    }


def test_the_redis_view_names_the_server_and_the_sentinels_master(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    path = tmp_path / "am.yml"
    path.write_text(yaml.safe_dump(CONFIG))
    plain = create_app(Runtime(Settings(config_file=str(path), redis_url=redis_server.url))).test_client()
    view = plain.get("/api/alerter/v1/redis").get_json()
    assert (view["mode"], view["address"], view["role"], view["sentinel"]) == (
        "redis",
        f"127.0.0.1:{redis_server.port}",
        "master",
        None,
    )
    assert view["version"] and view["connectedReplicas"] == 0

    with SentinelServer("alerter", redis_server.port, quorum=1) as sentinel:
        settings = Settings(config_file=str(path), cluster_peers=[f"127.0.0.1:{sentinel.port}"])
        view = create_app(Runtime(settings)).test_client().get("/api/alerter/v1/redis").get_json()
    assert view["mode"] == "sentinel" and view["role"] == "master"
    assert view["sentinel"] == {
        "service": "alerter",
        "master": f"127.0.0.1:{redis_server.port}",
        "sentinels": [f"127.0.0.1:{sentinel.port}"],
    }
