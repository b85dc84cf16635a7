"""The deployment files are valid for the tools that read them, and agree with each other.

Docker cannot run on the test machines, so docker-compose.yml is checked piece by piece with
the real readers of each piece: promtool for the Prometheus configs and rules, amtool and
alerter for alertmanager.yml, redis-sentinel for sentinel.conf, alerter's own flag parser for
every alerter command line, gunicorn for its config. A missing tool fails the test (scripts/test
installs them): a skipped check would let a broken deployment file through.
"""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path
from typing import Any

import pytest
import redis
import yaml

from app.cli import parse_settings
from app.settings import Settings
from tests.support.ports import free_port
from tests.support.processes import REPO_ROOT, ManagedProcess, alerter_command, require_binary, wait_until
from tests.support.redis_server import RedisServer

DEPLOY = REPO_ROOT / "deploy"
COMPOSE = REPO_ROOT / "docker-compose.yml"
AM_CONFIG = REPO_ROOT / "config" / "alertmanager.yml"
SENTINEL_CONF = DEPLOY / "sentinel.conf"
PROMETHEUS_CONFIGS = [DEPLOY / "prometheus1.yml", DEPLOY / "prometheus2.yml"]
RULEFILE = DEPLOY / "rulefile.yml"

# The seed's Alertmanager flags, which the alerter web instances keep.
SEED_FLAGS = ("--config.file=/etc/alertmanager/alertmanager.yml", "--storage.path=/alertmanager")


def run(argv: list[str], cwd: Path = REPO_ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=60, check=False)


def load(path: Path) -> Any:
    with open(path) as f:
        return yaml.safe_load(f)


def compose() -> dict[str, Any]:
    return load(COMPOSE)


def flag(argv: list[str], name: str) -> list[str]:
    """Values of `--name=value` arguments, in order."""
    return [a.split("=", 1)[1] for a in argv if a.startswith(f"--{name}=")]


def alerter_services() -> dict[str, list[str]]:
    """Compose services running alerter, with their command (arguments after the entrypoint)."""
    services = compose()["services"]
    return {
        name: [str(a) for a in svc["command"]]
        for name, svc in services.items()
        if svc.get("build") is not None or svc.get("image") == "alerter:local"
    }


def sentinel_conf_lines() -> list[list[str]]:
    lines = SENTINEL_CONF.read_text().splitlines()
    return [shlex.split(ln) for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]


def sentinel_port() -> int:
    ports = [int(words[1]) for words in sentinel_conf_lines() if words[0] == "port"]
    return ports[0] if ports else 26379


@pytest.mark.parametrize(
    "path",
    [COMPOSE, AM_CONFIG, RULEFILE, *PROMETHEUS_CONFIGS],
    ids=lambda p: str(p.relative_to(REPO_ROOT)),
)
def test_yaml_files_parse(path: Path) -> None:
    assert isinstance(load(path), dict)


# -- Prometheus --------------------------------------------------------------------------------


@pytest.mark.parametrize("path", PROMETHEUS_CONFIGS, ids=lambda p: p.name)
def test_prometheus_config_passes_promtool(path: Path) -> None:
    promtool = require_binary("promtool", "prometheus")
    done = run([promtool, "check", "config", str(path)])
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 rules found" in done.stdout + done.stderr  # the rule file was found and read


def test_rulefile_passes_promtool() -> None:
    promtool = require_binary("promtool", "prometheus")
    done = run([promtool, "check", "rules", str(RULEFILE)])
    assert done.returncode == 0, done.stdout + done.stderr


def test_instance_down_fires_after_20s_with_templated_annotations(tmp_path: Path) -> None:
    """The seed's rule, evaluated by Prometheus' own rule engine (promtool test rules)."""
    promtool = require_binary("promtool", "prometheus")
    tests = {
        "rule_files": [str(RULEFILE)],
        "evaluation_interval": "5s",
        "tests": [
            {
                "interval": "5s",
                "input_series": [
                    {"series": 'up{job="node", instance="web1:9100"}', "values": "1 1 0 0 0 0 0 0 0"},
                    {"series": 'up{job="node", instance="web2:9100"}', "values": "1 1 1 1 1 1 1 1 1"},
                ],
                "alert_rule_test": [
                    # Down since 10s: pending until 20s have passed.
                    {"eval_time": "25s", "alertname": "InstanceDown", "exp_alerts": []},
                    {
                        "eval_time": "30s",
                        "alertname": "InstanceDown",
                        "exp_alerts": [
                            {
                                "exp_labels": {
                                    "job": "node",
                                    "instance": "web1:9100",
                                    "severity": "critical",
                                },
                                "exp_annotations": {
                                    "summary": "Instance web1:9100 down",
                                    "description": "web1:9100 of job node has been down for more than 20 "
                                    "seconds.",
                                },
                            }
                        ],
                    },
                ],
            }
        ],
    }
    test_file = tmp_path / "rules_test.yml"
    test_file.write_text(yaml.safe_dump(tests))
    done = run([promtool, "test", "rules", str(test_file)])
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("path", PROMETHEUS_CONFIGS, ids=lambda p: p.name)
def test_each_prometheus_alerts_every_alerter_web_instance(path: Path) -> None:
    """The HA contract: every Prometheus sends to every instance, at the port it listens on."""
    services = alerter_services()
    web = {
        f"{name}:{flag(cmd, 'web.listen-address')[0].rsplit(':', 1)[1]}"
        for name, cmd in services.items()
        if cmd[0] == "web"
    }
    assert len(web) == 2
    config = load(path)
    targets = {
        t for am in config["alerting"]["alertmanagers"] for sc in am["static_configs"] for t in sc["targets"]
    }
    assert targets == web
    assert config["rule_files"] == ["rulefile.yml"]
    assert not config.get("global", {}).get("external_labels"), "would split each alert in two"


