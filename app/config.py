"""alertmanager.yml: the data model alerter runs on, and the loader that validates it.

Field names, defaults and validation follow Alertmanager (0.34) so that an unchanged
alertmanager.yml loads here and a broken one is refused with the message Alertmanager gives.
Durations are held in seconds (floats); the loader parses Go-style durations.
Secrets are plain strings in memory but are never logged (secret fields are left out of the
dataclass reprs and out of every error message), and `Config.redacted_yaml()` shows them as
`<secret>`.

Loading works in three steps, mirroring Alertmanager's `yaml.UnmarshalStrict` + `UnmarshalYAML`:

1. `_Reader` walks the PyYAML node tree struct by struct. Unknown fields, repeated fields and
   values of the wrong YAML kind are *type errors*: collected with their line numbers and reported
   together (`yaml: unmarshal errors: ...`) once the whole document has been read. Errors raised by
   a struct's own checks (a bad duration, an email config without `to`) stop loading at once, as
   Go's yaml.v2 does, and a struct with a type error inside skips its own checks.
2. `_validate` runs the whole-config checks of Alertmanager's Config.UnmarshalYAML in the same order
   (receiver names, SMTP defaults, root route, undefined receivers and time intervals).
3. `_build_*` turn the checked values into the dataclasses below, applying global defaults and
   route inheritance.

Integrations alerter cannot deliver (Slack, PagerDuty, ...) are validated the way Alertmanager
checks them (known fields, required settings, global defaults) and kept raw in
`Receiver.unsupported`.

Deliberate differences from Alertmanager:
* URL errors give the reason without the URL (Go quotes the whole URL, which may hold a token).
* Kept-raw integrations are checked at their top level only (nested fields such as Slack actions
  are not), and are written back as given (secrets redacted) rather than with every template
  default Alertmanager fills in.
* A service name as SMTP port (`smtp.example.org:submission`) is resolved when loading.
* prometheus/common's `*_ref` secret-manager fields are refused: Alertmanager never resolves them.
* `routes: [null]`, which crashes Alertmanager, is read as an empty route.
* The config written back leaves out fields newer than Alertmanager 0.25 while they hold their
  default (Alertmanager writes them), so that amtool 0.25 can read it: see `Config.redacted_yaml`.
"""

from __future__ import annotations

import copy
import os
import socket
import zoneinfo
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from app.durations import format_duration, format_go_duration, parse_duration, parse_go_duration
from app.labels import CLASSIC_LABEL_NAME
from app.matchers import (
    MODE_CLASSIC,
    MODE_FALLBACK,
    Matcher,
    compile_regex,
    go_quote,
    parse_matchers,
    sort_matchers,
)

SECRET = "<secret>"
DEFAULT_EMAIL_SUBJECT = '{{ template "email.default.subject" . }}'
DEFAULT_EMAIL_HTML = '{{ template "email.default.html" . }}'


class ConfigError(ValueError):
    """A config that Alertmanager would refuse; the message names the field or receiver."""


# --- Model --------------------------------------------------------------------------------------


@dataclass
class TLSConfig:
    ca_file: str = ""
    cert_file: str = ""
    key_file: str = ""
    server_name: str = ""
    insecure_skip_verify: bool = False
    min_version: str = ""
    max_version: str = ""
    ca: str = ""  # inline PEM
    cert: str = ""  # inline PEM
    key: str = field(default="", repr=False)  # secret, inline PEM


@dataclass
class BasicAuth:
    username: str = ""
    password: str = field(default="", repr=False)  # secret
    password_file: str = ""
    username_file: str = ""


@dataclass
class Authorization:
    type: str = "Bearer"
    credentials: str = field(default="", repr=False)  # secret
    credentials_file: str = ""


@dataclass
class HTTPConfig:
    basic_auth: BasicAuth | None = None
    authorization: Authorization | None = None  # bearer_token/_file are folded into this
    tls_config: TLSConfig = field(default_factory=TLSConfig)
    proxy_url: str = ""
    follow_redirects: bool = True
    enable_http2: bool = True
    no_proxy: str = ""
    proxy_from_environment: bool = False
    # Kept as written (values are secrets): alerter does not send through them yet.
    proxy_connect_header: dict[str, list[str]] = field(default_factory=dict, repr=False)
    oauth2: dict[str, Any] | None = field(default=None, repr=False)
    http_headers: dict[str, Any] | None = field(default=None, repr=False)


@dataclass
class WebhookConfig:
    url: str = field(default="", repr=False)  # secret (Alertmanager treats the URL as a secret)
    url_file: str = ""
    send_resolved: bool = True
    max_alerts: int = 0
    timeout: float = 0.0  # seconds; 0 means no timeout beyond the flush deadline
    http_config: HTTPConfig = field(default_factory=HTTPConfig)
    payload: Any = None  # Alertmanager 0.29+ custom payload template, kept as written


@dataclass
class EmailConfig:
    to: str = ""
    from_: str = ""  # YAML key `from`
    smarthost: tuple[str, int] = ("", 0)  # (host, port)
    hello: str = "localhost"
    auth_username: str = ""
    auth_password: str = field(default="", repr=False)  # secret
    auth_password_file: str = ""
    auth_secret: str = field(default="", repr=False)  # secret (CRAM-MD5)
    auth_identity: str = ""
    require_tls: bool = True
    tls_config: TLSConfig = field(default_factory=TLSConfig)
    headers: dict[str, str] = field(default_factory=dict)  # Subject/To/From filled by defaults
    html: str = ""  # template; empty means alerter's default HTML body
    text: str = ""  # template; empty means no text part (Alertmanager's default)
    send_resolved: bool = False
    auth_secret_file: str = ""
    force_implicit_tls: bool | None = None  # None: implicit TLS on port 465 only
    threading: dict[str, Any] = field(default_factory=dict)  # {enabled, thread_by_date} as written


@dataclass
class Receiver:
    name: str
    webhook_configs: list[WebhookConfig] = field(default_factory=list)
    email_configs: list[EmailConfig] = field(default_factory=list)
    # Other Alertmanager integrations (slack_configs, pagerduty_configs, ...) are accepted so an
    # existing file loads; alerter keeps them raw and logs that it cannot deliver them yet. Each
    # item is the mapping as written plus `send_resolved` (Alertmanager's default when absent) and
    # `http_config` (an HTTPConfig, the global one when absent).
    unsupported: dict[str, list[dict[str, Any]]] = field(default_factory=dict, repr=False)
    labels: dict[str, str] = field(default_factory=dict)  # always holds name=<receiver name>

    def integrations(self) -> list[tuple[str, int, Any]]:
        """(integration name, index, config) for every integration alerter can deliver."""
        out: list[tuple[str, int, Any]] = []
        out += [("webhook", i, c) for i, c in enumerate(self.webhook_configs)]
        out += [("email", i, c) for i, c in enumerate(self.email_configs)]
        return out


@dataclass
class TimeRange:
    start_minute: int  # minutes since midnight, inclusive
    end_minute: int  # exclusive


@dataclass
class TimeInterval:
    times: list[TimeRange] = field(default_factory=list)
    weekdays: list[tuple[int, int]] = field(default_factory=list)  # inclusive ranges, 0=Sunday
    days_of_month: list[tuple[int, int]] = field(default_factory=list)  # may be negative
    months: list[tuple[int, int]] = field(default_factory=list)  # 1..12
    years: list[tuple[int, int]] = field(default_factory=list)
    location: str = "UTC"


@dataclass
class InhibitRule:
    source_matchers: list[Matcher] = field(default_factory=list)
    target_matchers: list[Matcher] = field(default_factory=list)
    equal: list[str] = field(default_factory=list)
    name: str = ""
    # The rule as written (source_match, source_match_re, ...), to write the config back.
    spec: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


@dataclass
class Route:
    """One node of the routing tree, with every inherited setting already resolved.

    The loader fills the effective values (receiver, group_by, timers and labels inherited from the
    parent, `match`/`match_re` folded into `matchers`); `spec` keeps what the file said so the
    config can be written back in Alertmanager's shape. Routing behaviour (match, key, id, group
    key) lives in app/route.py as module functions.
    """

    receiver: str = ""
    group_by: list[str] = field(default_factory=list)
    group_by_all: bool = False  # group_by: ['...']
    matchers: list[Matcher] = field(default_factory=list)  # match/match_re folded in
    continue_: bool = False  # YAML key `continue`
    group_wait: float = 30.0
    group_interval: float = 300.0
    repeat_interval: float = 14400.0
    mute_time_intervals: list[str] = field(default_factory=list)
    active_time_intervals: list[str] = field(default_factory=list)
    routes: list[Route] = field(default_factory=list)
    parent: Route | None = field(default=None, repr=False, compare=False)
    index: int = 0  # position among its siblings, for Route.id()
    labels: dict[str, str] = field(default_factory=dict)  # route labels merged with the parent's
    spec: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    # Memoised keys, ids and match results, owned by app/route.py.
    cache: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


@dataclass
class GlobalConfig:
    resolve_timeout: float = 300.0
    smtp_from: str = ""
    smtp_hello: str = "localhost"
    smtp_smarthost: tuple[str, int] = ("", 0)
    smtp_auth_username: str = ""
    smtp_auth_password: str = field(default="", repr=False)
    smtp_auth_password_file: str = ""
    smtp_auth_secret: str = field(default="", repr=False)
    smtp_auth_identity: str = ""
    smtp_require_tls: bool = True
    http_config: HTTPConfig = field(default_factory=HTTPConfig)
    # Other global keys (slack_api_url, pagerduty_url, ...) are accepted and kept raw.
    extra: dict[str, Any] = field(default_factory=dict, repr=False)
    smtp_auth_secret_file: str = ""
    smtp_tls_config: TLSConfig = field(default_factory=TLSConfig)
    smtp_force_implicit_tls: bool | None = None


@dataclass
class Config:
    global_: GlobalConfig
    route: Route
    receivers: dict[str, Receiver]
    inhibit_rules: list[InhibitRule] = field(default_factory=list)
    time_intervals: dict[str, list[TimeInterval]] = field(default_factory=dict)
    templates: list[str] = field(default_factory=list)  # glob patterns, resolved against the file
    original: str = field(default="", repr=False)  # the YAML text as loaded
    source_path: str = ""
    # Names declared under the deprecated top-level `mute_time_intervals` (also in time_intervals),
    # kept to write the config back under the key it was read from.
    mute_time_interval_names: list[str] = field(default_factory=list)
    # `tracing` and `event_recorder` sections: accepted as written, not used by alerter.
    extra: dict[str, Any] = field(default_factory=dict, repr=False)

    def redacted_yaml(self) -> str:
        """The parsed config as Alertmanager writes it back: defaults filled, secrets `<secret>`.

        This is `config.original` of GET /api/v2/status, which amtool reads back with its own
        Alertmanager's strict parser (`amtool config show`, `config routes show|test`). Fields are
        written as Alertmanager marshals them (fields tagged `omitempty` left out when empty), with
        one rule so that the amtool most distributions ship (0.25, Debian's) can read the output:
        a field Alertmanager 0.25 does not know is written only when the operator set it to
        something other than its default. So the defaults later versions fill in are not written
        (global `smtp_tls_config`, `slack_app_url` and `rocketchat_api_url`, a webhook's `url_file`
        and `timeout`), nor is a receiver's `labels` while it holds only the `name` label that
        Alertmanager (0.33+) adds itself. Current Alertmanager fills the same defaults back in, so
        the output loads there (and in alerter's `load_config`) to the same config.

        Known limitation: since Alertmanager 0.26 a webhook `url` is a secret and is written as
        `<secret>`, which 0.25 cannot parse as a URL; amtool 0.25 therefore cannot read the config
        of a setup with webhook receivers (`unsupported scheme "" for URL`). Newer amtools can.
        Settings the operator wrote in newer syntax (fields added after 0.25, UTF-8 label names in
        matchers) are written as set, and amtool 0.25 refuses them as it would refuse the file.
        """
        return _dump_yaml(_config_yaml(self))


