"""The `alerter` command: Alertmanager's flags, with subcommands for the split deployment.

    alerter [flags]                 everything in one process (embedded fakeredis without Redis)
    alerter web [flags]             the web tier under gunicorn, on Redis
    alerter worker [flags]          an RQ worker with the group-timer loop, on Redis
    alerter check-config FILE...    validate configs like `amtool check-config`

Flags take `--flag=value` or `--flag value`, as Alertmanager's parser does.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
from collections.abc import Callable

from app.backend import parse_peer
from app.durations import parse_duration
from app.settings import Settings

log = logging.getLogger("alerter")

SUBCOMMANDS = ("web", "worker", "check-config")


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
        default=d.config_file,
        help="Alertmanager configuration file name.",
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
    a("--web.config.file", dest="web_config_file", default="", help=argparse.SUPPRESS)
    a(
        "--web.workers",
        dest="web_workers",
        type=_positive_int("--web.workers"),
        default=d.web_workers,
        help="gunicorn worker processes for `alerter web`.",
    )
    a(
        "--web.threads",
        dest="web_threads",
        type=_positive_int("--web.threads"),
        default=d.web_threads,
        help="Threads per gunicorn worker; 1 runs gunicorn's sync worker (one request at a time, "
        "no keep-alive), which costs less CPU per request (docs/performance.md).",
    )
    a("--log.level", dest="log_level", default=d.log_level, choices=["debug", "info", "warn", "error"])
    a("--log.format", dest="log_format", default=d.log_format, choices=["logfmt", "json"])
    a(
        "--redis.url",
        dest="redis_url",
        default=os.environ.get("REDIS_URL", ""),
        help="Redis holding the shared state (env REDIS_URL). Without it: embedded single node.",
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
    a("--cluster.tls-config", dest="tls_config_file", default="", help="TLS settings for Redis (YAML file).")
    return p


def parse_settings(argv: list[str], prog: str = "alerter") -> Settings:
    ns = build_parser(prog).parse_args(argv)
    features = {f.strip() for item in ns.feature_flags for f in item.split(",") if f.strip()}
    unknown = features - {"classic-mode", "utf8-strict-mode"}
    if unknown:
        build_parser(prog).error(f"--enable-feature: unknown feature(s) {', '.join(sorted(unknown))}")
    for peer in ns.cluster_peers:
        try:
            parse_peer(peer)
        except ValueError as err:
            build_parser(prog).error(str(err))
    if ns.probe_timeout >= ns.tcp_timeout:
        build_parser(prog).error(
            f"--cluster.probe-timeout ({ns.probe_timeout:g}s) must be shorter than --cluster.tcp-timeout "
            f"({ns.tcp_timeout:g}s): a silence or notification-log write waits up to the probe timeout "
            "for a Redis replica's acknowledgement, and a read that waits the TCP timeout fails"
        )
    values = {k: v for k, v in vars(ns).items() if k in Settings.__dataclass_fields__}
    listen_given = any(a == "--web.listen-address" or a.startswith("--web.listen-address=") for a in argv)
    return Settings(**values, features=frozenset(features), serve_worker_metrics=listen_given)


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

    settings = parse_settings(args, prog=f"alerter {command}".strip())
    if command == "web" and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Before prometheus_client is imported: gunicorn's workers share their metrics through
        # files here, so /metrics counts the whole web tier whichever worker answers.
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="alerter-metrics-")
    from app.logsetup import setup_logging

    setup_logging(settings.log_level, settings.log_format)
    if command in ("web", "worker") and settings.embedded:
        print(
            f"alerter {command} needs a shared Redis: pass --redis.url redis://HOST:6379/0 or set REDIS_URL "
            "(run plain `alerter` for the embedded single node)",
            file=sys.stderr,
        )
        return 2
    from app.config import ConfigError
    from app.template import TemplateLoadError

    try:
        if command == "web":
            from app.serve import run_web

            return run_web(settings)
        if command == "worker":
            from app.serve import run_worker

            return run_worker(settings)
        from app.serve import run_all_in_one

        return run_all_in_one(settings)
    except (ConfigError, TemplateLoadError, OSError) as err:
        log.error("cannot start: fix the configuration and start again", extra={"fields": {"err": str(err)}})
        return 1


if __name__ == "__main__":
    sys.exit(main())
