"""Alertmanager's flags: both spellings, defaults, and errors that name the flag."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from app.cli import FEATURES, NO_EFFECT, STORAGE_ON_REDIS, build_parser, parse_settings
from tests.support.processes import REPO_ROOT, alerter_command


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
        (["--data.retention", "1y"], "--data.retention"),
        (["--data.maintenance-interval=0s"], "--data.maintenance-interval"),
        (["--dispatch.maintenance-interval=-1s"], "--dispatch.maintenance-interval"),
        (["--silences.max-silences=lots"], "--silences.max-silences"),
        (["--web.timeout=5"], "--web.timeout"),
        (["--web.listen-address=vsock://:9100"], "--web.listen-address"),
        (["--log.silences=true"], "--log.silences"),
        (["--config.file=a.yml", "--config.file=b.yml"], "--config.file"),
        (["--log.silences", "--no-log.silences"], "--log.silences"),
        (["--enable-feature=classic-mode,utf8-strict-mode"], "--enable-feature"),
        (["--enable-feature=auto-gomemlimit", "--auto-gomemlimit.ratio=1.5"], "--auto-gomemlimit.ratio"),
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


def test_every_flag_of_alertmanager_0_25_to_upstream_is_accepted() -> None:
    """The union of cmd/alertmanager's flags (kingpin.Flag), the exporter toolkit's web flags
    and promslog's, from v0.25.0 to upstream's HEAD (v0.34+), each with a value it takes."""
    argv = [
        "--config.file=am.yml",
        "--storage.path=/var/am",
        "--data.retention=5d",
        "--data.maintenance-interval=1.5m",
        "--silences.max-silences=100",
        "--silences.max-silence-size-bytes=1e4",
        "--log.silences",
        "--alerts.gc-interval=10m",
        "--alerts.per-alertname-limit=50",
        "--dispatch.maintenance-interval=20s",
        "--dispatch.start-delay=1m",
        "--web.listen-address=:9093",
        "--web.listen-address=127.0.0.1:9095",
        "--no-web.systemd-socket",
        "--web.config.file=",
        "--web.external-url=http://am.example/",
        "--web.route-prefix=/",
        "--web.get-concurrency=4",
        "--web.timeout=30s",
        "--auto-gomemlimit.ratio=0.8",
        "--log.level=debug",
        "--log.format=json",
        "--enable-feature=receiver-name-in-metrics,alert-names-in-metrics",
        "--cluster.listen-address=",
        "--cluster.advertise-address=10.0.0.1:9094",
        "--cluster.peer-name=am-0",
        "--cluster.peer=r1:6379",
        "--cluster.peer-timeout=10s",
        "--cluster.peers-resolve-timeout=5s",
        "--cluster.gossip-interval=100ms",
        "--cluster.pushpull-interval=30s",
        "--cluster.tcp-timeout=5s",
        "--cluster.settle-timeout=30s",
        "--cluster.probe-interval=2s",
        "--cluster.probe-timeout=1s",
        "--cluster.reconnect-interval=5s",
        "--cluster.reconnect-timeout=1h",
        "--cluster.tls-config=",
        "--cluster.allow-insecure-public-advertise-address-discovery",
        "--cluster.label=prod",
    ]
    s = parse_settings(argv)
    assert (s.maintenance_interval, s.max_silences, s.max_silence_size_bytes, s.log_silences) == (
        90,
        100,
        10000,
        True,
    )
    assert (s.per_alertname_limit, s.dispatch_maintenance_interval, s.dispatch_start_delay) == (50, 20, 60)
    assert s.listen_addresses == [":9093", "127.0.0.1:9095"] and s.listen_address == ":9093"
    assert (s.web_systemd_socket, s.web_get_concurrency, s.web_timeout) == (False, 4, 30)
    assert (s.cluster_peer_name, s.peers_resolve_timeout, s.data_retention) == ("am-0", 5, 432000)
    assert s.features == {"receiver-name-in-metrics", "alert-names-in-metrics"}
    assert [flag for flag, _ in s.ignored_flags] == [
        "--cluster.allow-insecure-public-advertise-address-discovery",
        "--auto-gomemlimit.ratio",
        "--cluster.reconnect-interval",
    ]
    for flag in re.findall(r"(--[a-z][\w.-]*)=?", " ".join(argv)):
        assert flag in build_parser("alerter")._option_string_actions, flag


def test_defaults_of_the_new_flags_are_alertmanagers() -> None:
    s = parse_settings([])
    assert (s.maintenance_interval, s.max_silences, s.max_silence_size_bytes, s.log_silences) == (
        900,
        0,
        0,
        False,
    )
    assert (s.per_alertname_limit, s.dispatch_maintenance_interval, s.dispatch_start_delay) == (0, 30, 0)
    assert (s.web_systemd_socket, s.web_get_concurrency, s.web_timeout) == (False, 0, 0)
    assert (s.cluster_peer_name, s.peers_resolve_timeout, s.ignored_flags) == ("", 15, ())


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("1.5h", 5400), ("2d", 172800), ("1w", 604800), ("1h30m", 5400), ("250ms", 0.25), ("0", 0)],
)
def test_durations_are_read_as_kingpin_reads_them(text: str, seconds: float) -> None:
    """Go's syntax plus days and weeks (go-str2duration, kingpin 2.4: Alertmanager 0.27+)."""
    assert parse_settings([f"--data.retention={text}"]).data_retention == seconds