# --- Reading YAML nodes like Go's yaml.v2 UnmarshalStrict ----------------------------------------

_TAG = "tag:yaml.org,2002:"
_TRUE = frozenset(["y", "Y", "yes", "Yes", "YES", "on", "On", "ON", "true", "True", "TRUE"])
_FALSE = frozenset(["n", "N", "no", "No", "NO", "off", "Off", "OFF", "false", "False", "FALSE"])

Converter = Callable[["_Reader", Node], Any]


def _is_null(node: Node | None) -> bool:
    return node is None or (isinstance(node, ScalarNode) and node.tag == _TAG + "null")


def _line(node: Node) -> int:
    return node.start_mark.line + 1


def _short_tag(node: Node) -> str:
    return "!!" + node.tag[len(_TAG) :] if node.tag.startswith(_TAG) else node.tag


def _mapping_pairs(node: MappingNode) -> list[tuple[Node, Node]]:
    """The key/value pairs of a mapping with YAML merge keys (`<<: *anchor`) expanded.

    Keys written in the mapping itself win over merged ones, as in yaml.v2.
    """
    explicit: list[tuple[Node, Node]] = []
    merged: list[tuple[Node, Node]] = []
    for key, value in node.value:
        if key.tag == _TAG + "merge":
            sources = value.value if isinstance(value, SequenceNode) else [value]
            for source in sources:
                if isinstance(source, MappingNode):
                    merged += _mapping_pairs(source)
            continue
        explicit.append((key, value))
    seen = {key.value for key, _ in explicit if isinstance(key, ScalarNode)}
    inherited = []
    for key, value in merged:
        if isinstance(key, ScalarNode) and key.value not in seen:
            seen.add(key.value)
            inherited.append((key, value))
    return inherited + explicit


class _Reader:
    """Converts YAML nodes to Python values with yaml.v2's strictness and wording.

    Type errors are collected in `errors` (reported together at the end, as yaml.v2 does); other
    errors raise ConfigError immediately.
    """

    def __init__(self, mode: str) -> None:
        self.errors: list[str] = []
        self.mode = mode

    def type_error(self, node: Node, go_type: str) -> None:
        shown = ""
        if isinstance(node, ScalarNode):
            value = node.value if len(node.value) <= 10 else node.value[:7] + "..."
            shown = f" `{value}`"
        self.errors.append(f"line {_line(node)}: cannot unmarshal {_short_tag(node)}{shown} into {go_type}")

    def struct(
        self, node: Node | None, go_type: str, table: Mapping[str, Converter]
    ) -> dict[str, Any] | None:
        """Decode a mapping into {field: converted value} for the fields present, in file order.

        None for a null node (Go leaves the struct unset). Unknown and repeated fields are type
        errors naming `go_type`, like `field foo not found in type config.plain`.
        """
        if _is_null(node):
            return None
        assert node is not None
        if not isinstance(node, MappingNode):
            self.type_error(node, go_type)
            return {}
        values: dict[str, Any] = {}
        for key, value in _mapping_pairs(node):
            name = key.value if isinstance(key, ScalarNode) else ""
            if name not in table:
                self.errors.append(f"line {_line(key)}: field {name} not found in type {go_type}")
            elif name in values:
                self.errors.append(f"line {_line(key)}: field {name} already set in type {go_type}")
            else:
                values[name] = table[name](self, value)
        return values

    def checked_struct(
        self, node: Node | None, go_type: str, table: Mapping[str, Converter]
    ) -> tuple[dict[str, Any] | None, bool]:
        """`struct`, plus whether it decoded without type errors (its own checks run only then)."""
        mark = len(self.errors)
        values = self.struct(node, go_type, table)
        return values, len(self.errors) == mark

    def string(self, node: Node, go_type: str = "string") -> str:
        if _is_null(node):
            return ""
        if isinstance(node, ScalarNode):
            return str(node.value)
        self.type_error(node, go_type)
        return ""

    def boolean(self, node: Node) -> bool | None:
        if _is_null(node):
            return None
        if isinstance(node, ScalarNode) and node.style is None:
            if node.value in _TRUE:
                return True
            if node.value in _FALSE:
                return False
        self.type_error(node, "bool")
        return None

    def integer(self, node: Node, go_type: str = "uint64") -> int | None:
        if _is_null(node):
            return None
        if isinstance(node, ScalarNode) and node.tag == _TAG + "int":
            value = int(yaml.constructor.SafeConstructor().construct_yaml_int(node))
            if value >= 0 or not go_type.startswith("uint"):
                return value
        self.type_error(node, go_type)
        return None

    def sequence(self, node: Node, go_type: str) -> list[Node] | None:
        if _is_null(node):
            return None
        if isinstance(node, SequenceNode):
            return list(node.value)
        self.type_error(node, go_type)
        return None

    def strings(self, node: Node, go_type: str = "[]string") -> list[str] | None:
        items = self.sequence(node, go_type)
        return None if items is None else [self.string(item) for item in items]

    def string_map(self, node: Node, go_type: str = "map[string]string") -> dict[str, str] | None:
        if _is_null(node):
            return None
        if not isinstance(node, MappingNode):
            self.type_error(node, go_type)
            return None
        out: dict[str, str] = {}
        for key, value in _mapping_pairs(node):
            name = self.string(key)
            if name in out:
                self.errors.append(f"line {_line(key)}: key {go_quote(name)} already set in map")
                continue
            out[name] = self.string(value)
        return out

    def duration(self, node: Node) -> float | None:
        """A Prometheus duration; a malformed one stops loading, as model.Duration does."""
        if _is_null(node):
            return None
        if not isinstance(node, ScalarNode):
            self.type_error(node, "string")
            return None
        try:
            return parse_duration(node.value)
        except ValueError as err:
            raise ConfigError(str(err)) from None

    def go_duration(self, node: Node) -> float | None:
        """A Go time.Duration: yaml.v2 takes a duration string, or an integer of nanoseconds."""
        if _is_null(node):
            return None
        if isinstance(node, ScalarNode) and node.tag == _TAG + "int":
            return int(yaml.constructor.SafeConstructor().construct_yaml_int(node)) / 1e9
        if isinstance(node, ScalarNode):
            try:
                return parse_go_duration(node.value)
            except ValueError:
                pass
        self.type_error(node, "time.Duration")
        return None

    def raw(self, node: Node) -> Any:
        """The plain Python value of a node, for sections alerter keeps as written."""
        # A copy: the constructor expands merge keys in place, and the node may be an alias that
        # another part of the document decodes field by field.
        return yaml.constructor.SafeConstructor().construct_document(copy.deepcopy(node))

    def label_name_ok(self, name: str) -> bool:
        """Alertmanager's IsValidLabelName: any non-empty name, or the classic pattern in classic mode."""
        if self.mode == MODE_CLASSIC:
            return CLASSIC_LABEL_NAME.match(name) is not None
        return name != ""


def _str(r: _Reader, node: Node) -> str:
    return r.string(node)


def _bool(r: _Reader, node: Node) -> bool | None:
    return r.boolean(node)


def _raw(r: _Reader, node: Node) -> Any:
    return r.raw(node)


def _strs(r: _Reader, node: Node) -> list[str] | None:
    return r.strings(node)


def _str_map(r: _Reader, node: Node) -> dict[str, str] | None:
    return r.string_map(node)


def _duration(r: _Reader, node: Node) -> float | None:
    return r.duration(node)


def _go_duration(r: _Reader, node: Node) -> float | None:
    return r.go_duration(node)


def _uint(r: _Reader, node: Node) -> int | None:
    return r.integer(node, "uint64")


def _list_of(go_type: str, item: Converter) -> Converter:
    """Converter for a YAML list whose items are decoded by `item` (null items stay None)."""

    def convert(r: _Reader, node: Node) -> list[Any] | None:
        items = r.sequence(node, go_type)
        if items is None:
            return None
        return [None if _is_null(n) else item(r, n) for n in items]

    return convert


def _at_most_one(values: Mapping[str, Any], *names: str) -> str | None:
    """Alertmanager's `at most one of a & b must be configured` check."""
    if sum(1 for name in names if values.get(name)) > 1:
        return f"at most one of {' & '.join(names)} must be configured"
    return None


def _fail_on(*messages: str | None) -> None:
    for message in messages:
        if message:
            raise ConfigError(message)


# --- URLs and host:port -------------------------------------------------------------------------


_HOST_PUNCTUATION = frozenset("-._~!$&'()*+,;=[]<>\"%:")


def _host_problem(host: str) -> str | None:
    """Go's url.Parse checks of the host part: allowed characters and a numeric port."""
    name, port = host, ""
    if host.startswith("[") and "]" in host:
        name, port = host[: host.index("]") + 1], host[host.index("]") + 1 :]
    elif ":" in host:
        name, _, rest = host.rpartition(":")
        port = ":" + rest
    bad = next((c for c in name if c.isascii() and not c.isalnum() and c not in _HOST_PUNCTUATION), None)
    if bad is not None:
        return f"invalid character {go_quote(bad)} in host name"
    if port and (not port.startswith(":") or not port[1:].isdigit()):
        return f"invalid port {go_quote(port)} after host"
    return None


def _url_problem(text: str) -> str | None:
    """Why Alertmanager's ParseURL refuses a URL (http/https with a host), without echoing it.

    Go's own messages quote the whole URL, which may hold a token, so only the reason is kept.
    """
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in text):
        return "net/url: invalid control character in URL"
    try:
        parts = urlsplit(text)
    except ValueError:
        return "invalid URL syntax"
    host = parts.netloc.rpartition("@")[2]
    if problem := _host_problem(host):
        return problem
    if parts.scheme not in ("http", "https"):
        return f"unsupported scheme {go_quote(parts.scheme)} for URL"
    if not host:
        return "missing host for URL"
    return None


def _url(r: _Reader, node: Node) -> str:
    text = r.string(node)
    _fail_on(_url_problem(text) if text else None)
    return text


def _secret_url(r: _Reader, node: Node) -> str:
    text = r.string(node)
    _fail_on(_url_problem(text) if text and text != SECRET else None)
    return text


def _template_url(r: _Reader, node: Node) -> str:
    """A webhook URL: templated URLs are accepted as written, plain ones must parse."""
    text = r.string(node)
    if text and text != SECRET and "{{" not in text:
        problem = _url_problem(text)
        _fail_on(f"invalid URL: {problem}" if problem else None)
    return text


def _split_host_port(text: str) -> tuple[str, str]:
    """Go's net.SplitHostPort, with its error wording."""

    def fail(why: str) -> ConfigError:
        return ConfigError(f"address {text}: {why}")

    colon = text.rfind(":")
    if colon < 0:
        raise fail("missing port in address")
    start, after = 0, 0
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise fail("missing ']' in address")
        if end + 1 != colon:
            raise fail(
                "too many colons in address" if text[end + 1 : end + 2] == ":" else "missing port in address"
            )
        host, start, after = text[1:end], 1, end + 1
    else:
        host = text[:colon]
        if ":" in host:
            raise fail("too many colons in address")
    if "[" in text[start:]:
        raise fail("unexpected '[' in address")
    if "]" in text[after:]:
        raise fail("unexpected ']' in address")
    return host, text[colon + 1 :]


