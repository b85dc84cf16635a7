"""API v2 through Flask's test client on an in-process Redis: shapes, filters, errors."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import fakeredis
import pytest
import yaml
from flask.testing import FlaskClient

from app.runtime import Runtime
from app.settings import Settings
from app.silence import Silence
from app.timeutil import format_rfc3339
from app.web import create_app

CONFIG = {
    "route": {
        "receiver": "default",
        "group_by": ["alertname"],
        "routes": [
            {"matchers": ['severity="page"'], "receiver": "pager", "continue": True},
            {
                "matchers": ['alertname="Disk"'],
                "receiver": "default",
                "labels": {"owner": "{{ .CommonLabels.alertname | toLower }}-team"},
            },
        ],
    },
    "receivers": [
        {"name": "default", "webhook_configs": [{"url": "http://127.0.0.1:9/"}]},
        {
            "name": "pager",
            "labels": {"team": "ops", "note": ""},
            "webhook_configs": [{"url": "http://127.0.0.1:9/p"}],
        },
    ],
}


@pytest.fixture
def client(tmp_path: Path) -> FlaskClient:
    path = tmp_path / "am.yml"
    path.write_text(yaml.safe_dump(CONFIG))
    settings = Settings(config_file=str(path), storage_path=str(tmp_path), external_url="http://am.example/")
    rt = Runtime(settings, fakeredis.FakeRedis(server=fakeredis.FakeServer()))
    return create_app(rt).test_client()


def post_alerts(client: FlaskClient, *labelsets: dict[str, str]) -> None:
    now = time.time()
    body = [
        {"labels": ls, "startsAt": format_rfc3339(now), "endsAt": format_rfc3339(now + 300)}
        for ls in labelsets
    ]
    assert client.post("/api/v2/alerts", json=body).status_code == 200


def test_alerts_have_alertmanager_shape_and_receivers(client: FlaskClient) -> None:
    post_alerts(client, {"alertname": "Disk", "severity": "page"}, {"alertname": "CPU"})
    alerts = client.get("/api/v2/alerts").get_json()
    assert [a["labels"]["alertname"] for a in alerts] == sorted(
        ["Disk", "CPU"], key=lambda n: next(a["fingerprint"] for a in alerts if a["labels"]["alertname"] == n)
    )
    disk = next(a for a in alerts if a["labels"]["alertname"] == "Disk")
    assert set(disk) == {
        "labels",
        "annotations",
        "startsAt",
        "endsAt",
        "fingerprint",
        "receivers",
        "updatedAt",
        "status",
    }
    assert disk["receivers"] == [{"name": "pager"}, {"name": "default"}]  # continue: the next sibling too
    assert disk["status"] == {"state": "active", "silencedBy": [], "inhibitedBy": [], "mutedBy": []}
    # No generatorURL was sent: left out, as Alertmanager leaves it out (the spec's `uri` has no "").


def test_filters_and_receiver_regex(client: FlaskClient) -> None:
    post_alerts(client, {"alertname": "Disk", "severity": "page"}, {"alertname": "CPU"})
    names = lambda q: sorted(a["labels"]["alertname"] for a in client.get(f"/api/v2/alerts?{q}").get_json())  # noqa: E731
    assert names("filter=alertname%3D~%22D.*%22") == ["Disk"]
    assert names("receiver=pag.*") == ["Disk"]
    assert names("receiver=pag") == []  # anchored, as in Alertmanager
    assert names("active=false") == []


def test_silenced_alert_is_suppressed_and_filtered(client: FlaskClient) -> None:
    post_alerts(client, {"alertname": "Disk"})
    now = time.time()
    r = client.post(
        "/api/v2/silences",
        json={
            "matchers": [{"name": "alertname", "value": "Disk", "isRegex": False}],
            "startsAt": format_rfc3339(now),
            "endsAt": format_rfc3339(now + 60),
            "createdBy": "me",
            "comment": "c",
        },
    )
    sid = r.get_json()["silenceID"]
    [alert] = client.get("/api/v2/alerts").get_json()
    assert alert["status"] == {"state": "suppressed", "silencedBy": [sid], "inhibitedBy": [], "mutedBy": []}
    assert client.get("/api/v2/alerts?silenced=false").get_json() == []
    assert client.get(f"/api/v2/silence/{sid}").get_json()["status"] == {"state": "active"}
    assert [s["id"] for s in client.get("/api/v2/silences?filter=alertname%3DDisk").get_json()] == [sid]
    assert client.get("/api/v2/silences?filter=alertname%3DOther").get_json() == []
    assert client.delete(f"/api/v2/silence/{sid}").status_code == 200
    assert client.get("/api/v2/alerts?silenced=false").get_json()[0]["status"]["state"] == "active"


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/api/v2/alerts?active=maybe", "query parameter active must be true or false"),
        ("/api/v2/alerts?filter=%7Bbroken", "bad matcher format"),
        ("/api/v2/alerts/groups?receiver=(", "failed to parse receiver param"),
        ("/api/v2/alerts?receiver=(?%3Dx)", "failed to parse receiver param"),  # look-ahead: not RE2
        ("/api/v2/alerts?filter=a%3D~%22((a%7B1000%7D)%7B1000%7D)%7B1000%7D%22", "invalid repeat count"),
        ("/api/v2/silences?filter=%3D%3D", "bad matcher format"),
        ("/api/v2/silences?pending=maybe", "query parameter pending must be true or false"),
        ("/api/v2/alerts/groups?muted=no", "query parameter muted must be true or false"),
        ("/api/v2/receivers?receiver_matchers=%7Bteam", "failed to parse receiver_matchers param: {team"),
        ("/api/v2/alerts?receiver_matchers=team%3D~%22(%22", "failed to parse receiver_matchers param"),
        ("/api/v2/alerts/groups?receiver_matchers=%3D%3D", "failed to parse receiver_matchers param"),
    ],
)
def test_bad_queries_are_400_with_a_message(client: FlaskClient, path: str, message: str) -> None:
    r = client.get(path)
    assert r.status_code == 400
    assert message in r.get_json()


SILENCE = {
    "matchers": [{"name": "alertname", "value": "Disk", "isRegex": False}],
    "startsAt": "2030-01-01T00:00:00Z",
    "endsAt": "2030-01-02T00:00:00Z",
    "createdBy": "ops",
    "comment": "c",
}


def test_silence_errors(client: FlaskClient) -> None:
    unknown = "00000000-0000-0000-0000-000000000000"
    assert client.get(f"/api/v2/silence/{unknown}").status_code == 404
    assert client.delete(f"/api/v2/silence/{unknown}").status_code == 404
    for method in (client.get, client.delete):
        r = method("/api/v2/silence/nope")
        assert r.status_code == 422
        assert r.get_json().startswith("silenceID in path must be of type uuid: 'nope'; silence ids look")
    r = client.post("/api/v2/silences", json={**SILENCE, "matchers": []})
    assert (r.status_code, r.get_json()) == (422, "matchers in body should have at least 1 items")
    r = client.post("/api/v2/silences", data=b"")
    assert (r.status_code, r.get_json()) == (422, "silence in body is required")
    r = client.post("/api/v2/silences", data=b"{")
    assert r.status_code == 400 and "malformed JSON" in r.get_json()


@pytest.mark.parametrize(
    ("change", "status", "message"),
    [
        ({"endsAt": "9999-12-31T00:00:00Z"}, 400, "endsAt 9999-12-31T00:00:00Z is too late"),
        (
            {"matchers": [{"name": "a", "value": "((a{1000}){1000}){1000}", "isRegex": True}]},
            400,
            "invalid repeat count",
        ),
        ({"matchers": [{"name": "a", "value": "b", "isRegex": "yes"}]}, 400, "isRegex must be a boolean"),
        ({"matchers": [{"name": "a", "value": "b"}]}, 422, "matchers.0.isRegex in body is required"),
    ],
)
def test_silences_alertmanager_refuses_are_refused_and_nothing_is_stored(
    client: FlaskClient, change: dict, status: int, message: str
) -> None:
    r = client.post("/api/v2/silences", json={**SILENCE, **change})
    assert r.status_code == status
    assert message in r.get_json()
    assert client.get("/api/v2/silences").get_json() == []


def test_a_second_delete_of_a_silence_is_a_200_like_the_first(client: FlaskClient) -> None:
    sid = client.post("/api/v2/silences", json=SILENCE).get_json()["silenceID"]
    for _ in range(2):
        r = client.delete(f"/api/v2/silence/{sid}")
        assert (r.status_code, r.data, r.headers.get("Content-Type")) == (200, b"", None)
    assert client.get(f"/api/v2/silence/{sid}").get_json()["status"] == {"state": "expired"}


def test_times_before_year_1000_have_four_digit_years(client: FlaskClient) -> None:
    r = client.post(
        "/api/v2/alerts",
        json=[
            {
                "labels": {"alertname": "Old"},
                "startsAt": "0118-08-31T01:02:03Z",
                "endsAt": "2999-01-01T00:00:00Z",
            }
        ],
    )
    assert r.status_code == 200
    [alert] = client.get("/api/v2/alerts").get_json()
    assert alert["startsAt"] == "0118-08-31T01:02:03.000Z"


def test_groups_status_and_receivers(client: FlaskClient) -> None:
    post_alerts(client, {"alertname": "Disk", "severity": "page"}, {"alertname": "Disk", "severity": "info"})
    groups = client.get("/api/v2/alerts/groups").get_json()
    assert [(g["receiver"]["name"], g["labels"], len(g["alerts"])) for g in groups] == [
        ("default", {"alertname": "Disk"}, 2),
        ("pager", {"alertname": "Disk"}, 1),
    ]
    # Each group shows its route's labels, rendered against the group's alerts.
    assert [g["routeLabels"] for g in groups] == [{"owner": "disk-team"}, {}]
    status = client.get("/api/v2/status").get_json()
    assert status["cluster"] == {"status": "disabled", "peers": []}
    assert "receiver: default" in status["config"]["original"]
    assert "<secret>" in status["config"]["original"]
    assert set(status["versionInfo"]) == {
        "version",
        "revision",
        "branch",
        "buildUser",
        "buildDate",
        "goVersion",
    }
    assert client.get("/api/v2/receivers").get_json() == [
        {"name": "default", "labels": {"name": "default"}},
        {"name": "pager", "labels": {"team": "ops", "note": "", "name": "pager"}},
    ]


# -- receiver labels and receiver_matchers (Alertmanager 0.33+) ----------------------------------


def names_of(client: FlaskClient, path: str) -> list[str]:
    return [r["name"] for r in client.get(path).get_json()]


def test_receiver_matchers_filter_receivers_by_their_labels(client: FlaskClient) -> None:
    assert names_of(client, "/api/v2/receivers?receiver_matchers=team%3Dops") == ["pager"]
    assert names_of(client, "/api/v2/receivers?receiver_matchers=name%3D~%22d.*%22") == ["default"]
    both = "receiver_matchers=team%3Dops&receiver_matchers=name%3Ddefault"
    assert names_of(client, f"/api/v2/receivers?{both}") == []  # every matcher, on one receiver
    assert names_of(client, "/api/v2/receivers?receiver_matchers=team%21%3Dops") == ["default"]
    # Alertmanager's matchFilterLabels: a negative matcher with an empty value matches a label
    # that is there, even empty (pager's `note: ""`); plain matching would leave pager out.
    assert names_of(client, "/api/v2/receivers?receiver_matchers=note%21%3D%22%22") == ["pager"]
    assert names_of(client, "/api/v2/receivers?receiver_matchers=note%3D%22%22") == ["default", "pager"]


def test_receiver_matchers_filter_alerts_and_groups_by_their_receivers_labels(client: FlaskClient) -> None:
    post_alerts(client, {"alertname": "Disk", "severity": "page"}, {"alertname": "CPU"})
    alerts = client.get("/api/v2/alerts?receiver_matchers=team%3Dops").get_json()
    # Disk goes to pager and default: one receiver with matching labels is enough.
    assert [(a["labels"]["alertname"], a["receivers"]) for a in alerts] == [
        ("Disk", [{"name": "pager"}, {"name": "default"}])
    ]
    assert client.get("/api/v2/alerts?receiver_matchers=team%3Dnobody").get_json() == []
    # `receiver` and `receiver_matchers` may each hold for another of the alert's receivers.
    query = "receiver=default&receiver_matchers=team%3Dops"
    assert [a["labels"]["alertname"] for a in client.get(f"/api/v2/alerts?{query}").get_json()] == ["Disk"]
    groups = client.get("/api/v2/alerts/groups?receiver_matchers=team%3Dops").get_json()
    # On groups the matchers read the group's receiver; the alert still lists every receiver
    # of the groups shown that hold it.
    assert [(g["receiver"]["name"], g["labels"]) for g in groups] == [("pager", {"alertname": "Disk"})]
    assert groups[0]["alerts"][0]["receivers"] == [{"name": "pager"}]
    groups = client.get("/api/v2/alerts/groups?receiver_matchers=name%3D~%22.*%22").get_json()
    assert [g["alerts"][0]["receivers"] for g in groups if g["labels"] == {"alertname": "Disk"}] == [
        [{"name": "default"}, {"name": "pager"}],
        [{"name": "default"}, {"name": "pager"}],
    ]


def test_groups_are_ordered_by_labels_then_receiver_as_alertmanager_orders_them(client: FlaskClient) -> None:
    """Checked against Alertmanager 0.25: fewer labels first, then by label values, then the
    receiver; here a group of `pager` comes before one of `default`."""
    post_alerts(client, {"alertname": "A", "severity": "page"}, {"alertname": "B"})
    groups = client.get("/api/v2/alerts/groups").get_json()
    assert [(g["receiver"]["name"], g["labels"]["alertname"]) for g in groups] == [
        ("pager", "A"),
        ("default", "B"),
    ]
    post_alerts(client, {"alertname": "Disk", "severity": "page"})  # two groups with the same labels
    groups = client.get("/api/v2/alerts/groups").get_json()
    assert [(g["receiver"]["name"], g["labels"]["alertname"]) for g in groups] == [
        ("pager", "A"),
        ("default", "B"),
        ("default", "Disk"),
        ("pager", "Disk"),
    ]


# -- silences: annotations (0.32+), state filters (0.34+), the filter ----------------------------


def test_silence_annotations_are_stored_returned_and_replaced_by_an_update(client: FlaskClient) -> None:
    annotations = {"ticket": "OPS-1", "": "empty key", "null": None}
    sid = client.post("/api/v2/silences", json={**SILENCE, "annotations": annotations}).get_json()[
        "silenceID"
    ]
    stored = client.get(f"/api/v2/silence/{sid}").get_json()
    # A null value is Go's empty string; any key, the empty one too, is kept.
    assert stored["annotations"] == {"ticket": "OPS-1", "": "empty key", "null": ""}
    assert [s["annotations"] for s in client.get("/api/v2/silences").get_json()] == [stored["annotations"]]
    # An update in place (same matchers) stores the body's annotations...
    r = client.post("/api/v2/silences", json={**SILENCE, "id": sid, "annotations": {"ticket": "OPS-2"}})
    assert r.get_json() == {"silenceID": sid}
    assert client.get(f"/api/v2/silence/{sid}").get_json()["annotations"] == {"ticket": "OPS-2"}
    # ...and so does one that replaces the silence; the old one keeps its own when it expires.
    changed = {**SILENCE, "id": sid, "comment": "x", "annotations": {"ticket": "OPS-3"}}
    changed["matchers"] = [{"name": "alertname", "value": "Other", "isRegex": False}]
    new_id = client.post("/api/v2/silences", json=changed).get_json()["silenceID"]
    assert new_id != sid
    assert client.get(f"/api/v2/silence/{new_id}").get_json()["annotations"] == {"ticket": "OPS-3"}
    old = client.get(f"/api/v2/silence/{sid}").get_json()
    assert (old["status"]["state"], old["annotations"]) == ("expired", {"ticket": "OPS-2"})
    # An update without annotations leaves none (Alertmanager stores the body as it is), and a
    # silence without annotations has no `annotations` key, as Alertmanager writes it.
    bare = {key: value for key, value in changed.items() if key != "annotations"}
    assert client.post("/api/v2/silences", json={**bare, "id": new_id}).get_json() == {"silenceID": new_id}
    assert "annotations" not in client.get(f"/api/v2/silence/{new_id}").get_json()


@pytest.mark.parametrize(
    ("annotations", "message"),
    [
        ("ticket", "annotations must be an object, got string"),
        ({"ticket": 1}, "annotations.ticket must be a string, got number"),
        ({"ticket": {"id": "1"}}, "annotations.ticket must be a string, got object"),
    ],
)
def test_silence_annotations_of_the_wrong_json_type_are_400(
    client: FlaskClient, annotations: object, message: str
) -> None:
    r = client.post("/api/v2/silences", json={**SILENCE, "annotations": annotations})
    assert (r.status_code, r.get_json()) == (400, f"cannot read the silence: {message}")
    assert client.get("/api/v2/silences").get_json() == []


def test_silences_stored_before_annotations_read_back_and_are_stored_as_before() -> None:
    stored = '{"id":"x","m":[["a","=","b"]],"s":1.0,"e":2.0,"u":1.0,"by":"ops","c":"c"}'
    silence = Silence.decode(stored)
    assert silence.annotations == {}
    assert silence.encode() == stored
    assert "annotations" not in silence.to_api(0.0)
    annotated = replace(silence, annotations={"ticket": "OPS-1"})
    assert Silence.decode(annotated.encode()) == annotated
    assert Silence.decode(annotated.encode()).annotations == {"ticket": "OPS-1"}


def test_silences_filtered_by_state(client: FlaskClient) -> None:
    now = time.time()
    at = format_rfc3339
    active = client.post(
        "/api/v2/silences", json={**SILENCE, "startsAt": at(now), "endsAt": at(now + 600)}
    ).get_json()["silenceID"]
    pending = client.post("/api/v2/silences", json=SILENCE).get_json()["silenceID"]
    expired = client.post(
        "/api/v2/silences", json={**SILENCE, "comment": "gone", "startsAt": at(now), "endsAt": at(now + 600)}
    ).get_json()["silenceID"]
    client.delete(f"/api/v2/silence/{expired}")

    def ids(query: str) -> list[str]:
        return [s["id"] for s in client.get(f"/api/v2/silences?{query}").get_json()]

    assert ids("") == [active, pending, expired]  # Alertmanager's order: active, pending, expired
    assert ids("active=false") == [pending, expired]
    assert ids("pending=false") == [active, expired]
    assert ids("expired=false&pending=0") == [active]
    assert ids("active=true&expired=true&pending=true") == [active, pending, expired]
    assert ids("active=false&expired=false&pending=false") == []
    assert ids("expired=false&filter=alertname%3DDisk") == [active, pending]


def test_the_silences_filter_compares_matchers_as_alertmanager_does(client: FlaskClient) -> None:
    """Checked against Alertmanager 0.25: a silence is found by a filter matcher equal to one of
    its own (name, operator, value), not by one that would match them."""
    client.post("/api/v2/silences", json=SILENCE)  # alertname="Disk"

    def count(matcher: str) -> int:
        return len(client.get("/api/v2/silences", query_string={"filter": matcher}).get_json())

    assert count('alertname="Disk"') == 1
    assert count("alertname=Disk") == 1
    assert count('alertname=~"D.*"') == 0
    assert count('alertname=~"Disk"') == 0  # the same value with another operator
    assert count('alertname!="x"') == 0
    assert count('foo=""') == 0
