"""A group's whole life against real processes, embedded and split (two web, two workers):
first notification after group_wait, follow-up after group_interval, repeat after
repeat_interval, resolution, and exactly one webhook call for each."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.conftest import alert, webhook_receiver, write_config
from tests.support.http_sink import HttpSink
from tests.support.processes import wait_until


def fingerprints(payload: dict) -> list[tuple[str, str]]:
    return sorted((a["labels"]["instance"], a["status"]) for a in payload["alerts"])


def test_group_lifecycle_notifies_once_per_change(deploy, tmp_path: Path) -> None:
    with HttpSink() as sink:
        dep = deploy(write_config(tmp_path / "am.yml", [webhook_receiver(sink.url)]))
        # Two Prometheus servers each send the alert to every instance.
        dep.post([alert("InstanceDown", instance="a:9100", job="node")])
        dep.post([alert("InstanceDown", instance="a:9100", job="node")])

        sink.wait_for(1, timeout=15)
        first = sink.requests[0].json
        assert first["version"] == "4"
        assert first["status"] == "firing"
        assert first["receiver"] == "hook"
        assert first["groupKey"] == '{}:{alertname="InstanceDown"}'
        assert first["groupLabels"] == {"alertname": "InstanceDown"}
        assert first["commonLabels"] == {"alertname": "InstanceDown", "instance": "a:9100", "job": "node"}
        assert fingerprints(first) == [("a:9100", "firing")]
        assert first["alerts"][0]["endsAt"] == "0001-01-01T00:00:00Z"

        # A second alert joins the group: one follow-up at the next group_interval tick.
        dep.post([alert("InstanceDown", instance="b:9100", job="node")])
        sink.wait_for(2, timeout=15)
        assert fingerprints(sink.requests[1].json) == [("a:9100", "firing"), ("b:9100", "firing")]
        assert len(sink.requests) == 2, "one change must give exactly one notification"

        # Nothing changes: the next notification is the repeat after repeat_interval (6s).
        sink.wait_for(3, timeout=20)
        third = sink.requests[2]
        assert third.received_at - sink.requests[1].received_at >= 5.5
        assert fingerprints(third.json) == fingerprints(sink.requests[1].json)

        # Both resolve: one resolved notification (send_resolved defaults to true for webhooks).
        dep.post(
            [
                alert("InstanceDown", ends_in=-1, started_ago=30, instance=i, job="node")
                for i in ("a:9100", "b:9100")
            ]
        )
        sink.wait_for(4, timeout=15)
        last = sink.requests[3].json
        assert last["status"] == "resolved"
        assert fingerprints(last) == [("a:9100", "resolved"), ("b:9100", "resolved")]

        # The group is gone once its resolution is notified, and nothing more is sent.
        wait_until(
            lambda: dep.get("/api/v2/alerts/groups") == [], timeout=15, message="group was not removed"
        )
        assert len(sink.requests) == 4, [r.json["status"] for r in sink.requests]


def test_two_groups_are_notified_separately_and_once_each(deploy, tmp_path: Path) -> None:
    with HttpSink() as sink:
        dep = deploy(write_config(tmp_path / "am.yml", [webhook_receiver(sink.url)]))
        dep.post(
            [alert("DiskFull", instance="a"), alert("CPUHigh", instance="a"), alert("DiskFull", instance="b")]
        )
        sink.wait_for(2, timeout=15)
        keys = sorted(r.json["groupKey"] for r in sink.requests)
        assert keys == ['{}:{alertname="CPUHigh"}', '{}:{alertname="DiskFull"}']
        disk = next(r.json for r in sink.requests if r.json["groupLabels"]["alertname"] == "DiskFull")
        assert len(disk["alerts"]) == 2
        groups = dep.get("/api/v2/alerts/groups")
        assert sorted(g["labels"]["alertname"] for g in groups) == ["CPUHigh", "DiskFull"]
        assert len(sink.requests) == 2
