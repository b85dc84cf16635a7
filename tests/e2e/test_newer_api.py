"""The API fields and filters of Alertmanager 0.28 to 0.34 against real processes: `mutedBy` and
`muted=false` for a group inside a mute time interval (or outside its active ones), receiver
`labels` and `receiver_matchers`, silence `annotations` and the silence state filters; each
read back through every web instance, as the state is in Redis."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import requests

from app.redis_keys import Keys
from app.timeutil import format_rfc3339
from tests.e2e.conftest import Deployment, alert, start_split, webhook_receiver, write_config
from tests.support.http_sink import HttpSink
from tests.support.processes import holds, wait_until
from tests.support.redis_server import RedisServer
from tests.unit.test_silence import body as silence_body

ALWAYS = {"name": "always", "time_intervals": [{"times": [{"start_time": "00:00", "end_time": "24:00"}]}]}
NEVER = {"name": "never", "time_intervals": [{"years": ["1990"]}]}
KEYS = Keys()  # the default prefix, as the processes started here use


def get(url: str, path: str, **params: Any) -> Any:
    r = requests.get(f"{url}/api/v2{path}", params=params, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


def muted_by(url: str, **params: Any) -> dict[str, list[list[str]]]:
    """Each group's alertname and its alerts' mutedBy."""
    return {
        g["labels"]["alertname"]: [a["status"]["mutedBy"] for a in g["alerts"]]
        for g in get(url, "/alerts/groups", **params)
    }


def test_time_intervals_show_as_muted_by_and_muted_false_hides_those_groups(
    deploy: Callable[[Path], Deployment], tmp_path: Path
) -> None:
    with HttpSink() as sink:
        route = {
            "routes": [
                {"matchers": ["team=db"], "mute_time_intervals": ["always"]},
                {"matchers": ["team=night"], "active_time_intervals": ["never"]},
            ]
        }
        receivers = [{**webhook_receiver(sink.url), "labels": {"owner": "ops"}}]
        config = write_config(
            tmp_path / "am.yml", receivers, route=route, extra={"time_intervals": [ALWAYS, NEVER]}
        )
        dep = deploy(config)
        dep.post([alert("Muted", team="db"), alert("Outside", team="night"), alert("Loud", team="web")])

        # The groups flush after group_wait (1s); each flush marks its group.
        expected = {"Muted": [["always"]], "Outside": [["never"]], "Loud": [[]]}
        for url in dep.web_urls:
            wait_until(
                lambda u=url: muted_by(u) == expected, timeout=15, message=f"no mutedBy marks on {url}"
            )
        states = {
            g["labels"]["alertname"]: g["alerts"][0]["status"]["state"]
            for g in get(dep.web_urls[-1], "/alerts/groups")
        }
        assert states == {"Muted": "suppressed", "Outside": "suppressed", "Loud": "active"}
        for url in dep.web_urls:
            assert muted_by(url, muted="false") == {"Loud": [[]]}
            assert muted_by(url, muted="true") == expected
        # GET /alerts belongs to no group: its mutedBy is empty, as in Alertmanager.
        assert [a["status"]["mutedBy"] for a in get(dep.web_urls[0], "/alerts")] == [[], [], []]
        sink.wait_for(1, timeout=15)
        holds(
            lambda: {a["labels"]["alertname"] for r in sink.requests for a in r.json["alerts"]} == {"Loud"},
            3,
            "a muted group was notified",
        )

        # Receiver labels: the config's, with the name; receiver_matchers reads them.
        assert get(dep.web_urls[0], "/receivers") == [
            {"name": "hook", "labels": {"owner": "ops", "name": "hook"}}
        ]
        assert get(dep.web_urls[0], "/receivers", receiver_matchers="owner=nobody") == []
        assert len(get(dep.web_urls[0], "/alerts", receiver_matchers='owner="ops"')) == 3
        assert get(dep.web_urls[0], "/alerts/groups", receiver_matchers="owner!=ops") == []


def silence(**fields: Any) -> dict[str, Any]:
    """A silence on alertname="DiskFull" from now for an hour, with `fields` changed."""
    now = time.time()
    return {**silence_body(now, now + 3600), **fields}


def post_silence(url: str, body: dict[str, Any]) -> str:
    r = requests.post(f"{url}/api/v2/silences", json=body, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()["silenceID"]


def ids(url: str, **params: Any) -> list[str]:
    return [s["id"] for s in get(url, "/silences", **params)]


def test_silence_annotations_and_state_filters(deploy: Callable[[Path], Deployment], tmp_path: Path) -> None:
    dep = deploy(write_config(tmp_path / "am.yml", [webhook_receiver("http://127.0.0.1:9/")]))
    first, last = dep.web_urls[0], dep.web_urls[-1]
    active = post_silence(first, silence(annotations={"ticket": "OPS-1", "runbook": "https://r/1"}))
    assert get(last, f"/silence/{active}")["annotations"] == {"ticket": "OPS-1", "runbook": "https://r/1"}
    # An update in place replaces them; the id stays.
    assert (
        post_silence(
            last,
            {
                **silence(annotations={"ticket": "OPS-2"}),
                "id": active,
                "startsAt": get(last, f"/silence/{active}")["startsAt"],
            },
        )
        == active
    )
    assert get(first, f"/silence/{active}")["annotations"] == {"ticket": "OPS-2"}

    pending = post_silence(first, silence(startsAt=format_rfc3339(time.time() + 600)))
    expired = post_silence(first, silence(comment="done", annotations={"ticket": "OPS-0"}))
    assert requests.delete(f"{last}/api/v2/silence/{expired}", timeout=10).status_code == 200
    for url in dep.web_urls:
        assert ids(url) == [active, pending, expired]
        assert ids(url, active="false") == [pending, expired]
        assert ids(url, pending="false", expired="false") == [active]
        assert ids(url, expired="true", active="false", pending="false") == [expired]
    # The expired silence keeps its annotations; one without has no `annotations` key.
    assert get(first, f"/silence/{expired}")["annotations"] == {"ticket": "OPS-0"}
    assert "annotations" not in get(first, f"/silence/{pending}")
    r = requests.post(f"{first}/api/v2/silences", json=silence(annotations={"ticket": 7}), timeout=10)
    assert (r.status_code, r.json()) == (
        400,
        "cannot read the silence: annotations.ticket must be a string, got number",
    )


def test_a_silence_stored_before_annotations_is_read_and_updated(tmp_path: Path) -> None:
    """A silence written by an alerter that predates annotations, straight into a real Redis:
    the API reads it, and an update in place adds annotations to the same stored silence."""
    redis = RedisServer()
    redis.start()
    dep = None
    try:
        now = time.time()
        sid = "5a3c1c3e-8c3f-4b6e-9d57-2f0d7e1b6a10"
        old = {
            "id": sid,
            "m": [["alertname", "=", "DiskFull"]],
            "s": now - 60,
            "e": now + 3600,
            "u": now - 60,
            "by": "ops",
            "c": "old",
        }
        client = redis.client()
        client.hset(KEYS.silences, sid, orjson.dumps(old))
        client.incr(KEYS.silences_version)
        dep = start_split(
            write_config(tmp_path / "am.yml", [webhook_receiver("http://127.0.0.1:9/")]), redis, 1, 1
        )
        [shown] = get(dep.web_urls[0], "/silences")
        assert (shown["id"], shown["comment"], shown["status"]["state"]) == (sid, "old", "active")
        assert "annotations" not in shown
        update = {**silence(annotations={"ticket": "OPS-9"}), "id": sid, "startsAt": shown["startsAt"]}
        assert post_silence(dep.web_urls[0], update) == sid
        stored = orjson.loads(client.hget(KEYS.silences, sid))
        assert stored["a"] == {"ticket": "OPS-9"} and stored["c"] == "maintenance"
        assert get(dep.web_urls[0], f"/silence/{sid}")["annotations"] == {"ticket": "OPS-9"}
    finally:
        if dep is not None:
            dep.stop()
        redis.stop()
