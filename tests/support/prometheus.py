"""A real Prometheus (Debian's `prometheus`) for interop tests, and a scrape target the test
controls: stopping the target makes `up == 0` fire the seed's InstanceDown rule (with a short
`for:`), starting it again on the same port resolves it."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import requests
import yaml

from tests.support.ports import free_port
from tests.support.processes import ManagedProcess, require_binary, wait_until

# The seed's rulefile.yml with a short `for:` (20s in the seed) so that a test takes seconds.
RULES = {
    "groups": [
        {
            "name": "default",
            "rules": [
                {
                    "alert": "InstanceDown",
                    "expr": "up == 0",
                    "for": "2s",
                    "labels": {"severity": "critical"},
                    "annotations": {
                        "summary": "Instance {{ $labels.instance }} down",
                        "description": "{{ $labels.instance }} of job {{ $labels.job }} has been down "
                        "for more than 2 seconds.",
                    },
                }
            ],
        }
    ]
}

JOB = "node"
RESEND_DELAY = "2s"


class MetricsTarget:
    """A scrape target on a fixed 127.0.0.1 port serving `/metrics` in the text format.

    HTTP/1.0 (one request per connection), so that once `stop()` returns no kept-alive
    connection can still answer a scrape: the next one is refused and `up` becomes 0.
    """

    BODY = b"# HELP demo_ready Always 1.\n# TYPE demo_ready gauge\ndemo_ready 1\n"

    def __init__(self) -> None:
        self.port = free_port()
        self.instance = f"127.0.0.1:{self.port}"
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> MetricsTarget:
        body = self.BODY

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def do_GET(self) -> None:
                if self.path.split("?")[0] != "/metrics":
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet."""

        # allow_reuse_address (SO_REUSEADDR) lets a restart bind the same port at once.
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="metrics-target", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None


class PrometheusServer:
    """A real Prometheus server on a free 127.0.0.1 port, run with the given prometheus.yml
    (as a dict) and extra flags; its HTTP API for the test."""

    def __init__(self, workdir: Path, config: dict[str, Any], *flags: str) -> None:
        binary = require_binary("prometheus", "prometheus")
        workdir.mkdir(parents=True)
        (workdir / "prometheus.yml").write_text(yaml.safe_dump(config, sort_keys=False))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = ManagedProcess(
            [
                binary,
                f"--config.file={workdir / 'prometheus.yml'}",
                f"--storage.tsdb.path={workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                # The generatorURL of its alerts (the host name otherwise).
                f"--web.external-url={self.url}",
                "--log.level=debug",
                *flags,
            ],
            cwd=workdir,
            name=f"prometheus-{self.port}",
        )

    def api(self, path: str, **params: str) -> Any:
        r = requests.get(f"{self.url}/api/v1/{path}", params=params, timeout=5)
        r.raise_for_status()
        return r.json()["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        """The instant vector `expr` evaluates to now: [{"metric": labels, "value": [t, "v"]}]."""
        return self.api("query", query=expr)["result"]


class Prometheus(PrometheusServer):
    """A real Prometheus server scraping `target` and alerting to every URL in `alertmanagers`."""

    def __init__(
        self,
        workdir: Path,
        rules: Path,
        target: MetricsTarget,
        alertmanagers: list[str],
        client: dict[str, Any] | None = None,
    ) -> None:
        """`client` is merged into the `alertmanagers` entry: tls_config, basic_auth, ...; the
        scheme comes from the URLs."""
        scheme = alertmanagers[0].split("://")[0]
        config = {
            "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(rules)],
            "scrape_configs": [{"job_name": JOB, "static_configs": [{"targets": [target.instance]}]}],
            "alerting": {
                "alertmanagers": [
                    {
                        "scheme": scheme,
                        "api_version": "v2",
                        "timeout": "5s",
                        "static_configs": [
                            {"targets": [url.removeprefix(f"{scheme}://") for url in alertmanagers]}
                        ],
                        **(client or {}),
                    }
                ]
            },
        }
        super().__init__(workdir, config, f"--rules.alert.resend-delay={RESEND_DELAY}")
        self.alertmanagers = alertmanagers
        self.target = target

    def wait_ready(self, timeout: float = 30) -> None:
        """Ready, both alerter instances discovered, and the target scraped as up: from then on
        the first evaluation of `up == 0` is sent, not dropped for want of Alertmanagers."""
        self.process.wait_http(f"{self.url}/-/ready", timeout=timeout)
        wanted = {f"{url}/api/v2/alerts" for url in self.alertmanagers}

        def discovered() -> bool:
            return {am["url"] for am in self.api("alertmanagers")["activeAlertmanagers"]} == wanted

        def target_up() -> bool:
            result = self.api("query", query=f'up{{instance="{self.target.instance}"}}')["result"]
            return bool(result) and result[0]["value"][1] == "1"

        wait_until(discovered, timeout, interval=0.1, message=f"{self.url} did not discover {wanted}")
        wait_until(target_up, timeout, interval=0.1, message=f"{self.url} did not scrape the target as up")

    def alerts(self) -> list[dict[str, Any]]:
        return [a for a in self.api("alerts")["alerts"] if a["labels"]["alertname"] == "InstanceDown"]

    def alert_states(self) -> list[str]:
        return [a["state"] for a in self.alerts()]
