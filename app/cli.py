"""The `alerter` command: Alertmanager's flags, with subcommands for the split deployment.

    alerter [flags]                 everything in one process (embedded fakeredis without Redis)
    alerter web [flags]             the web tier under gunicorn, on Redis
    alerter worker [flags]          an RQ worker with the group-timer loop, on Redis
    alerter check-config FILE...    validate configs like `amtool check-config`
    alerter receiver test NAME [flags]
                                    send a test notification through each integration of a
                                    receiver and print each one's answer (alerter only)

Flags take `--flag=value` or `--flag value`, switches `--flag` and `--no-flag`, as Alertmanager's
parser (kingpin) does; docs/flags.md says what each flag does here.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import re
import sys
import tempfile
from collections.abc import Callable
from typing import Any

from app import ALERTMANAGER_API, ALERTMANAGER_RELEASES, __version__, platform_env
from app.backend import parse_address, redis_setup
from app.durations import parse_flag_duration
from app.settings import Settings

log = logging.getLogger("alerter")

SUBCOMMANDS = ("web", "worker", "check-config", "receiver")
RECEIVER_TEST_USAGE = "usage: alerter receiver test NAME [--config.file=FILE] [--web.external-url=URL]"


def _duration(flag: str, positive: bool = False) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            seconds = parse_flag_duration(text)
        except ValueError as err:
            raise argparse.ArgumentTypeError(f"{flag}: {err}") from None
        if positive and seconds <= 0:
            raise argparse.ArgumentTypeError(f"{flag} must be longer than 0, got {text!r}")
        return seconds

    return parse


# kingpin reads an Int or Float64 flag with Go's strconv.ParseFloat (an Int is truncated):
# `1e3`, `10.5`, `-1` are numbers, ` 5` and `inf` as alerter reads them are not.
_GO_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


def _number(flag: str, kind: Callable[[float], Any]) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        if not _GO_NUMBER.fullmatch(text):
            raise argparse.ArgumentTypeError(f"{flag} must be a number, got {text!r}")
        return kind(float(text))

    return parse


def _positive_int(flag: str) -> Callable[[str], int]:
    def parse(text: str) -> int:
        if not text.isdigit() or int(text) < 1:
            raise argparse.ArgumentTypeError(f"{flag} must be a positive whole number, got {text!r}")
        return int(text)

    return parse


def _listen_address(text: str) -> str:
    if text.startswith("vsock://"):
        raise argparse.ArgumentTypeError(f"{text}: alerter cannot listen on vsock")
    _, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise argparse.ArgumentTypeError(f"--web.listen-address must be host:port or :port, got {text!r}")
    return text


def _given(action: argparse.Action, namespace: argparse.Namespace) -> bool:
    """Record that the command line gave `action`'s flag; True if it had already."""
    seen: set[str] = namespace.__dict__.setdefault("given", set())
    again = action.dest in seen
    seen.add(action.dest)
    return again


class _Once(argparse.Action):
    """A flag given at most once. kingpin, Alertmanager's parser, refuses a second value of any
    flag that is not a list ("flag 'config.file' cannot be repeated") rather than let the last
    one win, so a command line that starts Alertmanager means one thing here too."""

    def __call__(
        self, parser: argparse.ArgumentParser, ns: argparse.Namespace, value: Any, opt: Any = None
    ) -> None:
        if _given(self, ns):
            raise argparse.ArgumentError(self, "cannot be repeated")
        setattr(ns, self.dest, value)


class _Switch(argparse.BooleanOptionalAction):
    """A kingpin Bool: `--flag` sets it and `--no-flag` clears it; `--flag=true` is refused, as
    kingpin refuses it, and so is giving it twice."""

    def __call__(
        self, parser: argparse.ArgumentParser, ns: argparse.Namespace, value: Any, opt: Any = None
    ) -> None:
        if _given(self, ns):
            raise argparse.ArgumentError(self, "cannot be repeated")
        super().__call__(parser, ns, value, opt)