def _host_port(r: _Reader, node: Node) -> tuple[str, int]:
    """`host:port` (Alertmanager's HostPort) as (host, port); empty stays ("", 0)."""
    text = r.string(node)
    if not text:
        return ("", 0)
    host, port = _split_host_port(text)
    if not port:
        raise ConfigError(f"address {go_quote(text)}: port cannot be empty")
    if port.isdigit():
        return (host, int(port))
    try:
        return (host, socket.getservbyname(port, "tcp"))
    except OSError:
        raise ConfigError(f"address {text}: unknown port") from None


def _join_host_port(host_port: tuple[str, int]) -> str:
    host, port = host_port
    if not host and not port:
        return ""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


# --- TLS and HTTP client settings (prometheus/common) --------------------------------------------

_TLS_VERSIONS = ("TLS10", "TLS11", "TLS12", "TLS13")


def _tls_version(r: _Reader, node: Node) -> str:
    text = r.string(node)
    _fail_on(f"unknown TLS version: {text}" if text not in _TLS_VERSIONS else None)
    return text


_TLS_FIELDS: dict[str, Converter] = {
    "ca": _str,
    "cert": _str,
    "key": _str,
    "ca_file": _str,
    "cert_file": _str,
    "key_file": _str,
    "server_name": _str,
    "insecure_skip_verify": _bool,
    "min_version": _tls_version,
    "max_version": _tls_version,
}


def _tls_problem(tls: TLSConfig) -> str | None:
    if tls.ca and tls.ca_file:
        return "at most one of ca, ca_file & ca_ref must be configured"
    if tls.cert and tls.cert_file:
        return "at most one of cert, cert_file & cert_ref must be configured"
    if tls.key and tls.key_file:
        return "at most one of key and key_file must be configured"
    has_cert, has_key = bool(tls.cert or tls.cert_file), bool(tls.key or tls.key_file)
    if has_cert and not has_key:
        return "exactly one of key or key_file must be configured when a client certificate is configured"
    if has_key and not has_cert:
        return "exactly one of cert or cert_file must be configured when a client key is configured"
    return None


def _tls_config(r: _Reader, node: Node) -> TLSConfig | None:
    values, clean = r.checked_struct(node, "config.plain", _TLS_FIELDS)
    if values is None:
        return None
    tls = TLSConfig(**{k: v for k, v in values.items() if v is not None})
    if clean:
        _fail_on(_tls_problem(tls))
    return tls


_BASIC_AUTH_FIELDS: dict[str, Converter] = {
    "username": _str,
    "username_file": _str,
    "password": _str,
    "password_file": _str,
}
_AUTHORIZATION_FIELDS: dict[str, Converter] = {"type": _str, "credentials": _str, "credentials_file": _str}
_OAUTH2_FIELDS = [
    "client_id",
    "client_secret",
    "client_secret_file",
    "client_certificate_key_id",
    "client_certificate_key",
    "client_certificate_key_file",
    "grant_type",
    "signature_algorithm",
    "iss",
    "audience",
    "claims",
    "scopes",
    "token_url",
    "endpoint_params",
    "tls_config",
    "proxy_url",
    "no_proxy",
    "proxy_from_environment",
    "proxy_connect_header",
]


def _basic_auth(r: _Reader, node: Node) -> BasicAuth | None:
    values = r.struct(node, "config.plain", _BASIC_AUTH_FIELDS)
    return None if values is None else BasicAuth(**values)


def _authorization(r: _Reader, node: Node) -> Authorization | None:
    values = r.struct(node, "config.Authorization", _AUTHORIZATION_FIELDS)
    return None if values is None else Authorization(**{"type": "", **values})


def _oauth2(r: _Reader, node: Node) -> dict[str, Any] | None:
    values = r.struct(node, "config.OAuth2", dict.fromkeys(_OAUTH2_FIELDS, _raw))
    return None if values is None else {k: v for k, v in values.items() if v is not None}


_HTTP_FIELDS: dict[str, Converter] = {
    "basic_auth": _basic_auth,
    "authorization": _authorization,
    "oauth2": _oauth2,
    "bearer_token": _str,
    "bearer_token_file": _str,
    "tls_config": _tls_config,
    "follow_redirects": _bool,
    "enable_http2": _bool,
    "proxy_url": _str,
    "no_proxy": _str,
    "proxy_from_environment": _bool,
    "proxy_connect_header": _raw,
    "http_headers": _raw,
}


def _auth_problem(values: dict[str, Any]) -> str | None:
    """prometheus/common's HTTPClientConfig.Validate, for the authentication settings."""
    basic, auth, oauth = values.get("basic_auth"), values.get("authorization"), values.get("oauth2")
    bearer, bearer_file = values.get("bearer_token"), values.get("bearer_token_file")
    if bearer and bearer_file:
        return "at most one of bearer_token & bearer_token_file must be configured"
    if (basic or oauth) and (bearer or bearer_file):
        return "at most one of basic_auth, oauth2, bearer_token & bearer_token_file must be configured"
    if basic and basic.username and basic.username_file:
        return "at most one of basic_auth username, username_file & username_ref must be configured"
    if basic and basic.password and basic.password_file:
        return "at most one of basic_auth password, password_file & password_ref must be configured"
    if auth is not None:
        if bearer or bearer_file:
            return "authorization is not compatible with bearer_token & bearer_token_file"
        if auth.credentials and auth.credentials_file:
            return "at most one of authorization credentials & credentials_file must be configured"
        if auth.type.strip().lower() == "basic":
            return 'authorization type cannot be set to "basic", use "basic_auth" instead'
        if basic or oauth:
            return "at most one of basic_auth, oauth2 & authorization must be configured"
    return _oauth2_problem(oauth, basic) if oauth is not None else None


def _oauth2_problem(oauth: dict[str, Any], basic: BasicAuth | None) -> str | None:
    if basic:
        return "at most one of basic_auth, oauth2 & authorization must be configured"
    if not oauth.get("client_id"):
        return "oauth2 client_id must be configured"
    if not oauth.get("token_url"):
        return "oauth2 token_url must be configured"
    if oauth.get("client_secret") and oauth.get("client_secret_file"):
        return (
            "at most one of oauth2 client_secret, client_secret_file & client_secret_ref must be configured "
            "using grant-type=client_credentials"
        )
    return None


def _proxy_problem(values: dict[str, Any]) -> str | None:
    proxy_url, from_env, no_proxy = (
        values.get("proxy_url"),
        values.get("proxy_from_environment"),
        values.get("no_proxy"),
    )
    if values.get("proxy_connect_header") and not from_env and not proxy_url:
        return (
            "if proxy_connect_header is configured, proxy_url or proxy_from_environment must also be "
            "configured"
        )
    if from_env and proxy_url:
        return "if proxy_from_environment is configured, proxy_url must not be configured"
    if from_env and no_proxy:
        return "if proxy_from_environment is configured, no_proxy must not be configured"
    if no_proxy and not proxy_url:
        return "if no_proxy is configured, proxy_url must also be configured"
    return None


def _http_config(r: _Reader, node: Node) -> HTTPConfig | None:
    values, clean = r.checked_struct(node, "config.plain", _HTTP_FIELDS)
    if values is None:
        return None
    if clean:
        _fail_on(_auth_problem(values), _proxy_problem(values))
    authorization = values.get("authorization")
    if authorization is not None:
        authorization.type = authorization.type.strip() or "Bearer"
    elif values.get("bearer_token") or values.get("bearer_token_file"):
        # Deprecated bearer_token/_file become an Authorization header, as in prometheus/common.
        authorization = Authorization(
            "Bearer", values.get("bearer_token", ""), values.get("bearer_token_file", "")
        )
    return HTTPConfig(
        basic_auth=values.get("basic_auth"),
        authorization=authorization,
        tls_config=values.get("tls_config") or TLSConfig(),
        proxy_url=values.get("proxy_url", ""),
        follow_redirects=_default(values.get("follow_redirects"), True),
        enable_http2=_default(values.get("enable_http2"), True),
        no_proxy=values.get("no_proxy", ""),
        proxy_from_environment=bool(values.get("proxy_from_environment")),
        proxy_connect_header=values.get("proxy_connect_header") or {},
        oauth2=values.get("oauth2"),
        http_headers=values.get("http_headers"),
    )


def _default(value: Any, default: Any) -> Any:
    return default if value is None else value


# --- Receivers: webhook and email ----------------------------------------------------------------

_WEBHOOK_FIELDS: dict[str, Converter] = {
    "send_resolved": _bool,
    "http_config": _http_config,
    "url": _template_url,
    "url_file": _str,
    "max_alerts": _uint,
    "timeout": _go_duration,
    "payload": _raw,
}


def _webhook(r: _Reader, node: Node) -> dict[str, Any]:
    values, clean = r.checked_struct(node, "webhook.plain", _WEBHOOK_FIELDS)
    values = values or {}
    if clean:
        url, url_file = values.get("url"), values.get("url_file")
        _fail_on(
            "one of url or url_file must be configured" if not url and not url_file else None,
            "at most one of url & url_file must be configured" if url and url_file else None,
        )
    return values


def _canonical_header(name: str) -> str:
    """Go's textproto.CanonicalMIMEHeaderKey: `content-type` -> `Content-Type`."""
    if not name or any(not (c.isalnum() or c in "-!#$%&'*+.^_`|~") or ord(c) > 127 for c in name):
        return name
    return "-".join(part[:1].upper() + part[1:].lower() for part in name.split("-"))


_THREADING_FIELDS: dict[str, Converter] = {"enabled": _bool, "thread_by_date": _str}

_EMAIL_FIELDS: dict[str, Converter] = {
    "send_resolved": _bool,
    "to": _str,
    "from": _str,
    "hello": _str,
    "smarthost": _host_port,
    "auth_username": _str,
    "auth_password": _str,
    "auth_password_file": _str,
    "auth_secret": _str,
    "auth_secret_file": _str,
    "auth_identity": _str,
    "headers": _str_map,
    "html": _str,
    "text": _str,
    "require_tls": _bool,
    "tls_config": _tls_config,
    "force_implicit_tls": _bool,
    "threading": lambda r, n: r.struct(n, "config.ThreadingConfig", _THREADING_FIELDS),
}


