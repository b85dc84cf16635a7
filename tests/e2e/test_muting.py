"""Muting against real processes: a silenced alert and an inhibited alert are not notified (and
show why in the API), and a group inside a mute time interval is not notified while its timer
keeps running."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import requests

from app.timeutil import format_rfc3339
from tests.e2e.conftest import alert, webhook_receiver, write_config
from tests.support.http_sink import HttpSink
from tests.support.processes import holds, wait_until

INHIBIT = {
    "inhibit_rules": [
        {
            "source_matchers": ["severity=critical"],
            "target_matchers": ["severity=warning"],
            "equal": ["cluster"],
        }
    ]
}


def notified_names(sink: HttpSink) -> list[str]:
    return sorted(a["labels"]["alertname"] for r in sink.requests for a in r.json["alerts"])


def test_silenced_and_inhibited_alerts_are_not_notified(deploy, tmp_path: Path) -> None:
    with HttpSink() as sink:
        route = {"group_by": ["alertname"]}
        dep = deploy(
            write_config(tmp_path / "am.yml", [webhook_receiver(sink.url)], route=route, extra=INHIBIT)
        )
        now = time.time()
        silence = {
            "matchers": [{"name": "alertname", "value": "Silenced", "isRegex": False, "isEqual": True}],
            "startsAt": format_rfc3339(now),
            "endsAt": format_rfc3339(now + 3600),
            "createdBy": "ops",
            "comment": "maintenance",
        }
        r = requests.post(f"{dep.web_urls[-1]}/api/v2/silences", json=silence, timeout=10)
        sid = r.json()["silenceID"]
        dep.post(
            [
                alert("Silenced", instance="a"),
                alert("Source", severity="critical", cluster="eu"),
                alert("Target", severity="warning", cluster="eu"),
                alert("Visible", severity="warning", cluster="us"),
            ]
        )
        wait_until(
            lambda: {"Source", "Visible"} <= set(notified_names(sink)),
            timeout=15,
            message="expected notifications",
        )
        holds(lambda: notified_names(sink) == ["Source", "Visible"], 3, "a muted alert was notified")

        by_name = {a["labels"]["alertname"]: a["status"] for a in dep.get("/api/v2/alerts")}
        assert by_name["Silenced"] == {
            "state": "suppressed",
            "silencedBy": [sid],
            "inhibitedBy": [],
            "mutedBy": [],
        }
        assert by_name["Target"]["state"] == "suppressed" and len(by_name["Target"]["inhibitedBy"]) == 1
        assert by_name["Visible"]["state"] == "active"

        # Expiring the silence lets the alert through at the group's next tick.
        assert requests.delete(f"{dep.web_urls[0]}/api/v2/silence/{sid}", timeout=10).status_code == 200
        wait_until(
            lambda: "Silenced" in notified_names(sink), timeout=15, message="expired silence still mutes"
        )


def test_group_in_a_mute_time_interval_is_not_notified_and_keeps_its_timer(deploy, tmp_path: Path) -> None:
    with HttpSink() as sink:
        always = {
            "name": "always",
            "time_intervals": [{"times": [{"start_time": "00:00", "end_time": "24:00"}]}],
        }
        extra = {"time_intervals": [always]}
        route = {"routes": [{"matchers": ["team=db"], "mute_time_intervals": ["always"]}]}
        config = write_config(tmp_path / "am.yml", [webhook_receiver(sink.url)], route=route, extra=extra)
        dep = deploy(config)
        dep.post([alert("Muted", team="db"), alert("Loud", team="web")])
        wait_until(
            lambda: notified_names(sink) == ["Loud"], timeout=15, message="the unmuted group was not notified"
        )
        holds(lambda: notified_names(sink) == ["Loud"], 4, "the muted group was notified")
        assert {g["labels"]["alertname"] for g in dep.get("/api/v2/alerts/groups")} == {"Loud", "Muted"}

        # Lift the mute (same route, no interval): with no new alert posted, the group is
        # notified at its next tick, so its timer kept running while it was muted.
        unmuted = {"routes": [{"matchers": ["team=db"]}]}
        write_config(config, [webhook_receiver(sink.url)], route=unmuted, extra=extra)
        for proc in dep.processes:
            os.kill(proc.pid, signal.SIGHUP)
        wait_until(
            lambda: "Muted" in notified_names(sink), timeout=20, message="the unmuted group never flushed"
        )
