"""One bad receiver never delays another (issue 11, point 1), embedded and split (two web
instances, two workers).

A healthy webhook receiver sits beside one that answers 500, or one that hangs; a new group for
each receiver appears every second. Every healthy group must be notified, once, while the bad
receiver is still bad: a worker must neither retry inline nor wait for a receiver before it
sends the next group. The failing receiver must meanwhile get retries of each of its groups
with Alertmanager's growing backoff, and each group once it recovers; the hanging one each
group once, when it answers again.

group_interval is 1m, so that retries have a minute of backoff to run before the groups' next
regular flush, and an attempt may take as long as the receivers hang here.
"""

from __future__ import annotations

import itertools
import re
import threading
import time
from collections import defaultdict
from pathlib import Path

import requests

from app.notify.pipeline import SENDS_PER_TARGET
from tests.e2e.conftest import Deployment, alert, webhook_receiver, write_config
from tests.support.http_sink import HttpSink, ReceivedRequest
from tests.support.processes import holds, wait_until

GROUPS = 10
GROUP_WAIT = 1.0
# How long a healthy group may take to arrive, as a wait deadline (not a measured figure): the
# issue saw them 20 to 130 s late; a healthy group due after group_wait arrives well within this.
HEALTHY_DEADLINE = GROUP_WAIT + 6.0
# Alertmanager's backoff: the k-th retry comes at least 0.5 x 0.5 x 1.5^(k-1) s after the
# attempt before it (the first interval, its growth, and the lowest jitter).
BACKOFF_FLOORS = [0.25 * 1.5**k for k in range(20)]


def config(tmp_path: Path, good: str, bad: str) -> Path:
    return write_config(
        tmp_path / "am.yml",
        [webhook_receiver(good, name="good"), webhook_receiver(bad, name="bad")],
        route={
            "group_wait": f"{GROUP_WAIT:g}s",
            "group_interval": "1m",
            "repeat_interval": "1h",
            "routes": [{"receiver": "bad", "matchers": ['team="bad"']}],
        },
    )


def group_of(r: ReceivedRequest) -> str:
    return str(r.json["groupLabels"]["alertname"])


def post_groups_one_a_second(dep: Deployment, good: HttpSink, bad_is_still_bad: threading.Event) -> None:
    """A new group for each receiver every second; each healthy group must be notified (within
    HEALTHY_DEADLINE) before the next is posted, while the bad receiver is still bad."""
    for i in range(GROUPS):
        posted = time.monotonic()
        dep.post([alert(f"Good{i:02d}", team="good"), alert(f"Bad{i:02d}", team="bad")])
        good.wait_for(i + 1, timeout=HEALTHY_DEADLINE)
        assert bad_is_still_bad.is_set()
        assert [group_of(r) for r in good.requests] == [f"Good{n:02d}" for n in range(i + 1)]
        time.sleep(max(0.0, 1.0 - (time.monotonic() - posted)))


