"""The web UI's screenshots in docs/ui/, taken from a real split deployment with sample data.

    scripts/screenshots [--out=docs/ui]

Starts a private redis-server, one `alerter web` and two `alerter worker` processes on free
ports, a webhook sink that refuses its first request (so the history shows a retry), posts a
handful of realistic alerts, makes two silences, waits for the notifications, then photographs
each page in headless Chromium at a laptop's size and the alert list at a phone's too. Everything
it started is stopped at the end, also on failure.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.e2e.conftest import start_split, write_config
from tests.support.browser import LAPTOP, PHONE, start_chromium, wait_css, wait_text
from tests.support.http_sink import HttpSink
from tests.support.processes import cleanup_all
from tests.support.redis_server import RedisServer

ROOT = Path(__file__).resolve().parent.parent
RUNBOOK = "https://runbooks.example.com"


def sample_alerts() -> list[dict]:
    def one(name: str, summary: str, minutes_ago: int, **labels: str) -> dict:
        now = time.time()
        return {
            "labels": {"alertname": name, **labels},
            "annotations": {"summary": summary, "runbook_url": f"{RUNBOOK}/{name.lower()}"},
            "startsAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 60 * minutes_ago)),
            "endsAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + 3600)),
            "generatorURL": f"http://prometheus.example.com:9090/graph?g0.expr={name}",
        }

    return [
        one(
            "DiskFull",
            "/var/lib/postgresql is 97% full",
            42,
            team="db",
            cluster="eu-1",
            instance="db-1:9100",
            severity="critical",
        ),
        one(
            "DiskFull",
            "/var/lib/postgresql is 94% full",
            17,
            team="db",
            cluster="eu-1",
            instance="db-2:9100",
            severity="critical",
        ),
        one(
            "ReplicationLag",
            "replica db-3 is 48s behind",
            8,
            team="db",
            cluster="eu-1",
            instance="db-3:9187",
            severity="warning",
        ),
        one(
            "HighLatency",
            "p99 of checkout is 2.4s (SLO 800ms)",
            25,
            team="web",
            cluster="eu-1",
            service="checkout",
            severity="critical",
        ),
        one(
            "HighLatency",
            "p99 of search is 1.1s (SLO 800ms)",
            6,
            team="web",
            cluster="us-2",
            service="search",
            severity="warning",
        ),
        one(
            "PodCrashLooping",
            "cart-7d9f restarted 14 times in 1h",
            55,
            team="web",
            cluster="us-2",
            pod="cart-7d9f",
            severity="warning",
        ),
        one(
            "CertificateExpiry",
            "api.example.com expires in 9 days",
            300,
            team="web",
            cluster="eu-1",
            severity="info",
        ),
    ]


def config(path: Path, sink_url: str) -> Path:
    receivers = [
        {"name": "db-oncall", "webhook_configs": [{"url": sink_url + "db"}]},
        {"name": "web-oncall", "webhook_configs": [{"url": sink_url + "web"}]},
    ]
    route = {
        "group_by": ["alertname", "cluster"],
        "repeat_interval": "4h",
        "routes": [{"matchers": ['team="web"'], "receiver": "web-oncall"}],
    }
    return write_config(path, receivers, route=route)


def silence(url: str, matchers: dict[str, str], comment: str, hours: float, by: str) -> None:
    now = time.time()
    body = {
        "matchers": [{"name": k, "value": v, "isRegex": False, "isEqual": True} for k, v in matchers.items()],
        "startsAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)),
        "endsAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + hours * 3600)),
        "createdBy": by,
        "comment": comment,
    }
    r = requests.post(f"{url}/api/v2/silences", json=body, timeout=10)
    r.raise_for_status()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=str(ROOT / "docs" / "ui"))
    args = p.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="alerter-screenshots-"))
    redis = RedisServer().start()
    try:
        with HttpSink(statuses=[503]) as sink:
            dep = start_split(config(work / "am.yml", sink.url), redis, webs=1, workers=2)
            url = dep.web_urls[0]
            dep.post(sample_alerts())
            silence(
                url, {"alertname": "CertificateExpiry"}, "renewal ordered, CHG-4412", 72, "maria@example.com"
            )
            silence(
                url,
                {"alertname": "PodCrashLooping", "pod": "cart-7d9f"},
                "rollback in progress",
                2,
                "sam@example.com",
            )
            # Four groups notified (the two silenced ones are not), one of them after a retry.
            sink.wait_for(5, timeout=60)
            shoot(url, out)
    finally:
        cleanup_all()
        redis.stop()
    print(f"screenshots written to {out}")
    return 0


def shoot(url: str, out: Path) -> None:
    driver = start_chromium(LAPTOP)
    try:

        def snap(name: str, fragment: str, ready: str, text: str | None = None) -> None:
            driver.get("about:blank")
            driver.get(f"{url}/#{fragment}")
            if text:
                wait_text(driver, ready, text, timeout=30)
            else:
                wait_css(driver, ready, timeout=30)
            # Two animation frames: what was built is painted before the picture is taken.
            driver.execute_async_script(
                "const done = arguments[0]; requestAnimationFrame(() => requestAnimationFrame(done));"
            )
            driver.save_screenshot(str(out / f"{name}.png"))

        snap("alerts", "/alerts", "#alert-groups .alert")
        snap("alerts-receiver", "/alerts?receiver=db-oncall&silenced=true", "#alert-groups .alert")
        snap("silences", "/silences", "#silences-results .silence")
        snap(
            "silence-new",
            "/silences/new?filter=" + quote('{alertname="DiskFull", cluster="eu-1"}'),
            "#silence-preview-count",
        )
        snap("status", "/status", "#status-peers tbody tr")
        snap("workers", "/workers", "#workers-table tbody tr")
        snap("history", "/history", "#history-groups tbody tr")
        retried = driver.find_element("xpath", "//tr[contains(., 'attempt 2')]").get_attribute("data-group")
        snap("history-group", f"/history/{retried}", "#history-attempts tbody tr")
        driver.set_window_size(*PHONE)
        snap("alerts-phone", "/alerts", "#alert-groups .alert")
    finally:
        driver.quit()


if __name__ == "__main__":
    sys.exit(main())