def test_prometheus_services_mount_their_own_config_and_the_rules() -> None:
    services = compose()["services"]
    for n in (1, 2):
        svc = services[f"prometheus{n}"]
        mounts = {m.split(":")[1]: m.split(":")[0] for m in svc["volumes"]}
        assert mounts["/etc/prometheus/prometheus.yml"] == f"./deploy/prometheus{n}.yml"
        assert mounts["/etc/prometheus/rulefile.yml"] == "./deploy/rulefile.yml"
        port = flag(svc["command"], "web.listen-address")[0].rsplit(":", 1)[1]
        assert f"{port}:{port}" in svc["ports"]


# -- alertmanager.yml --------------------------------------------------------------------------


def test_example_config_passes_amtool() -> None:
    amtool = require_binary("amtool", "prometheus-alertmanager")
    done = run([amtool, "check-config", str(AM_CONFIG)])
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_example_config_passes_alerter_check_config() -> None:
    done = run(alerter_command("check-config", str(AM_CONFIG)))
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize(
    ("labels", "receiver"),
    [
        (["alertname=InstanceDown", "severity=critical"], "ops-webhook"),
        (["alertname=DiskFull", "datacenter=dc1", "app=shop"], "team-Toan"),
    ],
)
def test_example_config_routes(labels: list[str], receiver: str) -> None:
    amtool = require_binary("amtool", "prometheus-alertmanager")
    done = run([amtool, "config", "routes", "test", f"--config.file={AM_CONFIG}", *labels])
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() == receiver


def test_example_config_keeps_the_seed_grouping_and_email() -> None:
    config = load(AM_CONFIG)
    assert config["route"]["group_by"] == ["alertname", "datacenter", "app"]
    assert {k for k in config["global"] if k.startswith("smtp_")} >= {
        "smtp_smarthost",
        "smtp_from",
        "smtp_auth_username",
        "smtp_auth_password",
    }
    kinds = {k for r in config["receivers"] for k in r if k.endswith("_configs")}
    assert kinds == {"email_configs", "webhook_configs"}
    assert len(config["route"]["routes"]) == 1
    assert len(config["inhibit_rules"]) == 1


# -- alerter services --------------------------------------------------------------------------


def test_compose_has_the_seed_topology_plus_redis() -> None:
    services = compose()["services"]
    assert {"prometheus1", "prometheus2", "am1", "am2"} <= set(services)
    assert {"redis-master", "redis-replica", "sentinel1", "sentinel2", "sentinel3"} <= set(services)
    roles = sorted(cmd[0] for cmd in alerter_services().values())
    assert roles == ["web", "web", "worker", "worker"]


def test_web_instances_keep_the_seed_flags() -> None:
    services = alerter_services()
    for name in ("am1", "am2"):
        cmd = services[name]
        assert cmd[0] == "web"
        for expected in SEED_FLAGS:
            assert expected in cmd
        assert flag(cmd, "cluster.listen-address") == [":8001"]
    assert flag(services["am1"], "web.listen-address") == [":9093"]
    assert flag(services["am2"], "web.listen-address") == [":9094"]


def test_cluster_peers_are_the_sentinels(monkeypatch: pytest.MonkeyPatch) -> None:
    """alerter's own parser reads each compose command as a Redis-backed (not embedded) node
    whose peers are exactly the Sentinel services, at the port sentinel.conf sets."""
    monkeypatch.delenv("REDIS_URL", raising=False)
    services = compose()["services"]
    sentinels = sorted(f"{n}:{sentinel_port()}" for n in services if n.startswith("sentinel"))
    assert len(sentinels) == 3
    for name, cmd in alerter_services().items():
        settings = parse_settings(cmd[1:], prog=f"alerter {cmd[0]}")
        assert sorted(settings.cluster_peers) == sentinels, name
        assert not settings.embedded, name
        assert not settings.redis_url, name
        assert settings.config_file == "/etc/alertmanager/alertmanager.yml"
        mounts = {str(m).split(":")[1]: str(m).split(":")[0] for m in services[name]["volumes"]}
        assert mounts[settings.config_file] == "./config/alertmanager.yml"


