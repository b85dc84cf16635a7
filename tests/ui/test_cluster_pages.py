"""#/history, #/status and #/workers on the split deployment (web tier, RQ workers, real Redis):
the notification history of a retried send, every live process, the Redis, the workers."""

from __future__ import annotations

import socket
from pathlib import Path

from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from tests.e2e.conftest import Deployment, alert, start_split, webhook_receiver, write_config
from tests.support.browser import click, texts, wait_css, wait_for, wait_text
from tests.support.http_sink import HttpSink
from tests.support.processes import wait_until
from tests.support.redis_server import RedisServer


def test_history_shows_a_retried_then_delivered_notification(
    tmp_path: Path, browser: WebDriver, redis_server: RedisServer, started: list[Deployment]
) -> None:
    with HttpSink(statuses=[500]) as hook:
        config = write_config(
            tmp_path / "am.yml",
            [webhook_receiver(hook.url + "hooks/s3cr3t", "pager")],
            route={"repeat_interval": "1h"},
        )
        dep = start_split(config, redis_server, webs=1, workers=1)
        started.append(dep)
        dep.post([alert("DiskFull", instance="db1")])
        hook.wait_for(2, timeout=30)  # the 500, then the retry that got through
        worker = f"{socket.gethostname()}/{dep.processes[0].pid}"

        # The history is written within 0.1 s of each attempt: wait for the send's record.
        wait_until(
            lambda: (
                [g["latest"]["outcome"] for g in dep.get("/api/alerter/v1/history")["groups"]] == ["sent"]
            ),
            timeout=10,
            message="the delivery was not recorded",
        )
        browser.get(f"{dep.web_urls[0]}/#/history")
        row = wait_text(browser, "#history-groups tbody tr", '{alertname="DiskFull"}')
        assert "sent attempt 2" in row.text and "pager" in row.text and worker in row.text, row.text
        click(browser, "#history-groups .group-link", '{alertname="DiskFull"}')

        wait_css(browser, "#history-attempts")
        outcomes = [
            r.get_attribute("data-outcome")
            for r in browser.find_elements(By.CSS_SELECTOR, "#history-attempts tbody tr")
        ]
        assert outcomes == ["sent", "retrying"]  # newest first
        sent, retried = [
            [c.text for c in r.find_elements(By.TAG_NAME, "td")]
            for r in browser.find_elements(By.CSS_SELECTOR, "#history-attempts tbody tr")
        ]
        assert sent[1:] == ["pager / webhook[0]", "2", "sent", "1 firing, 0 resolved", worker, ""]
        assert retried[1:6] == ["pager / webhook[0]", "1", "retrying", "1 firing, 0 resolved", worker]
        assert "500" in retried[6]
        assert "s3cr3t" not in retried[6]  # a webhook URL's path is a secret: never in the history
        log_rows = [
            [c.text for c in r.find_elements(By.TAG_NAME, "td")]
            for r in browser.find_elements(By.CSS_SELECTOR, "#history-log tbody tr")
        ]
        assert [r[0] for r in log_rows] == ["pager / webhook[0]"]
        assert log_rows[0][2:4] == ["1", "0"]
        # Back to the group's alerts from its history.
        click(browser, "#history-group a", "Show this group's alerts")
        wait_text(browser, "#alerts-summary", "1 group, 1 alert")


def test_status_and_workers_pages_show_every_live_process(
    tmp_path: Path, browser: WebDriver, redis_server: RedisServer, started: list[Deployment]
) -> None:
    with HttpSink() as hook:
        config = write_config(tmp_path / "am.yml", [webhook_receiver(hook.url + "token/s3cr3t")])
        dep = start_split(config, redis_server, webs=1, workers=2)
        started.append(dep)
        dep.post([alert("DiskFull")])
        hook.wait_for(1, timeout=30)
        base = dep.web_urls[0]

        browser.get(f"{base}/#/status")
        wait_for(
            browser,
            lambda d: len(d.find_elements(By.CSS_SELECTOR, "#status-peers tbody tr")) == 3,
            30,
            "expected 1 web and 2 worker processes in the cluster table",
        )
        roles = sorted(
            r.get_attribute("data-role")
            for r in browser.find_elements(By.CSS_SELECTOR, "#status-peers tbody tr")
        )
        assert roles == ["web", "worker", "worker"]
        assert browser.find_element(By.ID, "status-cluster-state").text == "ready"
        assert browser.find_element(By.ID, "status-redis-mode").text == "redis"
        assert browser.find_element(By.ID, "status-redis-role").text == "master"
        assert f"127.0.0.1:{redis_server.port}" in browser.find_element(By.ID, "status").text
        assert (
            browser.find_element(By.ID, "status-version").text
            == dep.get("/api/v2/status")["versionInfo"]["version"]
        )
        config_text = browser.find_element(By.ID, "status-config").get_attribute("textContent")
        assert "url: <secret>" in config_text and "s3cr3t" not in config_text
        assert "receiver: hook" in config_text

        browser.get(f"{base}/#/workers")
        wait_text(browser, "#workers h2", "RQ workers (2)")
        assert len(browser.find_elements(By.CSS_SELECTOR, "#workers-table tbody tr")) == 2
        assert len(browser.find_elements(By.CSS_SELECTOR, "#workers-processes tbody tr")) == 3
        assert browser.find_element(By.ID, "workers-groups").text == "1"
        assert browser.find_element(By.ID, "workers-waiting").text.isdigit()
        pids = {f"{socket.gethostname()}/{p.pid}" for p in dep.processes[:2]}
        assert {t.split("\n")[0] for t in texts(browser, "#workers-table tbody td:nth-child(2)")} == pids

        # A worker stops: the page, refreshing itself, shows one.
        Select(browser.find_element(By.ID, "refresh-every")).select_by_visible_text("2s")
        dep.processes[0].stop()
        wait_for(
            browser,
            lambda d: (
                len(d.find_elements(By.CSS_SELECTOR, "#workers-table tbody tr")) == 1
                and len(d.find_elements(By.CSS_SELECTOR, "#workers-processes tbody tr")) == 2
            ),
            30,
            "the stopped worker is still shown",
        )