def _email_headers(headers: dict[str, str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in headers.items():
        canonical = _canonical_header(name)
        if canonical in out:
            raise ConfigError(f"duplicate header {go_quote(canonical)} in email config")
        out[canonical] = value
    return out


def _threading_problem(threading: dict[str, Any], headers: dict[str, str]) -> str | None:
    if not threading.get("enabled"):
        return None
    if "References" in headers:
        return "conflicting configuration: threading.enabled conflicts with custom References header"
    if "In-Reply-To" in headers:
        return "conflicting configuration: threading.enabled conflicts with custom In-Reply-To header"
    if threading.get("thread_by_date", "") not in ("none", "daily"):
        return "threading.thread_by_date must be either 'none' or 'daily'"
    return None


def _email(r: _Reader, node: Node) -> dict[str, Any]:
    values, clean = r.checked_struct(node, "config.plain", _EMAIL_FIELDS)
    values = values or {}
    if clean:
        _fail_on(None if values.get("to") else "missing to address in email config")
        values["headers"] = _email_headers(values.get("headers") or {})
        _fail_on(_threading_problem(values.get("threading") or {}, values["headers"]))
    return values


# --- Receivers: integrations alerter keeps raw ---------------------------------------------------

Check = Callable[[dict[str, Any]], str | None]


def _one_of(a: str, b: str) -> Check:
    return lambda v: None if v.get(a) or v.get(b) else f"one of {a} or {b} must be configured"


def _at_most(*names: str) -> Check:
    return lambda v: _at_most_one(v, *names)


def _required(name: str, message: str) -> Check:
    return lambda v: None if v.get(name) else message


def _sns_target(v: dict[str, Any]) -> str | None:
    target, topic, phone = (not v.get("target_arn"), not v.get("topic_arn"), not v.get("phone_number"))
    if (target != topic) != phone:
        return "must provide either a Target ARN, Topic ARN, or Phone Number for SNS config"
    return None


def _telegram_chat(v: dict[str, Any]) -> str | None:
    if not v.get("chat_id") and not v.get("chat_id_file"):
        return "missing chat_id or chat_id_file on telegram_config"
    if v.get("chat_id") and v.get("chat_id_file"):
        return "at most one of chat_id & chat_id_file must be configured"
    if v.get("parse_mode", "") not in ("", None, "Markdown", "MarkdownV2", "HTML"):
        return "unknown parse_mode on telegram_config, must be Markdown, MarkdownV2, HTML or empty string"
    return None


def _incidentio_auth(v: dict[str, Any]) -> str | None:
    http = v.get("http_config")
    token = v.get("alert_source_token") or v.get("alert_source_token_file")
    if http is not None and http.authorization is not None and token:
        return (
            "cannot specify alert_source_token or alert_source_token_file when using "
            "http_config.authorization"
        )
    if http is not None and http.authorization is None and not token:
        return (
            "at least one of alert_source_token, alert_source_token_file or http_config.authorization "
            "must be configured"
        )
    return None


def _pagerduty_key(v: dict[str, Any]) -> str | None:
    if any(v.get(k) for k in ("routing_key", "service_key", "routing_key_file", "service_key_file")):
        return None
    return "missing service or routing key in PagerDuty config"


def _jira_api_type(v: dict[str, Any]) -> str | None:
    if v.get("api_type", "auto") not in ("auto", "cloud", "datacenter"):
        return "unknown api_type on jira_config, must be auto, cloud or datacenter"
    return None


def _victorops_custom_fields(v: dict[str, Any]) -> str | None:
    reserved = ("routing_key", "message_type", "state_message", "entity_display_name", "monitoring_tool")
    for name in (*reserved, "entity_id", "entity_state"):
        if name in (v.get("custom_fields") or {}):
            return (
                f"victorOps config contains custom field {name} which cannot be used as it conflicts "
                "with the fixed/static fields"
            )
    return None


def _pushover_format(v: dict[str, Any]) -> str | None:
    return (
        "at most one of monospace & html must be configured" if v.get("html") and v.get("monospace") else None
    )


def _webex_auth(v: dict[str, Any]) -> str | None:
    http = v.get("http_config")
    return (
        "missing webex_configs.http_config.authorization"
        if http is None or http.authorization is None
        else None
    )


def _slack_auth(v: dict[str, Any]) -> str | None:
    if (v.get("api_url") or v.get("api_url_file")) and (v.get("app_token") or v.get("app_token_file")):
        return "at most one of api_url/api_url_file & app_token/app_token_file must be configured"
    return None


@dataclass(frozen=True)
class _Integration:
    """What alerter knows about an integration it keeps raw: enough to validate and redact it."""

    go_type: str  # the type named in strict-field errors
    fields: str  # the YAML keys Alertmanager accepts, space separated
    send_resolved: bool
    secrets: tuple[str, ...] = ()
    checks: tuple[Check, ...] = ()
    nil_error: str = ""  # message for a null list item ("" means it is treated as {})


_INTEGRATIONS: dict[str, _Integration] = {
    "discord_configs": _Integration(
        "discord.plain",
        "webhook_url webhook_url_file content title message username avatar_url",
        True,
        ("webhook_url",),
        (_one_of("webhook_url", "webhook_url_file"), _at_most("webhook_url", "webhook_url_file")),
        "missing discord config",
    ),
    "incidentio_configs": _Integration(
        "incidentio.plain",
        "url url_file alert_source_token alert_source_token_file max_alerts timeout",
        True,
        ("url", "alert_source_token"),
        (
            _one_of("url", "url_file"),
            _at_most("url", "url_file"),
            _at_most("alert_source_token", "alert_source_token_file"),
            _incidentio_auth,
        ),
        "missing incidentio config",
    ),
    "pagerduty_configs": _Integration(
        "pagerduty.plain",
        "service_key service_key_file routing_key routing_key_file url client client_url description "
        "details images links source severity class component group timeout",
        True,
        ("service_key", "routing_key"),
        (
            _pagerduty_key,
            _at_most("routing_key", "routing_key_file"),
            _at_most("service_key", "service_key_file"),
        ),
        "missing pagerduty config",
    ),
    "slack_configs": _Integration(
        "config.plain",
        "api_url api_url_file app_token app_token_file app_url channel username color title title_link "
        "pretext text message_text fields short_fields footer fallback callback_id icon_emoji icon_url "
        "image_url thumb_url link_names mrkdwn_in actions update_message timeout",
        False,
        ("api_url", "app_token"),
        (_at_most("api_url", "api_url_file"), _at_most("app_token", "app_token_file"), _slack_auth),
    ),
    "opsgenie_configs": _Integration(
        "opsgenie.plain",
        "api_key api_key_file api_url message description source details entity responders actions tags "
        "note priority update_alerts",
        True,
        ("api_key",),
        (_at_most("api_key", "api_key_file"),),
    ),
    "wechat_configs": _Integration(
        "config.plain",
        "api_secret api_secret_file corp_id message api_url to_user to_party to_tag agent_id message_type",
        False,
        ("api_secret",),
        (_at_most("api_secret", "api_secret_file"),),
    ),
    "pushover_configs": _Integration(
        "pushover.plain",
        "user_key user_key_file token token_file title message url url_title device sound priority retry "
        "expire ttl html monospace",
        True,
        ("user_key", "token"),
        (
            _one_of("user_key", "user_key_file"),
            _at_most("user_key", "user_key_file"),
            _one_of("token", "token_file"),
            _at_most("token", "token_file"),
            _pushover_format,
        ),
        "missing pushover config",
    ),
    "victorops_configs": _Integration(
        "config.plain",
        "api_key api_key_file api_url routing_key message_type state_message entity_display_name "
        "monitoring_tool custom_fields",
        True,
        ("api_key",),
        (
            _required("routing_key", "missing Routing key in VictorOps config"),
            _at_most("api_key", "api_key_file"),
            _victorops_custom_fields,
        ),
        "missing victorops config",
    ),
    "sns_configs": _Integration(
        "sns.plain",
        "api_url sigv4 topic_arn phone_number target_arn subject message attributes use_aws_http_client",
        True,
        (),
        (_sns_target,),
        "missing sns config",
    ),
    "telegram_configs": _Integration(
        "telegram.plain",
        "api_url bot_token bot_token_file chat_id chat_id_file message_thread_id message "
        "disable_notifications parse_mode",
        True,
        ("bot_token",),
        (_at_most("bot_token", "bot_token_file"), _telegram_chat),
        "missing telegram config",
    ),
    "webex_configs": _Integration(
        "config.plain",
        "api_url message room_id",
        True,
        (),
        (_required("room_id", "missing room_id on webex_config"), _webex_auth),
        "missing webex config",
    ),
    "msteams_configs": _Integration(
        "msteams.plain",
        "webhook_url webhook_url_file title summary text",
        True,
        ("webhook_url",),
        (_one_of("webhook_url", "webhook_url_file"), _at_most("webhook_url", "webhook_url_file")),
        "missing msteams config",
    ),
    "msteamsv2_configs": _Integration(
        "msteamsv2.plain",
        "webhook_url webhook_url_file title text",
        True,
        ("webhook_url",),
        (_one_of("webhook_url", "webhook_url_file"), _at_most("webhook_url", "webhook_url_file")),
        "missing msteamsv2 config",
    ),
    "jira_configs": _Integration(
        "jira.plain",
        "api_url api_type project summary description labels priority issue_type reopen_transition "
        "resolve_transition wont_fix_resolution reopen_duration fields",
        True,
        (),
        (
            _required("project", "missing project in jira_config"),
            _required("issue_type", "missing issue_type in jira_config"),
            _jira_api_type,
        ),
        "missing jira config",
    ),
    "rocketchat_configs": _Integration(
        "rocketchat.plain",
        "api_url token_id token_id_file token token_file channel color title title_link text fields "
        "short_fields emoji icon_url image_url thumb_url link_names actions",
        False,
        ("token", "token_id"),
        (_at_most("token", "token_file"), _at_most("token_id", "token_id_file")),
    ),
    "mattermost_configs": _Integration(
        "mattermost.plain",
        "webhook_url webhook_url_file channel username text fallback color pretext author_name author_link "
        "author_icon title title_link fields thumb_url footer footer_icon image_url icon_url icon_emoji "
        "attachments type props priority",
        True,
        ("webhook_url",),
        (_at_most("webhook_url", "webhook_url_file"),),
        "missing mattermost config",
    ),
}


def _integration_converter(spec: _Integration) -> Converter:
    table: dict[str, Converter] = dict.fromkeys(spec.fields.split(), _raw)
    table.update(send_resolved=_bool, http_config=_http_config)
    if "chat_id" in table:
        table["chat_id"] = lambda r, n: r.integer(n, "int64")

    def convert(r: _Reader, node: Node) -> dict[str, Any]:
        values, clean = r.checked_struct(node, spec.go_type, table)
        values = {k: v for k, v in (values or {}).items() if v is not None}
        if clean:
            _fail_on(*(check(values) for check in spec.checks))
        return values

    return convert


# --- Receivers, routes, inhibit rules, time intervals ---------------------------------------------


def _receiver(r: _Reader, node: Node) -> dict[str, Any]:
    values, clean = r.checked_struct(node, "config.plain", _RECEIVER_FIELDS)
    values = values or {}
    if clean:
        name = values.get("name", "")
        _fail_on(None if name else "missing name in receiver")
        labels = values.get("labels") or {}
        if labels.get("name", name) != name:
            wrong = go_quote(labels["name"])
            raise ConfigError(f'receiver label "name" must match receiver name {go_quote(name)}, got {wrong}')
    return values


_RECEIVER_FIELDS: dict[str, Converter] = {
    "name": _str,
    "labels": _str_map,
    "webhook_configs": _list_of("[]*webhook.WebhookConfig", _webhook),
    "email_configs": _list_of("[]*config.EmailConfig", _email),
    **{key: _list_of(f"[]*{key}", _integration_converter(spec)) for key, spec in _INTEGRATIONS.items()},
}


def _match_regexps(r: _Reader, node: Node) -> dict[str, str] | None:
    """`match_re`/`source_match_re`: label -> regex, each checked to compile (anchored)."""
    if _is_null(node):
        return None
    if not isinstance(node, MappingNode):
        r.type_error(node, "common.MatchRegexps")
        return None
    out: dict[str, str] = {}
    missing: list[str] = []
    for key, value in _mapping_pairs(node):
        name = r.string(key)
        if name in out or name in missing:
            r.errors.append(f"line {_line(key)}: key {go_quote(name)} already set in map")
        elif _is_null(value):
            missing.append(name)
        else:
            out[name] = _checked_regex(r.string(value))
    for name in (*out, *missing):
        _fail_on(None if CLASSIC_LABEL_NAME.match(name) else f"invalid label name {go_quote(name)}")
    _fail_on(f"invalid regexp value for {go_quote(missing[0])}" if missing else None)
    return out


def _checked_regex(text: str) -> str:
    try:
        compile_regex(text)
    except ValueError as err:
        raise ConfigError(str(err)) from None
    return text


def _matchers(r: _Reader, node: Node) -> list[Matcher] | None:
    """`matchers`: a list of matcher strings, each possibly holding several, sorted like Alertmanager."""
    lines = r.strings(node)
    if lines is None:
        return None
    found: list[Matcher] = []
    for line in lines:
        try:
            found += parse_matchers(line, r.mode)
        except ValueError as err:
            raise ConfigError(str(err)) from None
    return sort_matchers(found)


def _check_match_names(match: Mapping[str, str] | None) -> None:
    for name in match or {}:
        _fail_on(None if CLASSIC_LABEL_NAME.match(name) else f"invalid label name {go_quote(name)}")


def _group_by_problem(r: _Reader, group_by: list[str]) -> str | None:
    names = [n for n in group_by if n != "..."]
    for name in names:
        if not r.label_name_ok(name):
            return f"invalid label name {go_quote(name)} in group_by list"
    if names and len(names) != len(group_by):
        return "cannot have wildcard group_by (`...`) and other labels at the same time"
    seen: set[str] = set()
    for name in names:
        if name in seen:
            return f"duplicated label {go_quote(name)} in group_by"
        seen.add(name)
    return None


def _route(r: _Reader, node: Node) -> dict[str, Any]:
    values, clean = r.checked_struct(node, "config.plain", _ROUTE_FIELDS)
    values = values or {}
    if clean:
        _check_match_names(values.get("match"))
        for name in values.get("labels") or {}:
            _fail_on(
                None if r.label_name_ok(name) else f"invalid label name {go_quote(name)} in route labels"
            )
        _fail_on(_group_by_problem(r, values.get("group_by") or []))
        _fail_on(
            "group_interval cannot be zero" if values.get("group_interval") == 0 else None,
            "repeat_interval cannot be zero" if values.get("repeat_interval") == 0 else None,
        )
    return values


_ROUTE_FIELDS: dict[str, Converter] = {
    "receiver": _str,
    "group_by": _strs,
    "match": _str_map,
    "match_re": _match_regexps,
    "matchers": _matchers,
    "mute_time_intervals": _strs,
    "active_time_intervals": _strs,
    "continue": _bool,
    "routes": _list_of("[]*config.Route", lambda r, n: _route(r, n)),
    "group_wait": _duration,
    "group_interval": _duration,
    "repeat_interval": _duration,
    "labels": _str_map,
}


def _inhibit_rule(r: _Reader, node: Node) -> dict[str, Any]:
    values, clean = r.checked_struct(node, "common.plain", _INHIBIT_FIELDS)
    values = values or {}
    if clean:
        _check_match_names(values.get("source_match"))
        _check_match_names(values.get("target_match"))
        for name in values.get("equal") or []:
            _fail_on(None if r.label_name_ok(name) else f"invalid label name {go_quote(name)} in equal list")
    return values


_INHIBIT_FIELDS: dict[str, Converter] = {
    "name": _str,
    "source_match": _str_map,
    "source_match_re": _match_regexps,
    "source_matchers": _matchers,
    "target_match": _str_map,
    "target_match_re": _match_regexps,
    "target_matchers": _matchers,
    "equal": _strs,
}


_WEEKDAYS = ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")
_MONTHS = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
]


def _go_atoi(text: str) -> int:
    """strconv.Atoi, with its error wording."""
    body = text[1:] if text[:1] in "+-" else text
    if not body or not body.isascii() or not body.isdigit():
        raise ConfigError(f"strconv.Atoi: parsing {go_quote(text)}: invalid syntax")
    return int(text)


def _weekday(text: str) -> int:
    if text not in _WEEKDAYS:
        raise ConfigError(f"{text} is not a valid weekday")
    return _WEEKDAYS.index(text)


def _month(text: str) -> int:
    if text in _MONTHS:
        return _MONTHS.index(text) + 1
    try:
        return _go_atoi(text)
    except ConfigError:
        raise ConfigError(f"{text} is not a valid month") from None


def _range(text: str, member: Callable[[str], int]) -> tuple[int, int]:
    """`a:b` or `a` (case-insensitive) as an inclusive (begin, end) pair."""
    text = text.lower()
    if ":" not in text:
        value = member(text)
        return value, value
    parts = text.split(":")
    if len(parts) != 2:
        raise ConfigError(f"couldn't parse range {text}, invalid format")
    return member(parts[0]), member(parts[1])


def _weekday_range(text: str) -> tuple[int, int]:
    begin, end = _range(text, _weekday)
    _fail_on("start day cannot be before end day" if begin > end else None)
    return begin, end


def _day_of_month_range(text: str) -> tuple[int, int]:
    begin, end = _range(text, _go_atoi)
    for day in (begin, end):
        _fail_on(
            f"{day} is not a valid day of the month: out of range" if day == 0 or abs(day) > 31 else None
        )
    _fail_on("end day must be negative if start day is negative" if begin < 0 < end else None)
    check_begin, check_end = (28 + begin if begin < 0 else begin), (28 + end if end < 0 else end)
    _fail_on(f"end day {end} is always before start day {begin}" if check_begin > check_end else None)
    return begin, end


def _month_range(text: str) -> tuple[int, int]:
    begin, end = _range(text, _month)
    if begin > end:
        names = {i + 1: name for i, name in enumerate(_MONTHS)}
        raise ConfigError(f"end month {names.get(end, '')} is before start month {names.get(begin, '')}")
    return begin, end


def _year_range(text: str) -> tuple[int, int]:
    begin, end = _range(text, _go_atoi)
    _fail_on(f"end year {end} is before start year {begin}" if begin > end else None)
    return begin, end


def _ranges(parse: Callable[[str], tuple[int, int]], go_type: str) -> Converter:
    def convert(r: _Reader, node: Node) -> list[tuple[int, int]] | None:
        items = r.strings(node, go_type)
        return None if items is None else [parse(item) for item in items]

    return convert


def _clock(text: str) -> int:
    """`HH:MM` (00:00 to 24:00) as minutes since midnight."""
    hours, _, minutes = text.partition(":")
    valid = len(text) == 5 and hours.isdigit() and minutes.isdigit() and int(minutes) < 60
    if not valid or not (int(hours) < 24 or text == "24:00"):
        raise ConfigError(f"couldn't parse timestamp {text}, invalid format")
    return int(hours) * 60 + int(minutes)


def _time_range(r: _Reader, node: Node) -> TimeRange | None:
    values, clean = r.checked_struct(
        node, "timeinterval.yamlTimeRange", {"start_time": _str, "end_time": _str}
    )
    if values is None or not clean:
        return None
    start_text, end_text = values.get("start_time", ""), values.get("end_time", "")
    _fail_on("both start and end times must be provided" if not start_text or not end_text else None)
    start, end = _clock(start_text), _clock(end_text)
    _fail_on("start time cannot be equal or greater than end time" if start >= end else None)
    return TimeRange(start, end)


def _location(r: _Reader, node: Node) -> str:
    name = r.string(node)
    if name in ("", "UTC", "Local"):
        return name or "UTC"
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"unknown time zone {name}") from None
    return name