@pytest.mark.parametrize(("text", "value"), [("10", 10), ("1e3", 1000), ("7.9", 7), ("-1", -1)])
def test_whole_numbers_are_read_as_kingpin_reads_them(text: str, value: int) -> None:
    """kingpin parses an Int with strconv.ParseFloat and truncates it."""
    assert parse_settings([f"--silences.max-silences={text}"]).max_silences == value


def test_switches_take_no_prefix_to_set_and_no_to_clear() -> None:
    assert parse_settings(["--log.silences"]).log_silences
    assert not parse_settings(["--no-log.silences"]).log_silences


def test_every_feature_name_of_every_release_is_accepted_and_the_ones_without_effect_say_why() -> None:
    s = parse_settings([f"--enable-feature={','.join(FEATURES)}".replace("utf8-strict-mode,", "")])
    assert s.features == set(FEATURES) - {"utf8-strict-mode"}
    assert {flag for flag, _ in s.ignored_flags} == {
        "--enable-feature=auto-gomemlimit",
        "--enable-feature=auto-gomaxprocs",
        "--enable-feature=event-recorder",
    }
    assert all(why for _, why in s.ignored_flags)
    assert parse_settings(
        ["--enable-feature=classic-mode", "--enable-feature=alert-names-in-metrics"]
    ).features == {
        "classic-mode",
        "alert-names-in-metrics",
    }


def test_unknown_feature_is_refused_with_alertmanagers_message(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit):
        parse_settings(["--enable-feature=receiver-name-in-metrics,time-travel"])
    assert "unknown option 'time-travel' for --enable-feature" in capsys.readouterr().err


def test_storage_path_has_no_effect_on_redis_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REDIS_URL", raising=False)
    assert parse_settings(["--storage.path=/var/am"]).ignored_flags == ()
    on_redis = parse_settings(["--storage.path=/var/am", "--redis.url=redis://r:6379/0"])
    assert on_redis.ignored_flags == (("--storage.path", STORAGE_ON_REDIS),)


def test_no_effect_flags_are_named_by_their_flag() -> None:
    flags = {a.dest: a.option_strings[0] for a in build_parser("alerter")._actions}
    assert {flags[dest] for dest in NO_EFFECT} == {
        "--cluster.allow-insecure-public-advertise-address-discovery",
        "--auto-gomemlimit.ratio",
        "--cluster.reconnect-interval",
    }


def test_version_prints_alerters_version_and_the_alertmanager_api_it_follows() -> None:
    for command in ([], ["web"], ["worker"]):
        done = subprocess.run(
            alerter_command(*command, "--version"), capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        first = done.stdout.splitlines()[0]
        assert re.fullmatch(
            r"alerter, version \S+ \(Alertmanager API v2, .*Alertmanager 0\.25 to 0\.\d+\)", first
        )


def test_systemd_socket_without_sockets_refuses_to_start() -> None:
    """The toolkit's refusal, "no socket activation file descriptors found", exit 1: here
    LISTEN_FDS is set but for another process (LISTEN_PID is not the child's)."""
    env = {**os.environ, "LISTEN_FDS": "1", "LISTEN_PID": "1"}
    argv = alerter_command("--web.systemd-socket", "--config.file=config/alertmanager.yml")
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env, cwd=REPO_ROOT)
    assert done.returncode == 1
    assert "--web.systemd-socket: no socket activation file descriptors found" in done.stderr
