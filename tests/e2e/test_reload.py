"""Config reload: SIGHUP and POST /-/reload apply a good config everywhere; a bad one is refused,
logged, and the old config stays in effect."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import requests

from tests.e2e.conftest import alert, webhook_receiver, write_config
from tests.support.http_sink import HttpSink
from tests.support.processes import wait_until


def receivers(dep) -> list[str]:
    return [r["name"] for r in dep.get("/api/v2/receivers")]


def test_bad_config_is_refused_and_good_one_applies(deploy, tmp_path: Path) -> None:
    with HttpSink() as old_sink, HttpSink() as new_sink:
        config = write_config(tmp_path / "am.yml", [webhook_receiver(old_sink.url, name="old")])
        dep = deploy(config)

        config.write_text("route:\n  receiver: nobody\nreceivers: []\n")
        r = requests.post(f"{dep.web_urls[0]}/-/reload", timeout=10)
        assert r.status_code == 500
        assert 'undefined receiver "nobody" used in route' in r.text
        assert receivers(dep) == ["old"]
        assert (
            "alertmanager_config_last_reload_successful 0.0"
            in requests.get(f"{dep.web_urls[0]}/metrics", timeout=10).text
        )
        dep.post([alert("StillOld", instance="a")])
        old_sink.wait_for(1, timeout=15)

        write_config(config, [webhook_receiver(new_sink.url, name="new")])
        for proc in dep.processes:  # the main PID, as `kill -HUP` or `docker kill -s HUP` does
            os.kill(proc.pid, signal.SIGHUP)
        for url in dep.web_urls:
            wait_until(
                lambda u=url: (
                    [x["name"] for x in requests.get(f"{u}/api/v2/receivers", timeout=5).json()] == ["new"]
                ),
                timeout=15,
                message=f"{url} did not load the new config",
                ignore=(requests.RequestException,),
            )
        dep.post([alert("NowNew", instance="a")])
        # The new receiver also takes over the old group (Alertmanager rebuilds groups on reload).
        got = wait_until(
            lambda: [r.json for r in new_sink.requests if r.json["groupLabels"] == {"alertname": "NowNew"}],
            timeout=15,
            message="the new alert never reached the new receiver",
        )
        assert [g["receiver"] for g in got] == ["new"]
        assert all(r.json["groupLabels"] != {"alertname": "NowNew"} for r in old_sink.requests)


def test_reload_endpoint_applies_a_good_config(deploy, tmp_path: Path) -> None:
    config = write_config(tmp_path / "am.yml", [webhook_receiver("http://127.0.0.1:9/", name="first")])
    dep = deploy(config)
    write_config(config, [webhook_receiver("http://127.0.0.1:9/", name="second")])
    assert requests.post(f"{dep.web_urls[0]}/-/reload", timeout=10).status_code == 200
    for url in dep.web_urls[:1]:
        wait_until(
            lambda u=url: (
                [x["name"] for x in requests.get(f"{u}/api/v2/receivers", timeout=5).json()] == ["second"]
            ),
            timeout=15,
            message="the reload endpoint did not apply the config in every web worker",
            ignore=(requests.RequestException,),
        )


def test_check_config_command(tmp_path: Path) -> None:
    good = write_config(tmp_path / "good.yml", [webhook_receiver("http://127.0.0.1:9/")])
    bad = tmp_path / "bad.yml"
    bad.write_text("route:\n  receiver: x\nreceivers:\n- name: y\n")
    ok = subprocess.run(
        [sys.executable, "-m", "app.cli", "check-config", str(good)], capture_output=True, text=True
    )
    assert ok.returncode == 0, ok.stderr
    assert f"Checking '{good}'  SUCCESS" in ok.stdout
    failed = subprocess.run(
        [sys.executable, "-m", "app.cli", "check-config", str(good), str(bad)], capture_output=True, text=True
    )
    assert failed.returncode == 1
    assert f"Checking '{bad}'  FAILED: undefined receiver \"x\" used in route" in failed.stdout
    assert "failed to validate 1 file(s)" in failed.stderr
