"""Alertmanager 0.25 (Debian's `prometheus-alertmanager`) as a runnable oracle.

Integration tests run the real Alertmanager and alerter on the same config and the same alerts,
each pointed at its own recording HTTP server, and compare what the two servers received:

    with HttpSink() as am_sink, HttpSink() as alerter_sink:
        am = Alertmanager(config_for(am_sink.url))
        am.post([...]); am_sink.wait_for(1, timeout=20)
        am.stop()

The oracle runs as a single node (no gossip: `--cluster.listen-address=`), on a free port, with
its data under a temporary directory.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from types import TracebackType
from typing import Any

import requests
import yaml

from tests.support.ports import free_port
from tests.support.processes import ManagedProcess, require_binary


class Alertmanager:
    def __init__(self, config: dict[str, Any] | str, *extra_flags: str) -> None:
        binary = require_binary("prometheus-alertmanager", "prometheus-alertmanager")
        self._dir = tempfile.TemporaryDirectory(prefix="alertmanager-oracle-")
        path = Path(self._dir.name) / "alertmanager.yml"
        path.write_text(config if isinstance(config, str) else yaml.safe_dump(config, sort_keys=False))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = ManagedProcess(
            [
                binary,
                f"--config.file={path}",
                f"--storage.path={self._dir.name}/data",
                f"--web.listen-address=127.0.0.1:{self.port}",
                f"--web.external-url={self.url}",
                "--cluster.listen-address=",
                "--log.level=debug",
                *extra_flags,
            ],
            name="alertmanager",
        )
        self.process.wait_http(f"{self.url}/-/ready", timeout=30)

    def post(self, alerts: list[dict[str, Any]]) -> None:
        r = requests.post(f"{self.url}/api/v2/alerts", json=alerts, timeout=10)
        assert r.status_code == 200, r.text

    def logs(self) -> str:
        return self.process.log_text()

    def stop(self) -> None:
        self.process.stop()
        self._dir.cleanup()

    def __enter__(self) -> Alertmanager:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
