"""`mutedBy` and the `muted` filter of GET /api/v2/alerts/groups (Alertmanager 0.28+), through
Flask's test client and real flushes of the dispatcher on an in-process Redis.

Alertmanager's time stages mark a group at each flush with the time intervals muting it (the
group marker); the API shows that mark on the group's alerts and `muted=false` leaves marked
groups out. Before its first flush a group has no mark.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import fakeredis
import pytest
import yaml
from flask.testing import FlaskClient

from app.notify import integrations
from app.runtime import Runtime
from app.settings import Settings
from app.timeutil import format_rfc3339
from app.web import create_app

ALWAYS = {"name": "always", "time_intervals": [{"times": [{"start_time": "00:00", "end_time": "24:00"}]}]}
# Two intervals that both hold at any time: Alertmanager names the interval once for each.
TWICE = {"name": "twice", "time_intervals": [{}, {"weekdays": ["sunday:saturday"]}]}
NEVER = {"name": "never", "time_intervals": [{"years": ["1990"]}]}


def config(muting: bool = True) -> dict[str, Any]:
    routes = [
        {"matchers": ["team=db"], "mute_time_intervals": ["never", "always", "twice"] if muting else []},
        {"matchers": ["team=night"], "active_time_intervals": ["never"] if muting else []},
        # Another group for the same alert, with more labels, so shown after the others.
        {"matchers": ["team=db"], "receiver": "other", "group_by": ["alertname", "team"]},
    ]
    routes[0]["continue"] = True
    return {
        "route": {"receiver": "team", "group_by": ["alertname"], "routes": routes},
        "receivers": [
            {"name": "team", "webhook_configs": [{"url": "http://127.0.0.1:9/"}]},
            {"name": "other", "webhook_configs": [{"url": "http://127.0.0.1:9/o"}]},
        ],
        "time_intervals": [ALWAYS, TWICE, NEVER],
    }


@pytest.fixture
def rt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Runtime:
    monkeypatch.setitem(integrations.SENDERS, "webhook", lambda cfg, n, ctx: None)
    path = tmp_path / "am.yml"
    path.write_text(yaml.safe_dump(config()))
    settings = Settings(config_file=str(path), storage_path=str(tmp_path), external_url="http://am.example/")
    return Runtime(settings, fakeredis.FakeRedis(server=fakeredis.FakeServer()))


@pytest.fixture
def client(rt: Runtime) -> FlaskClient:
    client = create_app(rt).test_client()
    now = time.time()
    body = [
        {"labels": labels, "startsAt": format_rfc3339(now), "endsAt": format_rfc3339(now + 300)}
        for labels in (
            {"alertname": "Db", "team": "db"},
            {"alertname": "Night", "team": "night"},
            {"alertname": "Web"},
        )
    ]
    assert client.post("/api/v2/alerts", json=body).status_code == 200
    return client


def flush_all(rt: Runtime) -> None:
    rt.dispatcher.flush_many(rt.store.group_ids(), "http://am.example/", lambda _: None)


def groups(client: FlaskClient, query: str = "") -> list[tuple[str, str, list[dict[str, Any]]]]:
    """(alertname, receiver, the alerts' statuses) of each group, in the API's order."""
    return [
        (g["labels"]["alertname"], g["receiver"]["name"], [a["status"] for a in g["alerts"]])
        for g in client.get(f"/api/v2/alerts/groups{query}").get_json()
    ]


def status(state: str = "active", muted_by: list[str] | None = None) -> dict[str, Any]:
    return {"state": state, "silencedBy": [], "inhibitedBy": [], "mutedBy": muted_by or []}


def test_a_group_has_no_muted_mark_before_its_first_flush(client: FlaskClient) -> None:
    assert groups(client) == [
        ("Db", "team", [status()]),
        ("Night", "team", [status()]),
        ("Web", "team", [status()]),
        ("Db", "other", [status()]),
    ]
    assert len(groups(client, "?muted=false")) == 4


def test_flushed_groups_show_the_time_intervals_muting_them(rt: Runtime, client: FlaskClient) -> None:
    flush_all(rt)
    # Inside mute time intervals: those holding now, each once per interval of it that does;
    # outside its active time intervals: all of them. Either makes the alerts suppressed.
    assert groups(client) == [
        ("Db", "team", [status("suppressed", ["always", "twice", "twice"])]),
        ("Night", "team", [status("suppressed", ["never"])]),
        ("Web", "team", [status()]),
        ("Db", "other", [status()]),
    ]
    assert groups(client, "?muted=true") == groups(client)
    # muted=false leaves the muted groups out; the Db alert's other group stays, and its alert
    # still names the receiver of the group left out, as in Alertmanager.
    assert groups(client, "?muted=false") == [("Web", "team", [status()]), ("Db", "other", [status()])]
    shown = client.get("/api/v2/alerts/groups?muted=false").get_json()
    [db_other] = [g for g in shown if g["receiver"]["name"] == "other"]
    assert db_other["alerts"][0]["receivers"] == [{"name": "other"}, {"name": "team"}]
    # The filters read the status before the mark: a muted alert is still "active" to them.
    assert [(name, receiver) for name, receiver, _ in groups(client, "?active=false")] == []
    # GET /alerts belongs to no group: mutedBy stays empty there, as in Alertmanager.
    alerts = client.get("/api/v2/alerts").get_json()
    assert [a["status"] for a in alerts] == [status()] * 3


def test_the_mark_changes_at_the_flush_after_a_reload(
    rt: Runtime, client: FlaskClient, tmp_path: Path
) -> None:
    flush_all(rt)
    (tmp_path / "am.yml").write_text(yaml.safe_dump(config(muting=False)))
    assert rt.reload() is None
    # As in Alertmanager, the mark is the last flush's until the group flushes again.
    assert groups(client)[0] == ("Db", "team", [status("suppressed", ["always", "twice", "twice"])])
    flush_all(rt)
    assert all(statuses == [status()] for _, _, statuses in groups(client))
    assert all(rt.client.hget(rt.keys.group(gid), "muted") is None for gid in rt.store.group_ids())


def test_a_mark_for_a_group_deleted_meanwhile_does_not_bring_it_back(
    rt: Runtime, client: FlaskClient
) -> None:
    [group] = [g for g in rt.store.load_groups(rt.store.group_ids()) if g.labels == {"alertname": "Web"}]
    rt.store.delete_group(group.gid)
    rt.store.set_muted(group, ["always"])
    assert not rt.client.exists(rt.keys.group(group.gid))