class _List(argparse.Action):
    """A repeatable flag (kingpin's Strings): each occurrence adds a value, the first replaces
    the default."""

    def __call__(
        self, parser: argparse.ArgumentParser, ns: argparse.Namespace, value: Any, opt: Any = None
    ) -> None:
        earlier = list(getattr(ns, self.dest)) if _given(self, ns) else []
        setattr(ns, self.dest, [*earlier, value])


# --cluster.* durations: (flag, Settings field). See docs/flags.md for their meaning.
_CLUSTER_DURATIONS = [
    ("--cluster.peer-timeout", "peer_timeout"),
    ("--cluster.peers-resolve-timeout", "peers_resolve_timeout"),
    ("--cluster.gossip-interval", "gossip_interval"),
    ("--cluster.pushpull-interval", "pushpull_interval"),
    ("--cluster.tcp-timeout", "tcp_timeout"),
    ("--cluster.settle-timeout", "settle_timeout"),
    ("--cluster.probe-interval", "probe_interval"),
    ("--cluster.probe-timeout", "probe_timeout"),
    ("--cluster.reconnect-interval", "reconnect_interval"),
    ("--cluster.reconnect-timeout", "reconnect_timeout"),
]

# Every --enable-feature name of Alertmanager 0.27 to upstream (0.25 and 0.26 had none): None
# when alerter implements it, else why it has no effect here (one warning at start).
FEATURES: dict[str, str | None] = {
    "alert-names-in-metrics": None,
    "receiver-name-in-metrics": None,
    "group-key-in-metrics": None,
    "classic-mode": None,
    "utf8-strict-mode": None,
    "auto-gomemlimit": "alerter is not a Go program: there is no GOMEMLIMIT to set",
    "auto-gomaxprocs": "alerter is not a Go program: there is no GOMAXPROCS to set",
    "event-recorder": "alerter has no event recorder: it records no events",
}

# Flags accepted so that Alertmanager's command lines start, without an effect on Redis: the
# reason, logged once at start when one is given (argparse dest -> why).
NO_EFFECT: dict[str, str] = {
    "allow_insecure_advertise": "alerter opens no cluster port, so there is no address to discover; "
    "the cluster view shows --cluster.advertise-address or the host name",
    "memlimit_ratio": "alerter is not a Go program: there is no GOMEMLIMIT to derive",
    "reconnect_interval": "the Redis client reconnects at its next use, and timers and workers retry "
    "with a back-off of at most 5 s",
}


STORAGE_ON_REDIS = "the state is in Redis; only the embedded single node keeps it under --storage.path"


def version_text() -> str:
    """What `--version` prints: alerter's version and the Alertmanager releases it follows."""
    return (
        f"alerter, version {__version__} (Alertmanager API {ALERTMANAGER_API}, flags and "
        f"configuration of Alertmanager {ALERTMANAGER_RELEASES})\n"
        f"  python version:   {platform.python_version()}\n"
        f"  platform:         {sys.platform}/{platform.machine()}"
    )