_TIME_INTERVAL_FIELDS: dict[str, Converter] = {
    "times": _list_of("[]timeinterval.TimeRange", _time_range),
    "weekdays": _ranges(_weekday_range, "[]timeinterval.WeekdayRange"),
    "days_of_month": _ranges(_day_of_month_range, "[]timeinterval.DayOfMonthRange"),
    "months": _ranges(_month_range, "[]timeinterval.MonthRange"),
    "years": _ranges(_year_range, "[]timeinterval.YearRange"),
    "location": _location,
}


def _time_interval(r: _Reader, node: Node) -> TimeInterval:
    values = r.struct(node, "timeinterval.TimeInterval", _TIME_INTERVAL_FIELDS) or {}
    values["times"] = [t for t in values.get("times") or [] if t is not None]
    return TimeInterval(**{k: v for k, v in values.items() if v is not None})


def _named_intervals(missing_name: str) -> Converter:
    table: dict[str, Converter] = {
        "name": _str,
        "time_intervals": _list_of("[]timeinterval.TimeInterval", _time_interval),
    }

    def convert(r: _Reader, node: Node) -> dict[str, Any]:
        values, clean = r.checked_struct(node, "config.plain", table)
        values = values or {}
        if clean:
            _fail_on(None if values.get("name") else missing_name)
        values["time_intervals"] = [t or TimeInterval() for t in values.get("time_intervals") or []]
        return values

    return convert


# --- Global section --------------------------------------------------------------------------------

_GLOBAL_URLS = [
    "jira_api_url",
    "slack_app_url",
    "pagerduty_url",
    "opsgenie_api_url",
    "wechat_api_url",
    "victorops_api_url",
    "telegram_api_url",
    "webex_api_url",
    "rocketchat_api_url",
]
_GLOBAL_SECRET_URLS = ("slack_api_url", "mattermost_webhook_url")
_GLOBAL_SECRETS = [
    "slack_app_token",
    "opsgenie_api_key",
    "wechat_api_secret",
    "victorops_api_key",
    "telegram_bot_token",
    "rocketchat_token",
    "rocketchat_token_id",
]
_GLOBAL_STRINGS = [
    "slack_api_url_file",
    "slack_app_token_file",
    "opsgenie_api_key_file",
    "wechat_api_secret_file",
    "wechat_api_corp_id",
    "victorops_api_key_file",
    "telegram_bot_token_file",
    "rocketchat_token_file",
    "rocketchat_token_id_file",
    "mattermost_webhook_url_file",
]
# Order in which Alertmanager writes the global section back.
_GLOBAL_ORDER = [
    "jira_api_url",
    "smtp_from",
    "smtp_hello",
    "smtp_smarthost",
    "smtp_auth_username",
    "smtp_auth_password",
    "smtp_auth_password_file",
    "smtp_auth_secret",
    "smtp_auth_secret_file",
    "smtp_auth_identity",
    "smtp_require_tls",
    "smtp_tls_config",
    "smtp_force_implicit_tls",
    "slack_api_url",
    "slack_api_url_file",
    "slack_app_token",
    "slack_app_token_file",
    "slack_app_url",
    "pagerduty_url",
    "opsgenie_api_url",
    "opsgenie_api_key",
    "opsgenie_api_key_file",
    "wechat_api_url",
    "wechat_api_secret",
    "wechat_api_secret_file",
    "wechat_api_corp_id",
    "victorops_api_url",
    "victorops_api_key",
    "victorops_api_key_file",
    "telegram_api_url",
    "telegram_bot_token",
    "telegram_bot_token_file",
    "webex_api_url",
    "rocketchat_api_url",
    "rocketchat_token",
    "rocketchat_token_file",
    "rocketchat_token_id",
    "rocketchat_token_id_file",
    "mattermost_webhook_url",
    "mattermost_webhook_url_file",
]
# Global URLs whose defaults Alertmanager 0.25 does not know (it refuses the fields).
_GLOBAL_URLS_AFTER_0_25 = ("slack_app_url", "rocketchat_api_url")
GLOBAL_URL_DEFAULTS = {
    "pagerduty_url": "https://events.pagerduty.com/v2/enqueue",
    "opsgenie_api_url": "https://api.opsgenie.com/",
    "wechat_api_url": "https://qyapi.weixin.qq.com/cgi-bin/",
    "victorops_api_url": "https://alert.victorops.com/integrations/generic/20131114/alert/",
    "telegram_api_url": "https://api.telegram.org",
    "webex_api_url": "https://webexapis.com/v1/messages",
    "rocketchat_api_url": "https://open.rocket.chat/",
    "slack_app_url": "https://slack.com/api/chat.postMessage",
}

