"""Alertmanager's flags: both spellings, defaults, and errors that name the flag."""

from __future__ import annotations

import subprocess
import sys

import pytest

from app.cli import parse_settings


def test_defaults_are_alertmanagers() -> None:
    s = parse_settings([])
    assert (s.config_file, s.storage_path, s.listen_address) == ("alertmanager.yml", "data/", ":9093")
    assert (s.data_retention, s.gc_interval, s.peer_timeout, s.gossip_interval) == (432000, 1800, 15, 0.2)
    assert (s.pushpull_interval, s.tcp_timeout, s.settle_timeout) == (60, 10, 60)
    assert (s.log_level, s.log_format) == ("info", "logfmt")


def test_equals_and_space_forms_and_repeatable_peers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REDIS_URL", raising=False)
    s = parse_settings(
        [
            "--config.file",
            "a.yml",
            "--storage.path=/var/am",
            "--cluster.peer=r1:6379",
            "--cluster.peer",
            "r2:6379",
            "--cluster.peer-timeout",
            "1m30s",
            "--data.retention=24h",
        ]
    )
    assert (s.config_file, s.storage_path) == ("a.yml", "/var/am")
    assert s.cluster_peers == ["r1:6379", "r2:6379"]
    assert (s.peer_timeout, s.data_retention) == (90, 86400)
    assert not s.embedded


def test_redis_url_from_environment_and_empty_listen_address_means_embedded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("REDIS_URL", "redis://cache:6379/0")
    assert parse_settings([]).redis_url == "redis://cache:6379/0"
    assert not parse_settings([]).embedded
    assert parse_settings(["--cluster.listen-address="]).embedded


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["--cluster.peer-timeout=fast"], "--cluster.peer-timeout"),
        (["--data.retention", "1.5h"], "--data.retention"),
        (["--cluster.peer=redis://host:notaport"], "--cluster.peer"),
        (["--web.listen-address=nowhere"], "--web.listen-address"),
        (["--log.format=xml"], "--log.format"),
        (["--enable-feature=time-travel"], "--enable-feature"),
        (["--no-such-flag"], "--no-such-flag"),
        # A write waits up to the probe timeout for a replica; the socket must outlast that wait.
        (["--cluster.probe-timeout=10s"], "must be shorter than --cluster.tcp-timeout (10s)"),
    ],
)
def test_bad_values_are_refused_naming_the_flag(
    argv: list[str], named: str, capsys: pytest.CaptureFixture
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        parse_settings(argv)
    assert exit_info.value.code == 2
    assert named in capsys.readouterr().err


def test_importing_the_cli_leaves_prometheus_client_unimported() -> None:
    """Regression: `alerter web` points prometheus_client at a shared metrics directory before
    importing it; a module the cli imports that pulled in app.metrics first (app.durability did,
    through app.backend) left each gunicorn worker counting alone, so /metrics lost counts."""
    probe = "import sys, app.cli; print('prometheus_client' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
