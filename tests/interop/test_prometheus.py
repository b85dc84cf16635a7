"""The real Prometheus (Debian's `prometheus`) alerting to a split alerter deployment.

Prometheus scrapes a target the test controls; stopping it makes `up == 0` fire the seed's
InstanceDown rule, starting it again on the same port resolves it. Every Prometheus server
sends every alert to BOTH alerter web instances (the seed's HA topology), and the webhook must
still get one firing and one resolved notification for the group, never one per copy:

- one Prometheus, two alerter web instances (two copies of each alert per send);
- two identical Prometheus servers, two web instances (four copies, with different startsAt,
  endsAt and generatorURL, and resolutions that reach alerter at different times).

Prometheus only sends once it has discovered its Alertmanagers, and then re-sends firing and
resolved alerts every `--rules.alert.resend-delay` (2s here): the quiet windows below cover
such re-sends, and the group_interval ticks, to show that they never notify again.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from app.timeutil import parse_rfc3339_checked
from tests.e2e.conftest import Deployment, start_split, webhook_receiver, write_config
from tests.support.http_sink import HttpSink, ReceivedRequest
from tests.support.processes import ManagedProcess, holds, wait_until
from tests.support.prometheus import JOB, RULES, MetricsTarget, Prometheus
from tests.support.redis_server import RedisServer

# Longer than any test: a repeat notification would be a duplicate here.
ROUTE = {"group_wait": "1s", "group_interval": "2s", "repeat_interval": "1h"}


@dataclass
class Stack:
    sink: HttpSink
    alerter: Deployment
    target: MetricsTarget
    workdir: Path
    prometheis: list[Prometheus] = field(default_factory=list)

    def start_prometheus(self, count: int) -> None:
        """`count` identical Prometheus servers. One rule file for all, as the seed mounts one
        rulefile.yml in both: Prometheus slots a rule group's evaluations by a hash of its name
        and file, and a target's scrapes by a hash of the target, the host name and the external
        labels, so identical servers on one host scrape and evaluate in step."""
        rules = self.workdir / "rulefile.yml"
        rules.write_text(yaml.safe_dump(RULES, sort_keys=False))
        for i in range(count):
            self.prometheis.append(
                Prometheus(self.workdir / f"prometheus{i + 1}", rules, self.target, self.alerter.web_urls)
            )
        for prom in self.prometheis:
            prom.wait_ready()

    def summary(self) -> str:
        """What arrived, for assertion messages: (status, [(instance, alert status)]) per call."""
        calls = [
            (r.json["status"], [(a["labels"].get("instance"), a["status"]) for a in r.json["alerts"]])
            for r in self.sink.requests
        ]
        return f"webhook calls: {calls}"

    def diagnostics(self) -> str:
        logs = [self.alerter.logs()] + [p.process.log_tail(60) for p in self.prometheis]
        return f"{self.summary()}\n" + "\n".join(logs)[-20000:]


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    """A private Redis, two workers and two web instances of alerter notifying an HttpSink, and
    a running scrape target; Prometheus servers are started by the test. Everything is stopped
    at the end, whatever happened."""
    with contextlib.ExitStack() as cleanup:
        sink = cleanup.enter_context(HttpSink())
        redis = RedisServer()
        cleanup.callback(redis.stop)
        redis.start()
        config = write_config(tmp_path / "alerter.yml", [webhook_receiver(sink.url)], route=ROUTE)
        # Should start_split fail half-way, the session's cleanup kills what it started.
        alerter = start_split(config, redis, webs=2, workers=2)
        cleanup.callback(_stop_all, alerter.processes)
        target = MetricsTarget().start()
        cleanup.callback(target.stop)
        s = Stack(sink, alerter, target, tmp_path)
        # Registered now, run at exit: stops the Prometheus servers the test starts, first.
        cleanup.callback(lambda: _stop_all([p.process for p in s.prometheis]))
        yield s


def _stop_all(procs: list[ManagedProcess]) -> None:
    """SIGTERM them all at once, rather than waiting for each graceful shutdown in turn."""
    with ThreadPoolExecutor(max_workers=max(1, len(procs))) as pool:
        list(pool.map(lambda p: p.stop(), procs))


def check_firing(stack: Stack, request: ReceivedRequest) -> None:
    body = request.json
    instance = stack.target.instance
    assert body["status"] == "firing", stack.summary()
    assert body["receiver"] == "hook"
    assert body["groupLabels"] == {"alertname": "InstanceDown"}
    assert len(body["alerts"]) == 1, stack.summary()
    (alert,) = body["alerts"]
    assert alert["status"] == "firing"
    assert alert["labels"] == {
        "alertname": "InstanceDown",
        "instance": instance,
        "job": JOB,
        "severity": "critical",
    }
    assert alert["annotations"] == {
        "summary": f"Instance {instance} down",
        "description": f"{instance} of job {JOB} has been down for more than 2 seconds.",
    }
    assert alert["endsAt"] == "0001-01-01T00:00:00Z"
    assert "/graph?g0.expr=" in alert["generatorURL"]
    assert any(alert["generatorURL"].startswith(p.url) for p in stack.prometheis), alert["generatorURL"]


def check_resolved(stack: Stack, request: ReceivedRequest, firing: ReceivedRequest) -> None:
    body = request.json
    assert body["status"] == "resolved", stack.summary()
    assert body["groupKey"] == firing.json["groupKey"]
    assert len(body["alerts"]) == 1, stack.summary()
    (alert,) = body["alerts"]
    (fired,) = firing.json["alerts"]
    assert alert["status"] == "resolved"
    assert alert["labels"] == fired["labels"]
    assert alert["annotations"] == fired["annotations"]
    assert alert["fingerprint"] == fired["fingerprint"]
    assert alert["startsAt"] == fired["startsAt"]
    assert alert["endsAt"] != "0001-01-01T00:00:00Z"
    assert parse_rfc3339_checked(alert["endsAt"]) > parse_rfc3339_checked(alert["startsAt"]), alert


def stays_at(stack: Stack, count: int, seconds: float, what: str) -> None:
    """No webhook call beyond the `count` received, for `seconds`; the failure shows them all."""
    try:
        holds(lambda: len(stack.sink.requests) == count, seconds, what)
    except AssertionError:
        raise AssertionError(f"{what}\n{stack.diagnostics()}") from None


def run_outage(stack: Stack, prometheus_count: int) -> None:
    """Start Prometheus, take the target down until one firing notification, bring it back
    until one resolved notification, and check that nothing else is ever sent."""
    stack.start_prometheus(prometheus_count)
    sink = stack.sink
    assert sink.requests == []

    stack.target.stop()
    try:
        sink.wait_for(1, timeout=20)
    except AssertionError as err:
        raise AssertionError(f"{err}\n{stack.diagnostics()}") from None
    firing = sink.requests[0]
    check_firing(stack, firing)
    # Every Prometheus fires the alert in the end, and every copy is one alert in alerter.
    wait_until(
        lambda: all(p.alert_states() == ["firing"] for p in stack.prometheis),
        timeout=10,
        message="not every Prometheus server fired InstanceDown",
    )
    # In step (see Stack.start_prometheus), the servers resolve at the same evaluation. Replicas
    # out of step disagree for up to an interval when the target comes back: one sends the alert
    # resolved while the other still re-sends it firing, which Alertmanager too may notify as
    # resolved, firing, resolved. That race of the HA topology itself is not under test here.
    active_at = {a["activeAt"] for p in stack.prometheis for a in p.alerts()}
    assert len(active_at) == 1, f"the Prometheus servers do not evaluate in step: {active_at}"
    alerts = stack.alerter.get("/api/v2/alerts")
    assert [a["labels"]["instance"] for a in alerts] == [stack.target.instance], alerts
    assert alerts[0]["status"]["state"] == "active"
    # Re-sends from every Prometheus (every resend delay) through both instances, and more than
    # one group_interval tick: no second notification.
    stays_at(stack, 1, 3.0, "duplicate firing notification")

    stack.target.start()
    try:
        sink.wait_for(2, timeout=20)
    except AssertionError as err:
        raise AssertionError(f"{err}\n{stack.diagnostics()}") from None
    check_resolved(stack, sink.requests[1], firing)
    wait_until(
        lambda: all(p.alert_states() == [] for p in stack.prometheis),
        timeout=10,
        message="not every Prometheus server resolved InstanceDown",
    )
    # Prometheus keeps re-sending the resolved alert (for 15 minutes) to both instances: that
    # must not notify again, even once the group is gone and the re-sends make a new one.
    stays_at(stack, 2, 4.0, "notification after the resolution")
    assert [r.json["status"] for r in sink.requests] == ["firing", "resolved"], stack.diagnostics()


def test_one_prometheus_two_alerter_instances(stack: Stack) -> None:
    run_outage(stack, prometheus_count=1)


def test_ha_two_prometheus_two_alerter_instances(stack: Stack) -> None:
    """The seed's topology: two identical Prometheus servers, each alerting to both alerter
    web instances."""
    run_outage(stack, prometheus_count=2)