_GLOBAL_EXTRA = (*_GLOBAL_URLS, *_GLOBAL_SECRET_URLS, *_GLOBAL_SECRETS, *_GLOBAL_STRINGS)

_GLOBAL_FIELDS: dict[str, Converter] = {
    "resolve_timeout": _duration,
    "http_config": _http_config,
    "smtp_from": _str,
    "smtp_hello": _str,
    "smtp_smarthost": _host_port,
    "smtp_auth_username": _str,
    "smtp_auth_password": _str,
    "smtp_auth_password_file": _str,
    "smtp_auth_secret": _str,
    "smtp_auth_secret_file": _str,
    "smtp_auth_identity": _str,
    "smtp_require_tls": _bool,
    "smtp_tls_config": _tls_config,
    "smtp_force_implicit_tls": _bool,
    **dict.fromkeys(_GLOBAL_URLS, _url),
    **dict.fromkeys(_GLOBAL_SECRET_URLS, _secret_url),
    **dict.fromkeys(_GLOBAL_SECRETS + _GLOBAL_STRINGS, _str),
}

_GLOBAL_PAIRS = (
    ("slack_app_token", "slack_app_token_file"),
    ("slack_api_url", "slack_api_url_file"),
)
_GLOBAL_PAIRS_AFTER_SLACK = (
    ("opsgenie_api_key", "opsgenie_api_key_file"),
    ("victorops_api_key", "victorops_api_key_file"),
    ("telegram_bot_token", "telegram_bot_token_file"),
    ("smtp_auth_password", "smtp_auth_password_file"),
    ("rocketchat_token", "rocketchat_token_file"),
    ("rocketchat_token_id", "rocketchat_token_id_file"),
    ("smtp_auth_secret", "smtp_auth_secret_file"),
    ("wechat_api_secret", "wechat_api_secret_file"),
    ("mattermost_webhook_url", "mattermost_webhook_url_file"),
)


def _global(r: _Reader, node: Node) -> dict[str, Any] | None:
    return r.struct(node, "config.plain", _GLOBAL_FIELDS)


_TOP_FIELDS: dict[str, Converter] = {
    "global": _global,
    "route": lambda r, n: None if _is_null(n) else _route(r, n),
    "inhibit_rules": _list_of("[]common.InhibitRule", _inhibit_rule),
    "receivers": _list_of("[]config.Receiver", _receiver),
    "templates": _strs,
    "mute_time_intervals": _list_of(
        "[]config.MuteTimeInterval", _named_intervals("missing name in mute time interval")
    ),
    "time_intervals": _list_of("[]config.TimeInterval", _named_intervals("missing name in time interval")),
    "tracing": _raw,
    "event_recorder": _raw,
}


# --- Whole-config validation (Alertmanager's Config.UnmarshalYAML and Load) ----------------------


def _global_pair_problems(g: dict[str, Any]) -> str | None:
    for pair in _GLOBAL_PAIRS:
        if problem := _at_most_one(g, *pair):
            return problem
    app_token = g.get("slack_app_token") or g.get("slack_app_token_file")
    api_url = g.get("slack_api_url") or g.get("slack_api_url_file")
    if (
        app_token
        and api_url
        and g.get("slack_api_url") != g.get("slack_app_url", GLOBAL_URL_DEFAULTS["slack_app_url"])
    ):
        return (
            "at most one of slack_app_token/slack_app_token_file & slack_api_url/slack_api_url_file "
            "must be configured"
        )
    for pair in _GLOBAL_PAIRS_AFTER_SLACK:
        if problem := _at_most_one(g, *pair):
            return problem
    return None


def _has(values: Mapping[str, Any], *names: str) -> bool:
    return any(values.get(name) for name in names)


# Settings an integration must have once the global defaults are copied in:
# (its own fields, the global fields that stand in for them, Alertmanager's message).
_NEEDS_FROM_GLOBAL: dict[str, tuple[tuple[tuple[str, ...], tuple[str, ...], str], ...]] = {
    "slack_configs": (
        (
            ("api_url", "api_url_file", "app_token", "app_token_file"),
            ("slack_api_url", "slack_api_url_file", "slack_app_token", "slack_app_token_file"),
            "no Slack API URL nor App token set either inline or in a file",
        ),
    ),
    "opsgenie_configs": (
        (
            ("api_key", "api_key_file"),
            ("opsgenie_api_key", "opsgenie_api_key_file"),
            "no global OpsGenie API Key set either inline or in a file",
        ),
    ),
    "wechat_configs": (
        (
            ("api_secret", "api_secret_file"),
            ("wechat_api_secret", "wechat_api_secret_file"),
            "no global Wechat Api Secret set either inline or in a file",
        ),
        (("corp_id",), ("wechat_api_corp_id",), "no global Wechat CorpID set"),
    ),
    "victorops_configs": (
        (
            ("api_key", "api_key_file"),
            ("victorops_api_key", "victorops_api_key_file"),
            "no global VictorOps API Key set",
        ),
    ),
    "telegram_configs": (
        (
            ("bot_token", "bot_token_file"),
            ("telegram_bot_token", "telegram_bot_token_file"),
            "missing bot_token or bot_token_file on telegram_config",
        ),
    ),
    "jira_configs": ((("api_url",), ("jira_api_url",), "no global Jira Cloud URL set"),),
    "rocketchat_configs": (
        (
            ("token_id", "token_id_file"),
            ("rocketchat_token_id", "rocketchat_token_id_file"),
            "no global Rocketchat TokenID set either inline or in a file",
        ),
        (
            ("token", "token_file"),
            ("rocketchat_token", "rocketchat_token_file"),
            "no global Rocketchat Token set either inline or in a file",
        ),
    ),
    "mattermost_configs": (
        (
            ("webhook_url", "webhook_url_file"),
            ("mattermost_webhook_url", "mattermost_webhook_url_file"),
            "missing webhook_url or webhook_url_file on mattermost_config",
        ),
    ),
}


def _global_default_problem(key: str, c: dict[str, Any], g: dict[str, Any]) -> str | None:
    """The checks Alertmanager makes once global defaults are copied into an integration."""
    for own, inherited, message in _NEEDS_FROM_GLOBAL.get(key, ()):
        if not _has(c, *own) and not _has(g, *inherited):
            return message
    return None


def _host_or(own: tuple[str, int] | None, fallback: tuple[str, int]) -> tuple[str, int]:
    """Go's cmp.Or for HostPort: the config's own address unless it is empty."""
    return own if own and _join_host_port(own) else fallback


def _email_problem(email: dict[str, Any], g: dict[str, Any]) -> str | None:
    if not _join_host_port(_host_or(email.get("smarthost"), g.get("smtp_smarthost") or ("", 0))):
        return "no global SMTP smarthost set"
    if not (email.get("from") or g.get("smtp_from")):
        return "no global SMTP from set"
    return None


def _receiver_problem(receiver: dict[str, Any], g: dict[str, Any]) -> str | None:
    for webhook in receiver.get("webhook_configs") or []:
        if webhook is None:
            return "missing webhook config"
    for email in receiver.get("email_configs") or []:
        if email is None:
            return "missing email config"
        if problem := _email_problem(email, g):
            return problem
    for key, spec in _INTEGRATIONS.items():
        for item in receiver.get(key) or []:
            if item is None and spec.nil_error:
                return spec.nil_error
            if problem := _global_default_problem(key, item or {}, g):
                return problem
    return None


def _walk_drafts(route: dict[str, Any]) -> list[dict[str, Any]]:
    """Routes children-first, the order in which Alertmanager reports undefined references."""
    out: list[dict[str, Any]] = []
    for child in route.get("routes") or []:
        out += _walk_drafts(child or {})
    out.append(route)
    return out


def _route_problem(route: dict[str, Any] | None, receiver_names: set[str]) -> str | None:
    if route is None:
        return "no routes provided"
    if not route.get("receiver"):
        return "root route must specify a default receiver"
    if route.get("match") or route.get("match_re") or route.get("matchers"):
        return "root route must not have any matchers"
    if route.get("mute_time_intervals"):
        return "root route must not have any mute time intervals"
    if route.get("active_time_intervals"):
        return "root route must not have any active time intervals"
    for node in _walk_drafts(route):
        name = node.get("receiver")
        if name and name not in receiver_names:
            return f"undefined receiver {go_quote(name)} used in route"
    return None


def _interval_names(doc: dict[str, Any]) -> set[str]:
    names: set[str] = set()
    for key, noun in (("mute_time_intervals", "mute time interval"), ("time_intervals", "time interval")):
        for item in doc.get(key) or []:
            name = (item or {}).get("name", "")
            _fail_on(f"{noun} {go_quote(name)} is not unique" if name in names else None)
            names.add(name)
    return names


def _interval_problem(route: dict[str, Any], names: set[str]) -> str | None:
    for node in _walk_drafts(route):
        for name in (node.get("active_time_intervals") or []) + (node.get("mute_time_intervals") or []):
            if name not in names:
                return f"undefined time interval {go_quote(name)} used in route"
    return None


def _validate(doc: dict[str, Any]) -> None:
    """The whole-config checks, in Alertmanager's order; the first failure is reported."""
    g = doc.get("global") or {}
    _fail_on(_global_pair_problems(g))
    names: set[str] = set()
    for receiver in doc.get("receivers") or []:
        receiver = receiver or {}
        name = receiver.get("name", "")
        _fail_on(f"notification config name {go_quote(name)} is not unique" if name in names else None)
        _fail_on(_receiver_problem(receiver, g))
        names.add(name)
    route = doc.get("route")
    _fail_on(_route_problem(route, names))
    assert route is not None
    _fail_on(_interval_problem(route, _interval_names(doc)))
    _fail_on("cannot have continue in root route" if route.get("continue") else None)


# --- Building the model ------------------------------------------------------------------------------


def _build_global(g: dict[str, Any]) -> GlobalConfig:
    extra = {key: g[key] for key in _GLOBAL_EXTRA if key in g}
    return GlobalConfig(
        resolve_timeout=_default(g.get("resolve_timeout"), 300.0),
        smtp_from=g.get("smtp_from", ""),
        smtp_hello=g.get("smtp_hello") or "localhost",
        smtp_smarthost=g.get("smtp_smarthost") or ("", 0),
        smtp_auth_username=g.get("smtp_auth_username", ""),
        smtp_auth_password=g.get("smtp_auth_password", ""),
        smtp_auth_password_file=g.get("smtp_auth_password_file", ""),
        smtp_auth_secret=g.get("smtp_auth_secret", ""),
        smtp_auth_identity=g.get("smtp_auth_identity", ""),
        smtp_require_tls=_default(g.get("smtp_require_tls"), True),
        http_config=g.get("http_config") or HTTPConfig(),
        extra=extra,
        smtp_auth_secret_file=g.get("smtp_auth_secret_file", ""),
        smtp_tls_config=g.get("smtp_tls_config") or TLSConfig(),
        smtp_force_implicit_tls=g.get("smtp_force_implicit_tls"),
    )