def build_parser(prog: str) -> argparse.ArgumentParser:
    d = Settings()
    p = argparse.ArgumentParser(
        prog=prog,
        allow_abbrev=False,
        description="Alertmanager-compatible alert router.",
        # --version prints its lines as they are.
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )

    def a(*names: str, **kwargs: Any) -> None:
        p.add_argument(*names, **{"action": _Once, **kwargs})

    a("--version", action="version", version=version_text())
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
        "--data.maintenance-interval",
        dest="maintenance_interval",
        type=_duration("--data.maintenance-interval", positive=True),
        default=d.maintenance_interval,
        help="Interval between garbage collections of the silences and the notification log "
        "(and, embedded, snapshots of the state).",
    )
    a(
        "--silences.max-silences",
        dest="max_silences",
        type=_number("--silences.max-silences", int),
        default=d.max_silences,
        help="Maximum number of silences, expired ones included; 0 or less for no limit.",
    )
    a(
        "--silences.max-silence-size-bytes",
        dest="max_silence_size_bytes",
        type=_number("--silences.max-silence-size-bytes", int),
        default=d.max_silence_size_bytes,
        help="Maximum size of one silence in bytes; 0 or less for no limit.",
    )
    a("--log.silences", dest="log_silences", action=_Switch, default=False, help="Log silence changes.")
    a(
        "--alerts.gc-interval",
        dest="gc_interval",
        type=_duration("--alerts.gc-interval"),
        default=d.gc_interval,
        help="Interval between alert GC.",
    )
    a(
        "--alerts.per-alertname-limit",
        dest="per_alertname_limit",
        type=_number("--alerts.per-alertname-limit", int),
        default=d.per_alertname_limit,
        help="Maximum number of alerts per alertname; 0 or less for no limit.",
    )
    a(
        "--dispatch.maintenance-interval",
        dest="dispatch_maintenance_interval",
        type=_duration("--dispatch.maintenance-interval", positive=True),
        default=d.dispatch_maintenance_interval,
        help="Interval between passes over the aggregation groups (re-arming lost group timers).",
    )
    a(
        "--dispatch.start-delay",
        dest="dispatch_start_delay",
        type=_duration("--dispatch.start-delay"),
        default=d.dispatch_start_delay,
        help="How long after the cluster's first start to wait before dispatching notifications.",
    )
    a(
        "--web.listen-address",
        dest="listen_addresses",
        action=_List,
        type=_listen_address,
        default=d.listen_addresses,
        help="Address to listen on (repeatable).",
    )
    a(
        "--web.systemd-socket",
        dest="web_systemd_socket",
        action=_Switch,
        default=False,
        help="Serve the sockets of systemd socket activation instead of --web.listen-address.",
    )
    a("--web.external-url", dest="external_url", default="", help="The URL under which alerter is reachable.")
    a("--web.route-prefix", dest="route_prefix", default="", help="Prefix for the internal routes.")
    a(
        "--web.config.file",
        dest="web_config_file",
        default="",
        help="Path to the web configuration file (exporter-toolkit format): TLS and basic auth.",
    )
    a(
        "--web.get-concurrency",
        dest="web_get_concurrency",
        type=_number("--web.get-concurrency", int),
        default=d.web_get_concurrency,
        help="Maximum number of GET requests served at once per process; 0 or less for the "
        "number of CPUs or 8, whichever is larger.",
    )
    a(
        "--web.timeout",
        dest="web_timeout",
        type=_duration("--web.timeout"),
        default=d.web_timeout,
        help="Timeout for HTTP requests; 0 or less for none.",
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
    a(
        "--auto-gomemlimit.ratio",
        dest="memlimit_ratio",
        type=_number("--auto-gomemlimit.ratio", float),
        default=0.9,
        help="Accepted for Alertmanager's command lines; no effect.",
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
        "--redis.queue-url",
        dest="redis_queue_url",
        default=os.environ.get("REDIS_QUEUE_URL", ""),
        help="A plain Redis for the job queue (RQ), apart from the state's (env REDIS_QUEUE_URL): "
        "needed when --redis.url is a Redis Cluster node, whose slots RQ's commands cannot keep to "
        "(docs/scaling.md). Same URL forms and credential rules as --redis.url.",
    )
    a(
        "--enable-feature",
        dest="feature_flags",
        action=_List,
        default=[],
        help=f"Comma-separated feature flags: {', '.join(FEATURES)}.",
    )
    a("--cluster.listen-address", dest="cluster_listen_address", default=d.cluster_listen_address)
    a("--cluster.advertise-address", dest="cluster_advertise_address", default="")
    a(
        "--cluster.peer-name",
        dest="cluster_peer_name",
        default="",
        help="This process's name in the cluster view (default: host/role/address).",
    )
    a("--cluster.peer", dest="cluster_peers", action=_List, default=[])
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
    a(
        "--cluster.allow-insecure-public-advertise-address-discovery",
        dest="allow_insecure_advertise",
        action=_Switch,
        default=False,
        help="Accepted for Alertmanager's command lines; no effect.",
    )
    return p


def _platform_values(given: set[str]) -> dict[str, object]:
    """Settings a Procfile platform passes by environment (app/platform_env.py), where the
    command line does not set them (`given`: the flags' destinations given on it)."""
    values: dict[str, object] = {"redis_tls_skip_verify": platform_env.redis_tls_skip_verify()}
    workers = platform_env.web_workers_from_env()
    if workers is not None and "web_workers" not in given:
        values["web_workers"] = workers
    if "config_file" not in given:
        from_yaml = platform_env.config_from_yaml_env()
        if from_yaml is not None:
            values["config_file"] = from_yaml
    return values


def _features(parser: argparse.ArgumentParser, ns: argparse.Namespace) -> frozenset[str]:
    """--enable-feature, checked as Alertmanager's featurecontrol checks it."""
    features = frozenset(f.strip() for item in ns.feature_flags for f in item.split(",") if f.strip())
    for name in sorted(features):
        if name not in FEATURES:
            parser.error(f"--enable-feature: unknown option '{name}' for --enable-feature")
    if {"classic-mode", "utf8-strict-mode"} <= features:
        parser.error("--enable-feature: cannot have both classic and UTF-8 modes enabled")
    if "auto-gomemlimit" in features and not 0 < ns.memlimit_ratio <= 1:
        parser.error("--auto-gomemlimit.ratio must be greater than 0 and less than or equal to 1.")
    return features


def parse_settings(argv: list[str], prog: str = "alerter") -> Settings:
    parser = build_parser(prog)
    ns = parser.parse_args(argv)
    features = _features(parser, ns)
    given: set[str] = getattr(ns, "given", set())
    flag_of = {action.dest: action.option_strings[0] for action in parser._actions}
    ignored = [(flag_of[dest], why) for dest, why in NO_EFFECT.items() if dest in given]
    ignored += [
        (f"--enable-feature={name}", why) for name, why in FEATURES.items() if why and name in features
    ]
    if ns.probe_timeout >= ns.tcp_timeout:
        parser.error(
            f"--cluster.probe-timeout ({ns.probe_timeout:g}s) must be shorter than --cluster.tcp-timeout "
            f"({ns.tcp_timeout:g}s): a silence or notification-log write waits up to the probe timeout "
            "for a Redis replica's acknowledgement, and a read that waits the TCP timeout fails"
        )
    values = {k: v for k, v in vars(ns).items() if k in Settings.__dataclass_fields__}
    try:
        values.update(_platform_values(given))
    except ValueError as err:
        parser.error(str(err))
    settings = Settings(
        **values,
        redis_username=os.environ.get("REDIS_USERNAME", ""),
        redis_password=os.environ.get("REDIS_PASSWORD", ""),
        features=features,
        ignored_flags=tuple(ignored),
        serve_worker_metrics="listen_addresses" in given or ns.web_systemd_socket,
    )
    if settings.embedded and settings.redis_queue_url:
        parser.error(
            "--redis.queue-url names the job queue's Redis of a deployment on a shared Redis: pass "
            "--redis.url (or --cluster.peer) too; the embedded single node keeps its queue in-process"
        )
    if not settings.embedded:
        # Addresses, credentials and the TLS file are checked before anything starts: a bad
        # one stops the start naming it, rather than failing each connection later.
        try:
            redis_setup(settings)
            if settings.redis_queue_url:
                parse_address(settings.redis_queue_url, "--redis.queue-url")
        except ValueError as err:
            parser.error(str(err))
        if "storage_path" in given:
            settings.ignored_flags += (("--storage.path", STORAGE_ON_REDIS),)
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
    from app.listeners import ignore_systemd_sockets, systemd_fds
    from app.template import TemplateLoadError
    from app.webconfig import WebConfigError

    for flag, why in settings.ignored_flags:
        log.warning(f"{flag} has no effect: {why}", extra={"fields": {"flag": flag}})
    try:
        if settings.web_systemd_socket:
            systemd_fds()  # none, or one alerter cannot serve, stops the start here
        else:
            ignore_systemd_sockets()
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
