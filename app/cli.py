"""The `alerter` command: Alertmanager's flags, with subcommands for the split deployment.

    alerter [flags]                 everything in one process (embedded fakeredis without Redis)
    alerter web [flags]             the web tier under gunicorn, on Redis
    alerter worker [flags]          an RQ worker with the group-timer loop, on Redis
    alerter check-config FILE...    validate configs like `amtool check-config`
    alerter receiver test NAME [flags]
                                    send a test notification through each integration of a
                                    receiver and print each one's answer (alerter only)

Flags take `--flag=value` or `--flag value`, as Alertmanager's parser does.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
from collections.abc import Callable

from app import platform_env
from app.backend import redis_setup
from app.durations import parse_duration
from app.settings import Settings

log = logging.getLogger("alerter")

SUBCOMMANDS = ("web", "worker", "check-config", "receiver")
RECEIVER_TEST_USAGE = "usage: alerter receiver test NAME [--config.file=FILE] [--web.external-url=URL]"


def _duration(flag: str) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            return parse_duration(text)
        except ValueError as err:
            raise argparse.ArgumentTypeError(f"{flag}: {err}") from None

    return parse


def _positive_int(flag: str) -> Callable[[str], int]:
    def parse(text: str) -> int:
        if not text.isdigit() or int(text) < 1:
            raise argparse.ArgumentTypeError(f"{flag} must be a positive whole number, got {text!r}")
        return int(text)

    return parse


def _listen_address(text: str) -> str:
    _, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise argparse.ArgumentTypeError(f"--web.listen-address must be host:port or :port, got {text!r}")
    return text


# --cluster.* durations: (flag, Settings field). See docs/cluster-flags.md for their meaning.
_CLUSTER_DURATIONS = [
    ("--cluster.peer-timeout", "peer_timeout"),
    ("--cluster.gossip-interval", "gossip_interval"),
    ("--cluster.pushpull-interval", "pushpull_interval"),
    ("--cluster.tcp-timeout", "tcp_timeout"),
    ("--cluster.settle-timeout", "settle_timeout"),
    ("--cluster.probe-interval", "probe_interval"),
    ("--cluster.probe-timeout", "probe_timeout"),
    ("--cluster.reconnect-interval", "reconnect_interval"),
    ("--cluster.reconnect-timeout", "reconnect_timeout"),
]


def build_parser(prog: str) -> argparse.ArgumentParser:
    d = Settings()
    p = argparse.ArgumentParser(
        prog=prog, allow_abbrev=False, description="Alertmanager-compatible alert router."
    )
    a = p.add_argument
    a(
        "--config.file",
        dest="config_file",
        default=platform_env.config_file_default(),
        help="Alertmanager configuration file name (default: $ALERTER_CONFIG_FILE, else "
        "alertmanager.yml; $ALERTER_CONFIG_YAML holds the configuration itself).",
    )
    a("--storage.path", dest="storage_path", default=d.storage_path, help="Base path for data storage.")
    a(
        "--data.retention",
        dest="data_retention",
        type=_duration("--data.retention"),
        default=d.data_retention,
        help="How long to keep data for (silences, notification log).",
    )
    a(
        "--alerts.gc-interval",
        dest="gc_interval",
        type=_duration("--alerts.gc-interval"),
        default=d.gc_interval,
        help="Interval between alert GC.",
    )
    a("--web.listen-address", dest="listen_address", type=_listen_address, default=d.listen_address)
    a("--web.external-url", dest="external_url", default="", help="The URL under which alerter is reachable.")
    a("--web.route-prefix", dest="route_prefix", default="", help="Prefix for the internal routes.")
    a(
        "--web.config.file",
        dest="web_config_file",
        default="",
        help="Path to the web configuration file (exporter-toolkit format): TLS and basic auth.",
    )
    a(
        "--web.workers",
        dest="web_workers",
        type=_positive_int("--web.workers"),
        default=d.web_workers,
        help="gunicorn worker processes for `alerter web` (default: two per core).",
    )
    a(
        "--web.threads",
        dest="web_threads",
        type=_positive_int("--web.threads"),
        default=d.web_threads,
        help="Threads per gunicorn worker; 1 runs gunicorn's sync worker (one request at a time, "
        "no keep-alive: every request pays a new connection).",
    )
    a("--log.level", dest="log_level", default=d.log_level, choices=["debug", "info", "warn", "error"])
    a("--log.format", dest="log_format", default=d.log_format, choices=["logfmt", "json"])
    a(
        "--redis.url",
        dest="redis_url",
        default=os.environ.get("REDIS_URL", ""),
        help="Redis holding the shared state (env REDIS_URL): redis://[USER:PASSWORD@]HOST:PORT/DB, "
        "rediss://... for TLS, or unix:///PATH?db=N. Without it: embedded single node. Credentials may "
        "also come from REDIS_USERNAME and REDIS_PASSWORD (docs/cluster-flags.md).",
    )
    a(
        "--enable-feature",
        dest="feature_flags",
        action="append",
        default=[],
        help="Comma-separated feature flags (classic-mode).",
    )
    a("--cluster.listen-address", dest="cluster_listen_address", default=d.cluster_listen_address)
    a("--cluster.advertise-address", dest="cluster_advertise_address", default="")
    a("--cluster.peer", dest="cluster_peers", action="append", default=[])
    a("--cluster.label", dest="cluster_label", default="")
    for flag, dest in _CLUSTER_DURATIONS:
        a(flag, dest=dest, type=_duration(flag), default=getattr(d, dest))
    a(
        "--cluster.tls-config",
        dest="tls_config_file",
        default="",
        help="Alertmanager's cluster TLS file; its tls_client_config is the TLS of every connection "
        "to Redis and Sentinel.",
    )
    return p


def _given(argv: list[str], flag: str) -> bool:
    return any(a == flag or a.startswith(f"{flag}=") for a in argv)


def _platform_values(argv: list[str]) -> dict[str, object]:
    """Settings a Procfile platform passes by environment (app/platform_env.py), where the
    command line does not set them."""
    values: dict[str, object] = {"redis_tls_skip_verify": platform_env.redis_tls_skip_verify()}
    workers = platform_env.web_workers_from_env()
    if workers is not None and not _given(argv, "--web.workers"):
        values["web_workers"] = workers
    if not _given(argv, "--config.file"):
        from_yaml = platform_env.config_from_yaml_env()
        if from_yaml is not None:
            values["config_file"] = from_yaml
    return values


def parse_settings(argv: list[str], prog: str = "alerter") -> Settings:
    ns = build_parser(prog).parse_args(argv)
    features = {f.strip() for item in ns.feature_flags for f in item.split(",") if f.strip()}
    unknown = features - {"classic-mode", "utf8-strict-mode"}
    if unknown:
        build_parser(prog).error(f"--enable-feature: unknown feature(s) {', '.join(sorted(unknown))}")
    if ns.probe_timeout >= ns.tcp_timeout:
        build_parser(prog).error(
            f"--cluster.probe-timeout ({ns.probe_timeout:g}s) must be shorter than --cluster.tcp-timeout "
            f"({ns.tcp_timeout:g}s): a silence or notification-log write waits up to the probe timeout "
            "for a Redis replica's acknowledgement, and a read that waits the TCP timeout fails"
        )
    values = {k: v for k, v in vars(ns).items() if k in Settings.__dataclass_fields__}
    listen_given = _given(argv, "--web.listen-address")
    try:
        values.update(_platform_values(argv))
    except ValueError as err:
        build_parser(prog).error(str(err))
    settings = Settings(
        **values,
        redis_username=os.environ.get("REDIS_USERNAME", ""),
        redis_password=os.environ.get("REDIS_PASSWORD", ""),
        features=frozenset(features),
        serve_worker_metrics=listen_given,
    )
    if not settings.embedded:
        # Addresses, credentials and the TLS file are checked before anything starts: a bad
        # one stops the start naming it, rather than failing each connection later.
        try:
            redis_setup(settings)
        except ValueError as err:
            build_parser(prog).error(str(err))
    return settings


def _receiver_test(args: list[str]) -> int:
    """`alerter receiver test NAME [flags]`: exit 0 when every integration took the test
    notification, 1 when one did not (or the config or receiver is wrong), 2 on bad usage."""
    if len(args) < 2 or args[0] != "test" or args[1].startswith("-"):
        print(RECEIVER_TEST_USAGE, file=sys.stderr)
        return 2
    name = args[1]
    settings = parse_settings(args[2:], prog=f"alerter receiver test {name}")
    from app.config import ConfigError
    from app.logsetup import setup_logging
    from app.notify.receivertest import try_receiver
    from app.snapshot import ConfigSnapshot
    from app.template import TemplateLoadError

    setup_logging(settings.log_level, settings.log_format)
    try:
        snapshot = ConfigSnapshot.load(settings)
    except (ConfigError, TemplateLoadError, OSError) as err:
        print(f"alerter: cannot load {settings.config_file}: {err}", file=sys.stderr)
        return 1
    receiver = snapshot.config.receivers.get(name)
    if receiver is None:
        known = ", ".join(snapshot.config.receivers)
        print(
            f"alerter: no receiver {name!r} in {settings.config_file} (receivers: {known})", file=sys.stderr
        )
        return 1
    answers = try_receiver(receiver, snapshot.templates, settings.notification_external_url)
    if not answers:
        print(f"receiver {name!r} has no integrations: nothing to test")
    for answer in answers:
        print(answer.line())
    return 0 if all(a.ok for a in answers) else 1


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    command = args.pop(0) if args and args[0] in SUBCOMMANDS else ""
    if command == "check-config":
        from app.checkconfig import check_config

        if not args:
            print("usage: alerter check-config FILE...", file=sys.stderr)
            return 2
        output, ok = check_config(args)
        print(output)
        if not ok:
            print(f"alerter: error: failed to validate {output.count('FAILED')} file(s)", file=sys.stderr)
        return 0 if ok else 1
    if command == "receiver":
        return _receiver_test(args)

    settings = parse_settings(args, prog=f"alerter {command}".strip())
    if command == "web" and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Before prometheus_client is imported: gunicorn's workers share their metrics through
        # files here, so /metrics counts the whole web tier whichever worker answers.
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="alerter-metrics-")
    from app.logsetup import setup_logging

    setup_logging(settings.log_level, settings.log_format)
    if settings.redis_tls_skip_verify:
        log.warning(
            "REDIS_TLS_SKIP_VERIFY=true: the Redis server's TLS certificate is not verified; anyone "
            "on the network path can read and change alerter's state"
        )
    if command in ("web", "worker") and settings.embedded:
        print(
            f"alerter {command} needs a shared Redis: pass --redis.url redis://HOST:6379/0 or set REDIS_URL "
            "(run plain `alerter` for the embedded single node)",
            file=sys.stderr,
        )
        return 2
    from app.config import ConfigError
    from app.template import TemplateLoadError
    from app.webconfig import WebConfigError

    try:
        if command == "web":
            from app.serve import run_web

            return run_web(settings)
        if command == "worker":
            from app.serve import run_worker

            return run_worker(settings)
        from app.serve import run_all_in_one

        return run_all_in_one(settings)
    except (ConfigError, TemplateLoadError, WebConfigError, OSError) as err:
        log.error("cannot start: fix the configuration and start again", extra={"fields": {"err": str(err)}})
        return 1


if __name__ == "__main__":
    sys.exit(main())