def _build_webhook(values: dict[str, Any], g: GlobalConfig) -> WebhookConfig:
    return WebhookConfig(
        url=values.get("url", ""),
        url_file=values.get("url_file", ""),
        send_resolved=_default(values.get("send_resolved"), True),
        max_alerts=values.get("max_alerts") or 0,
        timeout=values.get("timeout") or 0.0,
        http_config=values.get("http_config") or g.http_config,
        payload=values.get("payload"),
    )


def _build_email(values: dict[str, Any], g: GlobalConfig) -> EmailConfig:
    """An email config with the global smtp_* defaults copied into the fields it leaves empty."""
    own_password = values.get("auth_password") or values.get("auth_password_file")
    own_secret = values.get("auth_secret") or values.get("auth_secret_file")
    email = EmailConfig(
        to=values["to"],
        from_=values.get("from") or g.smtp_from,
        smarthost=_host_or(values.get("smarthost"), g.smtp_smarthost),
        hello=values.get("hello") or g.smtp_hello,
        auth_username=values.get("auth_username") or g.smtp_auth_username,
        auth_password=values.get("auth_password", "") if own_password else g.smtp_auth_password,
        auth_password_file=values.get("auth_password_file", "")
        if own_password
        else g.smtp_auth_password_file,
        auth_secret=values.get("auth_secret", "") if own_secret else g.smtp_auth_secret,
        auth_secret_file=values.get("auth_secret_file", "") if own_secret else g.smtp_auth_secret_file,
        auth_identity=values.get("auth_identity") or g.smtp_auth_identity,
        require_tls=_default(values.get("require_tls"), g.smtp_require_tls),
        tls_config=values.get("tls_config") or copy.copy(g.smtp_tls_config),
        headers=dict(values.get("headers") or {}),
        html=values.get("html", ""),
        text=values.get("text", ""),
        send_resolved=_default(values.get("send_resolved"), False),
        force_implicit_tls=_default(values.get("force_implicit_tls"), g.smtp_force_implicit_tls),
        threading=values.get("threading") or {},
    )
    # Alertmanager's email notifier fills these headers when it is built.
    email.headers.setdefault("Subject", DEFAULT_EMAIL_SUBJECT)
    email.headers.setdefault("To", email.to)
    email.headers.setdefault("From", email.from_)
    return email


def _build_unsupported(key: str, values: dict[str, Any] | None, g: GlobalConfig) -> dict[str, Any]:
    """A kept-raw integration with Alertmanager's send_resolved default and the global http_config."""
    out = dict(values or {})
    out.setdefault("send_resolved", _INTEGRATIONS[key].send_resolved)
    out.setdefault("http_config", g.http_config)
    return out


def _build_receiver(values: dict[str, Any], g: GlobalConfig) -> Receiver:
    name = values.get("name", "")
    return Receiver(
        name=name,
        webhook_configs=[_build_webhook(v, g) for v in values.get("webhook_configs") or []],
        email_configs=[_build_email(v, g) for v in values.get("email_configs") or []],
        unsupported={
            key: [_build_unsupported(key, item, g) for item in values[key]]
            for key in _INTEGRATIONS
            if values.get(key)
        },
        labels={**(values.get("labels") or {}), "name": name},
    )


def _folded_matchers(
    match: dict[str, str] | None, match_re: dict[str, str] | None, matchers: list[Matcher] | None
) -> list[Matcher]:
    """The deprecated `match`/`match_re` maps as matchers (regexes anchored as Alertmanager does)."""
    found = [Matcher(name, "=", value) for name, value in (match or {}).items()]
    found += [Matcher(name, "=~", f"^(?:{value})$") for name, value in (match_re or {}).items()]
    return sort_matchers(found + (matchers or []))


def _build_route(draft: dict[str, Any], parent: Route | None, index: int) -> Route:
    """One route with the parent's settings inherited where the file leaves them out."""
    base = parent or Route()
    group_by, group_by_all = list(base.group_by), base.group_by_all
    written = draft.get("group_by")
    if written is not None and "..." in written:
        group_by_all = True
    elif written is not None:
        group_by, group_by_all = list(written), False
    route = Route(
        receiver=draft.get("receiver") or base.receiver,
        group_by=group_by,
        group_by_all=group_by_all,
        matchers=_folded_matchers(draft.get("match"), draft.get("match_re"), draft.get("matchers")),
        continue_=bool(draft.get("continue")),
        group_wait=_default(draft.get("group_wait"), base.group_wait),
        group_interval=_default(draft.get("group_interval"), base.group_interval),
        repeat_interval=_default(draft.get("repeat_interval"), base.repeat_interval),
        mute_time_intervals=list(draft.get("mute_time_intervals") or []),
        active_time_intervals=list(draft.get("active_time_intervals") or []),
        parent=parent,
        index=index,
        labels={**base.labels, **(draft.get("labels") or {})},
        spec=_route_spec(draft),
    )
    route.routes = [_build_route(child or {}, route, i) for i, child in enumerate(draft.get("routes") or [])]
    return route


def _build_inhibit_rule(values: dict[str, Any]) -> InhibitRule:
    return InhibitRule(
        source_matchers=_folded_matchers(
            values.get("source_match"), values.get("source_match_re"), values.get("source_matchers")
        ),
        target_matchers=_folded_matchers(
            values.get("target_match"), values.get("target_match_re"), values.get("target_matchers")
        ),
        equal=list(values.get("equal") or []),
        name=values.get("name", ""),
        spec=_inhibit_spec(values),
    )


def _join_dir(base_dir: str, path: str) -> str:
    """prometheus/common's JoinDir: relative paths are taken from the config file's directory."""
    if not path or os.path.isabs(path):
        return path
    return os.path.normpath(os.path.join(base_dir, path))


def _resolve_http_paths(http: HTTPConfig, base_dir: str) -> None:
    for tls in (http.tls_config,):
        tls.ca_file = _join_dir(base_dir, tls.ca_file)
        tls.cert_file = _join_dir(base_dir, tls.cert_file)
        tls.key_file = _join_dir(base_dir, tls.key_file)
    if http.basic_auth:
        http.basic_auth.password_file = _join_dir(base_dir, http.basic_auth.password_file)
        http.basic_auth.username_file = _join_dir(base_dir, http.basic_auth.username_file)
    if http.authorization:
        http.authorization.credentials_file = _join_dir(base_dir, http.authorization.credentials_file)
    if http.oauth2 and http.oauth2.get("client_secret_file"):
        http.oauth2["client_secret_file"] = _join_dir(base_dir, http.oauth2["client_secret_file"])


def _resolve_paths(config: Config, base_dir: str) -> None:
    """Alertmanager's resolveFilepaths: templates and HTTP client files of every integration."""
    config.templates = [_join_dir(base_dir, t) for t in config.templates]
    seen: set[int] = set()
    https = [config.global_.http_config]
    for receiver in config.receivers.values():
        https += [w.http_config for w in receiver.webhook_configs]
        https += [item["http_config"] for items in receiver.unsupported.values() for item in items]
    for http in https:
        if id(http) not in seen:
            seen.add(id(http))
            _resolve_http_paths(http, base_dir)


def _build_time_intervals(doc: dict[str, Any]) -> tuple[dict[str, list[TimeInterval]], list[str]]:
    intervals: dict[str, list[TimeInterval]] = {}
    legacy: list[str] = []
    for key in ("mute_time_intervals", "time_intervals"):
        for item in doc.get(key) or []:
            item = item or {}
            intervals[item.get("name", "")] = item.get("time_intervals") or []
            if key == "mute_time_intervals":
                legacy.append(item.get("name", ""))
    return intervals, legacy


def _build(doc: dict[str, Any], text: str, path: str) -> Config:
    g = _build_global(doc.get("global") or {})
    receivers = [_build_receiver(v or {}, g) for v in doc.get("receivers") or []]
    intervals, legacy = _build_time_intervals(doc)
    config = Config(
        global_=g,
        route=_build_route(doc["route"], None, 0),
        receivers={r.name: r for r in receivers},
        inhibit_rules=[_build_inhibit_rule(v or {}) for v in doc.get("inhibit_rules") or []],
        time_intervals=intervals,
        templates=list(doc.get("templates") or []),
        original=text,
        source_path=path,
        mute_time_interval_names=legacy,
        extra={k: doc[k] for k in ("tracing", "event_recorder") if doc.get(k) is not None},
    )
    if path:
        _resolve_paths(config, os.path.dirname(path) or ".")
    return config


# --- Loading -----------------------------------------------------------------------------------------


# PyYAML's wording of a syntax error, and libyaml's (which Alertmanager reports) for the same.
_YAML_PROBLEMS = {"mapping values are not allowed here": "mapping values are not allowed in this context"}


def _syntax_error(err: yaml.YAMLError) -> ConfigError:
    mark = getattr(err, "problem_mark", None)
    problem = getattr(err, "problem", None) or str(err)
    problem = _YAML_PROBLEMS.get(problem, problem)
    where = f"line {mark.line + 1}: " if mark is not None else ""
    return ConfigError(f"yaml: {where}{problem}")


def _read_document(text: str, mode: str) -> dict[str, Any]:
    """Decode the first YAML document strictly; type errors are reported all together."""
    try:
        node = next(iter(yaml.compose_all(text, Loader=yaml.SafeLoader)), None)
    except yaml.YAMLError as err:
        raise _syntax_error(err) from None
    if _is_null(node):
        raise ConfigError("no route provided in config")
    reader = _Reader(mode)
    doc = reader.struct(node, "config.plain", _TOP_FIELDS)
    if reader.errors:
        raise ConfigError("yaml: unmarshal errors:\n  " + "\n  ".join(reader.errors))
    return doc or {}


def load_config(text: str, path: str = "", *, matcher_mode: str = MODE_FALLBACK) -> Config:
    """Parse and validate alertmanager.yml text; raise ConfigError as Alertmanager would refuse it.

    `path` is the file the text came from: relative template globs and HTTP client files are
    resolved against its directory. `matcher_mode` is app.matchers' MODE_FALLBACK (Alertmanager's
    default), MODE_CLASSIC (`--enable-feature=classic-mode`) or MODE_UTF8 (`utf8-strict-mode`).
    """
    doc = _read_document(text, matcher_mode)
    _validate(doc)
    return _build(doc, text, path)


def load_config_file(path: str, *, matcher_mode: str = MODE_FALLBACK) -> Config:
    """Read and load a config file; an unreadable file is a ConfigError worded like Go's."""
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as err:
        reason = (err.strerror or str(err)).lower()
        raise ConfigError(f"open {path}: {reason}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"read {path}: the file is not valid UTF-8") from None
    return load_config(text, path, matcher_mode=matcher_mode)


# --- Writing the config back (GET /api/v2/status) ---------------------------------------------------


class _Flow(list):  # type: ignore[type-arg]
    """A list Alertmanager writes in flow style (`weekdays: [monday, friday]`)."""


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(
    _Flow, lambda dumper, data: dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=True)
)


def _dump_yaml(data: dict[str, Any]) -> str:
    return yaml.dump(
        data, Dumper=_Dumper, sort_keys=False, default_flow_style=False, allow_unicode=True, width=1 << 30
    )


def _secret(value: str) -> str | None:
    return SECRET if value else None


def _compact(values: dict[str, Any]) -> dict[str, Any]:
    """Drop unset fields (None, "", empty collections): Go's `omitempty`."""
    return {k: v for k, v in values.items() if v is not None and v != "" and v != [] and v != {}}