def sample(url: str, series: str) -> float:
    """The value of one series (name and labels as exposed) in `url`'s /metrics, 0 if absent."""
    text = requests.get(f"{url}/metrics", timeout=10).text
    found = re.search(rf"^{re.escape(series)} (\S+)$", text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def counter(dep: Deployment, name: str) -> float:
    """A webhook counter summed over the processes that send (the workers, or the single node)."""
    return sum(sample(url, f'{name}{{integration="webhook"}}') for url in dep.worker_urls or dep.web_urls)


def test_a_failing_receiver_delays_no_healthy_group_and_gets_backed_off_retries(
    deploy, tmp_path: Path
) -> None:
    failing = threading.Event()
    failing.set()
    answers: list[tuple[str, float, int]] = []  # the bad receiver's: group, arrival, status
    lock = threading.Lock()

    def answer(r: ReceivedRequest) -> tuple[int, bytes, str]:
        status = 500 if failing.is_set() else 200
        with lock:
            answers.append((group_of(r), r.received_at, status))
        return status, b"", "text/plain"

    def by_group() -> dict[str, list[tuple[float, int]]]:
        grouped: dict[str, list[tuple[float, int]]] = defaultdict(list)
        with lock:
            for group, at, status in answers:
                grouped[group].append((at, status))
        return grouped

    with HttpSink() as good, HttpSink(responder=answer) as bad:
        dep = deploy(config(tmp_path, good.url, bad.url))
        post_groups_one_a_second(dep, good, failing)

        # Every failing group gets retried during the outage, each retry later than the last.
        bad_groups = [f"Bad{i:02d}" for i in range(GROUPS)]
        wait_until(
            lambda: all(len(by_group()[g]) >= 4 for g in bad_groups),
            timeout=30,
            message=f"failing groups were not retried: { {g: len(a) for g, a in by_group().items()} }",
        )
        # The backlog is bounded: one pending retry per failing group at most, no pile of jobs.
        pending = wait_until(
            lambda: sample(dep.web_urls[0], "alerter_retries_pending"), 10, message="no retry pending"
        )
        assert pending <= GROUPS
        assert sample(dep.web_urls[0], "alerter_queue_depth") <= 2 * GROUPS
        failing.clear()
        outage = by_group()
        first_gaps, fourth_gaps = [], []
        for group in bad_groups:
            times = [at for at, status in outage[group] if status == 500]
            gaps = [b - a for a, b in itertools.pairwise(times)]
            for k, gap in enumerate(gaps):
                assert gap >= BACKOFF_FLOORS[k] - 0.05, f"{group}: retry {k + 1} after {gap:.2f}s: {gaps}"
            first_gaps.append(gaps[0])
            fourth_gaps.append(gaps[3] if len(gaps) > 3 else gaps[-1])
        assert sum(fourth_gaps) > sum(first_gaps), f"gaps did not grow: {first_gaps} then {fourth_gaps}"

        # Recovered: each failing group is delivered once, and nothing is sent again.
        wait_until(
            lambda: all(any(s == 200 for _, s in by_group()[g]) for g in bad_groups),
            timeout=30,
            message=f"not every failing group was delivered after recovery: {by_group()}",
        )
        quiet = len(answers)
        holds(
            lambda: len(answers) == quiet and len(good.requests) == GROUPS,
            3.0,
            lambda: (
                f"more notifications after delivery: {by_group()}, {[group_of(r) for r in good.requests]}"
            ),
        )
        delivered = by_group()
        assert all([s for _, s in delivered[g]].count(200) == 1 for g in bad_groups), delivered

        # Alertmanager's counters: a notification once, however many requests it took.
        assert counter(dep, "alertmanager_notifications_total") == 2 * GROUPS
        assert counter(dep, "alertmanager_notification_requests_total") == GROUPS + len(answers)
        failed = sum(1 for _, _, status in answers if status == 500)
        assert counter(dep, "alertmanager_notification_requests_failed_total") == failed


def test_a_hanging_receiver_delays_no_healthy_group_and_gets_each_group_once(deploy, tmp_path: Path) -> None:
    hanging = threading.Event()
    hanging.set()
    released = threading.Event()

    def hang(r: ReceivedRequest) -> tuple[int, bytes, str]:
        released.wait(60)
        return 200, b"", "text/plain"

    with HttpSink() as good, HttpSink(responder=hang) as bad:
        dep = deploy(config(tmp_path, good.url, bad.url))
        try:
            post_groups_one_a_second(dep, good, hanging)
            # Each sending process lets at most SENDS_PER_TARGET sends wait on one receiver.
            senders = len(dep.worker_urls) or 1
            assert 1 <= len(bad.requests) <= SENDS_PER_TARGET * senders < GROUPS
        finally:
            hanging.clear()
            released.set()

        bad.wait_for(GROUPS, timeout=30)
        holds(
            lambda: len(bad.requests) == GROUPS and len(good.requests) == GROUPS,
            3.0,
            lambda: f"sent again: {[group_of(r) for r in bad.requests]}",
        )
        assert sorted(group_of(r) for r in bad.requests) == [f"Bad{i:02d}" for i in range(GROUPS)]