def test_every_bind_mount_source_exists() -> None:
    for name, svc in compose()["services"].items():
        for mount in svc.get("volumes", []):
            source = str(mount).split(":")[0]
            if source.startswith("."):
                assert (REPO_ROOT / source).exists(), f"{name}: {source} missing"


def test_dockerfile_builds_alerter_on_python_311_slim() -> None:
    text = (REPO_ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim\b", text, re.M)
    # With the `sns` extra: an image must load any alertmanager.yml, SNS receivers included.
    assert re.search(r"^RUN pip install '\.\[sns\]'$", text, re.M)
    assert re.search(r'^ENTRYPOINT \["alerter"\]', text, re.M)
    copied = re.findall(r"^COPY (\S+)", text, re.M)
    for path in copied:
        assert (REPO_ROOT / path).exists(), path
    # The default templates are package data inside app/, copied with it.
    assert "app" in copied


# -- Sentinel ----------------------------------------------------------------------------------


def test_sentinel_conf_is_accepted_by_redis_sentinel(tmp_path: Path) -> None:
    """The real redis-sentinel loads deploy/sentinel.conf (with compose's host names and port
    replaced by a private master) and watches service "alerter", alerter's default name."""
    sentinel_bin = require_binary("redis-sentinel", "redis-sentinel")
    words = sentinel_conf_lines()
    monitor = next(w for w in words if w[:2] == ["sentinel", "monitor"])
    service, host, port, quorum = monitor[2], monitor[3], int(monitor[4]), int(monitor[5])
    assert service == Settings().sentinel_service
    assert (host, port) == ("redis-master", 6379)
    assert 2 <= quorum <= 3
    assert "redis-master" in compose()["services"]

    with RedisServer() as master:
        sentinel_port_ = free_port()
        text = SENTINEL_CONF.read_text()
        text = re.sub(r"^port \d+", f"port {sentinel_port_}", text, flags=re.M)
        text = text.replace("redis-master 6379", f"127.0.0.1 {master.port}")
        conf = tmp_path / "sentinel.conf"
        conf.write_text(text + f"\nbind 127.0.0.1\ndir {tmp_path}\n")
        with ManagedProcess([sentinel_bin, str(conf)], cwd=tmp_path) as proc:
            client = RedisServer(port=sentinel_port_).client()

            def master_state() -> Any:
                if not proc.is_running():
                    raise AssertionError(f"redis-sentinel refused deploy/sentinel.conf:\n{proc.log_tail()}")
                return client.sentinel_master(service)

            state = wait_until(
                master_state,
                10,
                message=f"sentinel did not start:\n{proc.log_tail()}",
                ignore=(redis.RedisError,),
            )
            assert int(state["port"]) == master.port
            assert int(state["quorum"]) == quorum
            assert int(state["down-after-milliseconds"]) == 5000


# -- Procfile and gunicorn ---------------------------------------------------------------------


def procfile() -> dict[str, str]:
    entries: dict[str, str] = {}
    for line in (REPO_ROOT / "Procfile").read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_-]+):\s*(.+)$", line)
        if match:
            entries[match.group(1)] = match.group(2)
    return entries


def expand(line: str, **env: str) -> tuple[dict[str, str], list[str]]:
    """What a Procfile line runs once a shell has expanded it with `env`: the ALERTER_CONFIG_FILE
    it passes and alerter's argv (a shell function that prints them stands in for `exec alerter`)."""
    script = line.replace("exec alerter", "alerter_argv")
    script = 'alerter_argv() { printf \'%s\\n\' "${ALERTER_CONFIG_FILE:-}" "$@"; }; ' + script
    done = subprocess.run(
        ["bash", "-c", script], env={"PATH": "/usr/bin:/bin", **env}, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    config_file, *argv = done.stdout.splitlines()
    return {"ALERTER_CONFIG_FILE": config_file}, argv


def test_procfile_runs_web_and_worker_on_redis_url(monkeypatch: pytest.MonkeyPatch) -> None:
    entries = procfile()
    assert set(entries) == {"release", "web", "worker"}
    monkeypatch.setenv("REDIS_URL", "redis://redis.internal:6379/0")
    for kind in ("web", "worker"):
        env, argv = expand(entries[kind], PORT="5000")
        # From a clean clone the repository's example is the configuration.
        assert env == {"ALERTER_CONFIG_FILE": "config/alertmanager.yml"}
        monkeypatch.setenv("ALERTER_CONFIG_FILE", env["ALERTER_CONFIG_FILE"])
        settings = parse_settings(argv[1:], prog=f"alerter {kind}")
        assert settings.config_file == "config/alertmanager.yml"
        assert settings.redis_url == "redis://redis.internal:6379/0"
        assert not settings.embedded
        if kind == "web":
            assert settings.listen_address == ":5000"
    # A platform's own setting wins.
    env, _ = expand(entries["web"], PORT="5000", ALERTER_CONFIG_FILE="/app/am.yml")
    assert env == {"ALERTER_CONFIG_FILE": "/app/am.yml"}


def test_release_checks_the_configuration() -> None:
    _, argv = expand(procfile()["release"])
    assert argv == ["check-config", "config/alertmanager.yml"]