def _redacted_url(url: str) -> str:
    """prometheus/common's URL.Redacted(): a password in the URL becomes `xxxxx`."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username}:xxxxx@{host}"))


def _tls_yaml(tls: TLSConfig) -> dict[str, Any]:
    return {
        **_compact({"ca": tls.ca, "cert": tls.cert, "key": _secret(tls.key)}),
        **_compact({"ca_file": tls.ca_file, "cert_file": tls.cert_file, "key_file": tls.key_file}),
        **_compact({"server_name": tls.server_name}),
        "insecure_skip_verify": tls.insecure_skip_verify,
        **_compact({"min_version": tls.min_version, "max_version": tls.max_version}),
    }


def _tls_is_zero(tls: TLSConfig) -> bool:
    return tls == TLSConfig()


def _redact_keys(values: dict[str, Any], secrets: tuple[str, ...]) -> dict[str, Any]:
    return {k: (SECRET if k in secrets and v else v) for k, v in values.items()}


def _headers_yaml(headers: dict[str, Any] | None) -> dict[str, Any] | None:
    if not headers:
        return None
    out = {}
    for name, spec in headers.items():
        spec = dict(spec or {})
        if spec.get("secrets"):
            spec["secrets"] = [SECRET for _ in spec["secrets"]]
        out[name] = spec
    return out


def _http_yaml(http: HTTPConfig) -> dict[str, Any]:
    basic, auth = http.basic_auth, http.authorization
    out: dict[str, Any] = {}
    if basic is not None:
        out["basic_auth"] = _compact(
            {
                "username": basic.username,
                "username_file": basic.username_file,
                "password": _secret(basic.password),
                "password_file": basic.password_file,
            }
        )
    if auth is not None:
        out["authorization"] = _compact(
            {
                "type": auth.type,
                "credentials": _secret(auth.credentials),
                "credentials_file": auth.credentials_file,
            }
        )
    if http.oauth2 is not None:
        out["oauth2"] = _redact_keys(http.oauth2, ("client_secret", "client_certificate_key"))
    if not _tls_is_zero(http.tls_config):
        out["tls_config"] = _tls_yaml(http.tls_config)
    out["follow_redirects"] = http.follow_redirects
    out["enable_http2"] = http.enable_http2
    out.update(
        _compact(
            {
                "proxy_url": _redacted_url(http.proxy_url) if http.proxy_url else "",
                "no_proxy": http.no_proxy,
                "proxy_from_environment": http.proxy_from_environment or None,
                "proxy_connect_header": {
                    k: [SECRET for _ in v or []] for k, v in http.proxy_connect_header.items()
                },
                "http_headers": _headers_yaml(http.http_headers),
            }
        )
    )
    return out


def _global_yaml(g: GlobalConfig) -> dict[str, Any]:
    secrets = {*_GLOBAL_SECRETS, *_GLOBAL_SECRET_URLS}
    extra = {k: (_secret(v) if k in secrets else v) for k, v in {**GLOBAL_URL_DEFAULTS, **g.extra}.items()}
    for key in _GLOBAL_URLS_AFTER_0_25:  # defaults of newer versions: only when set to something else
        if extra.get(key) == GLOBAL_URL_DEFAULTS[key]:
            del extra[key]
    values: dict[str, Any] = {
        "smtp_from": g.smtp_from,
        "smtp_hello": g.smtp_hello,
        "smtp_smarthost": _join_host_port(g.smtp_smarthost),
        "smtp_auth_username": g.smtp_auth_username,
        "smtp_auth_password": _secret(g.smtp_auth_password),
        "smtp_auth_password_file": g.smtp_auth_password_file,
        "smtp_auth_secret": _secret(g.smtp_auth_secret),
        "smtp_auth_secret_file": g.smtp_auth_secret_file,
        "smtp_auth_identity": g.smtp_auth_identity,
        # Newer than Alertmanager 0.25, so only when set (Alertmanager writes the empty default).
        "smtp_tls_config": None if _tls_is_zero(g.smtp_tls_config) else _tls_yaml(g.smtp_tls_config),
        "smtp_force_implicit_tls": g.smtp_force_implicit_tls,
        **extra,
    }
    out = {"resolve_timeout": format_duration(g.resolve_timeout), "http_config": _http_yaml(g.http_config)}
    for key in _GLOBAL_ORDER:
        if key == "smtp_require_tls":  # the one global field Alertmanager always writes
            out[key] = g.smtp_require_tls
        elif values.get(key) not in (None, ""):
            out[key] = values[key]
    return out


def _route_spec(draft: dict[str, Any]) -> dict[str, Any]:
    """The route as Alertmanager writes it back: only what the file set, matchers normalised."""
    durations = {k: draft.get(k) for k in ("group_wait", "group_interval", "repeat_interval")}
    return {
        **_compact(
            {
                "receiver": draft.get("receiver"),
                "group_by": draft.get("group_by"),
                "match": draft.get("match"),
                "match_re": draft.get("match_re"),
                "matchers": [str(m) for m in draft.get("matchers") or []],
                "mute_time_intervals": draft.get("mute_time_intervals"),
                "active_time_intervals": draft.get("active_time_intervals"),
            }
        ),
        "continue": bool(draft.get("continue")),
        **_compact({k: (None if v is None else format_duration(v)) for k, v in durations.items()}),
        **_compact({"labels": draft.get("labels")}),
    }


def _inhibit_spec(values: dict[str, Any]) -> dict[str, Any]:
    return _compact(
        {
            "name": values.get("name"),
            "source_match": values.get("source_match"),
            "source_match_re": values.get("source_match_re"),
            "source_matchers": [str(m) for m in values.get("source_matchers") or []],
            "target_match": values.get("target_match"),
            "target_match_re": values.get("target_match_re"),
            "target_matchers": [str(m) for m in values.get("target_matchers") or []],
            "equal": values.get("equal"),
        }
    )


def _route_yaml(route: Route) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in route.spec.items():
        out[key] = value
        if key == "continue" and route.routes:
            out["routes"] = [_route_yaml(child) for child in route.routes]
    return out


def _webhook_yaml(w: WebhookConfig) -> dict[str, Any]:
    # Alertmanager always writes url_file and timeout; both are newer than 0.25 (which refuses
    # them), so they are written only when set.
    return {
        "send_resolved": w.send_resolved,
        "http_config": _http_yaml(w.http_config),
        **_compact({"url": _secret(w.url), "url_file": w.url_file}),
        "max_alerts": w.max_alerts,
        **_compact({"timeout": format_go_duration(w.timeout) if w.timeout else None, "payload": w.payload}),
    }


def _email_yaml(e: EmailConfig) -> dict[str, Any]:
    return {
        "send_resolved": e.send_resolved,
        **_compact(
            {
                "to": e.to,
                "from": e.from_,
                "hello": e.hello,
                "smarthost": _join_host_port(e.smarthost),
                "auth_username": e.auth_username,
                "auth_password": _secret(e.auth_password),
                "auth_password_file": e.auth_password_file,
                "auth_secret": _secret(e.auth_secret),
                "auth_secret_file": e.auth_secret_file,
                "auth_identity": e.auth_identity,
                "headers": e.headers,
                "html": e.html or DEFAULT_EMAIL_HTML,
                "text": e.text,
            }
        ),
        "require_tls": e.require_tls,
        "tls_config": _tls_yaml(e.tls_config),
        **_compact({"force_implicit_tls": e.force_implicit_tls, "threading": e.threading}),
    }


def _redact_path(values: dict[str, Any], path: str) -> dict[str, Any]:
    """Copy of values with the (dotted) key replaced by `<secret>` when it is set."""
    head, _, rest = path.partition(".")
    if head not in values or not values[head]:
        return values
    inner = _redact_path(dict(values[head]), rest) if rest and isinstance(values[head], dict) else SECRET
    return {**values, head: inner}


def _unsupported_yaml(key: str, item: dict[str, Any]) -> dict[str, Any]:
    spec = _INTEGRATIONS[key]
    out = {"send_resolved": item["send_resolved"], "http_config": _http_yaml(item["http_config"])}
    rest = {k: v for k, v in item.items() if k not in out}
    for secret in (*spec.secrets, *(("sigv4.secret_key",) if key == "sns_configs" else ())):
        rest = _redact_path(rest, secret)
    return {**out, **rest}


# Order in which Alertmanager writes a receiver's integrations.
_RECEIVER_ORDER = [
    "discord_configs",
    "email_configs",
    "incidentio_configs",
    "pagerduty_configs",
    "slack_configs",
    "webhook_configs",
    "opsgenie_configs",
    "wechat_configs",
    "pushover_configs",
    "victorops_configs",
    "sns_configs",
    "telegram_configs",
    "webex_configs",
    "msteams_configs",
    "msteamsv2_configs",
    "jira_configs",
    "rocketchat_configs",
    "mattermost_configs",
]


def _receiver_yaml(receiver: Receiver) -> dict[str, Any]:
    out: dict[str, Any] = {"name": receiver.name}
    # Receiver labels (Alertmanager 0.33+, which always adds name=<receiver name>) are written only
    # when the operator set more than that: the field is unknown to older Alertmanagers.
    if receiver.labels != {"name": receiver.name}:
        out["labels"] = dict(sorted(receiver.labels.items()))  # Go writes map keys sorted
    for key in _RECEIVER_ORDER:
        if key == "email_configs" and receiver.email_configs:
            out[key] = [_email_yaml(e) for e in receiver.email_configs]
        elif key == "webhook_configs" and receiver.webhook_configs:
            out[key] = [_webhook_yaml(w) for w in receiver.webhook_configs]
        elif receiver.unsupported.get(key):
            out[key] = [_unsupported_yaml(key, item) for item in receiver.unsupported[key]]
    return out


def _range_text(pair: tuple[int, int], names: tuple[str, ...] | None = None) -> str:
    begin, end = (names[pair[0]], names[pair[1]]) if names else (str(pair[0]), str(pair[1]))
    return begin if pair[0] == pair[1] else f"{begin}:{end}"


def _interval_yaml(ti: TimeInterval) -> dict[str, Any]:
    def clock(minutes: int) -> str:
        return f"{minutes // 60:02d}:{minutes % 60:02d}"

    return _compact(
        {
            "times": [
                {"start_time": clock(t.start_minute), "end_time": clock(t.end_minute)} for t in ti.times
            ],
            "weekdays": _Flow(_range_text(w, _WEEKDAYS) for w in ti.weekdays),
            "days_of_month": _Flow(_range_text(d) for d in ti.days_of_month),
            "months": _Flow(_range_text(m) for m in ti.months),
            "years": _Flow(_range_text(y) for y in ti.years),
            "location": None if ti.location == "UTC" else ti.location,
        }
    )


def _config_yaml(config: Config) -> dict[str, Any]:
    legacy = set(config.mute_time_interval_names)
    intervals = {
        key: [
            {"name": name, "time_intervals": [_interval_yaml(ti) for ti in tis]}
            for name, tis in config.time_intervals.items()
            if (name in legacy) == (key == "mute_time_intervals")
        ]
        for key in ("mute_time_intervals", "time_intervals")
    }
    return {
        "global": _global_yaml(config.global_),
        "route": _route_yaml(config.route),
        **_compact(
            {
                "inhibit_rules": [rule.spec for rule in config.inhibit_rules],
                "receivers": [_receiver_yaml(r) for r in config.receivers.values()],
            }
        ),
        "templates": list(config.templates),
        **_compact(intervals),
        **config.extra,
    }
