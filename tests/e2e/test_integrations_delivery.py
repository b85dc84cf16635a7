"""Receiver integrations in the split shape (gunicorn web tier, two RQ workers, a real Redis):
one group routed to several integrations reaches each exactly once; a retryable failure is
retried with backoff and then delivered; a permanent one is not retried; a worker SIGKILLed in
the middle of a send leaves no group unnotified."""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.retries import BACKOFF_FACTOR, BACKOFF_JITTER, BACKOFF_START
from tests.e2e.conftest import Deployment, alert, start_split, write_config
from tests.ha.harness import HoldingSink
from tests.support.http_sink import HttpSink, ReceivedRequest
from tests.support.processes import holds
from tests.support.redis_server import RedisServer


def ok(_: ReceivedRequest) -> tuple[int, bytes, str]:
    """What the services answer a delivered request ("ok" is a Slack webhook's answer)."""
    return 200, b"ok", "text/plain"


def telegram_ok(request: ReceivedRequest) -> tuple[int, bytes, str]:
    result = {"message_id": 1, "chat": {"id": request.json["chat_id"]}, "date": 0}
    return 200, json.dumps({"ok": True, "result": result}).encode(), "application/json"


@pytest.fixture
def redis() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


def deploy(
    tmp_path: Path,
    redis: RedisServer,
    receivers: list[dict[str, object]],
    *extra: str,
    route: dict[str, object] | None = None,
) -> Deployment:
    config = write_config(tmp_path / "am.yml", receivers, route=route)
    return start_split(config, redis, 1, 2, *extra)


def stop(dep: Deployment) -> None:
    dep.stop()


def test_one_group_reaches_each_integration_once(tmp_path: Path, redis: RedisServer) -> None:
    names = ["webhook", "slack", "pagerduty", "opsgenie", "discord", "mattermost", "telegram", "msteams"]
    sinks = {name: HttpSink(responder=telegram_ok if name == "telegram" else ok) for name in names}
    for sink in sinks.values():
        sink.__enter__()
    try:
        receiver = {
            "name": "everyone",
            "webhook_configs": [{"url": sinks["webhook"].url}],
            "slack_configs": [{"api_url": sinks["slack"].url + "hook", "channel": "#ops"}],
            "pagerduty_configs": [{"routing_key": "r" * 32, "url": sinks["pagerduty"].url + "v2/enqueue"}],
            "opsgenie_configs": [{"api_key": "k", "api_url": sinks["opsgenie"].url}],
            "discord_configs": [{"webhook_url": sinks["discord"].url + "api/webhooks/1/t"}],
            "mattermost_configs": [{"webhook_url": sinks["mattermost"].url + "hooks/x"}],
            "telegram_configs": [
                {"bot_token": "1:a", "chat_id": 5, "api_url": sinks["telegram"].url.rstrip("/")}
            ],
            "msteams_configs": [{"webhook_url": sinks["msteams"].url + "teams"}],
        }
        dep = deploy(tmp_path, redis, [receiver])
        try:
            dep.post([alert("DiskFull", instance="a:9100")])
            for name, sink in sinks.items():
                [request] = sink.wait_for(1, timeout=30)
                assert request.method == "POST", name
                assert "DiskFull" in request.body.decode(), name
            holds(
                lambda: all(len(s.requests) == 1 for s in sinks.values()),
                4,
                lambda: f"sent twice: {[(n, len(s.requests)) for n, s in sinks.items()]}",
            )
        finally:
            stop(dep)
    finally:
        for sink in sinks.values():
            sink.__exit__(None, None, None)


def test_retryable_failures_are_retried_and_permanent_ones_are_not(
    tmp_path: Path, redis: RedisServer
) -> None:
    # Slack answers 503 twice, then "ok"; PagerDuty refuses the event for good (400).
    answers = iter([(503, b"try later", "text/plain")] * 2)
    with (
        HttpSink(responder=lambda request: next(answers, None) or ok(request)) as slack,
        HttpSink(default_status=400) as pagerduty,
    ):
        receiver = {
            "name": "mixed",
            "slack_configs": [{"api_url": slack.url + "hook", "channel": "#ops"}],
            "pagerduty_configs": [{"routing_key": "r" * 32, "url": pagerduty.url + "v2/enqueue"}],
        }
        # A long group_interval: Alertmanager tries a failed notification again at the group's
        # next flush, which must not fall inside the test's quiet window.
        dep = deploy(tmp_path, redis, [receiver], route={"group_interval": "5m"})
        try:
            dep.post([alert("DiskFull", instance="a:9100")])
            first, second, third = slack.wait_for(3, timeout=30)[:3]
            # Alertmanager's backoff waits at least 0.5 s x 1.5^(n-1) x 0.5 (the lowest jitter)
            # before the n-th retry. Only these lower bounds hold on a busy machine: with +-50 %
            # jitter and scheduling delay, a later gap can be shorter than an earlier one
            # (tests/unit/test_retries.py pins the intervals with a fixed jitter).
            shortest = BACKOFF_START * (1 - BACKOFF_JITTER)
            assert second.received_at - first.received_at >= shortest
            assert third.received_at - second.received_at >= shortest * BACKOFF_FACTOR
            holds(lambda: len(slack.requests) == 3, 3, lambda: f"slack after delivery: {len(slack.requests)}")
            [refused] = pagerduty.wait_for(1, timeout=30)
            assert refused.json["routing_key"] == "r" * 32
            holds(lambda: len(pagerduty.requests) == 1, 3, "a permanent failure was retried")
        finally:
            stop(dep)


def test_a_worker_killed_mid_send_leaves_no_group_unnotified(tmp_path: Path, redis: RedisServer) -> None:
    workers: list[int] = []
    with HoldingSink(lambda: workers) as slack:
        receiver = {"name": "held", "slack_configs": [{"api_url": slack.url + "hook", "channel": "#ops"}]}
        dep = deploy(tmp_path, redis, [receiver], "--cluster.peer-timeout=3s")
        workers.extend(p.pid for p in dep.processes[:2])
        try:
            dep.post([alert("DiskFull", instance="a:9100")])
            slack.wait_for(1, timeout=30)
            [sender] = slack.senders[:1]
            assert sender in workers, slack.senders
            victim = next(p for p in dep.processes[:2] if p.pid == sender)
            victim.kill(signal.SIGKILL)
            slack.release.set()
            # The other worker sends it once the dead one's lease has expired.
            second = slack.wait_for(2, timeout=40)[1]
            assert "DiskFull" in second.body.decode()
            assert slack.senders[1] != sender
        finally:
            stop(dep)
