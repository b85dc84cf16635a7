"""The config model: the dataclasses alerter runs on once alertmanager.yml is loaded.

Plain data with Alertmanager's field names and defaults, kept apart from the loader so that the
rest of alerter (dispatcher, notifiers, API) depends on these types alone. Durations are held in
seconds (floats). Secrets are plain strings in memory but are never logged: secret fields are left
out of the dataclass reprs (and out of every error message), and `Config.redacted_yaml()` shows
them as `<secret>`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.matchers import Matcher

SECRET = "<secret>"
DEFAULT_EMAIL_SUBJECT = '{{ template "email.default.subject" . }}'
DEFAULT_EMAIL_HTML = '{{ template "email.default.html" . }}'


class ConfigError(ValueError):
    """A config that Alertmanager would refuse; the message names the field or receiver."""


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
class OAuth2:
    """prometheus/common's `oauth2` block, client-credentials grant: the token endpoint is reached
    with the block's own TLS and proxy settings, not those of the http_config around it."""

    client_id: str = ""
    client_secret: str = field(default="", repr=False)  # secret
    client_secret_file: str = ""
    scopes: list[str] = field(default_factory=list)
    token_url: str = ""
    endpoint_params: dict[str, str] = field(default_factory=dict)
    tls_config: TLSConfig = field(default_factory=TLSConfig)
    proxy_url: str = ""
    no_proxy: str = ""
    proxy_from_environment: bool = False
    proxy_connect_header: dict[str, list[str]] = field(default_factory=dict, repr=False)  # secrets
    grant_type: str = ""  # as written; anything but jwt-bearer (refused) is client credentials


@dataclass
class Header:
    """One `http_headers` entry: the values sent under one header name, in this order."""

    values: list[str] = field(default_factory=list)
    secrets: list[str] = field(default_factory=list, repr=False)  # secret
    files: list[str] = field(default_factory=list)  # read at every request, trimmed


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
    # Sent on the CONNECT that opens a tunnel through the proxy; values are secrets.
    proxy_connect_header: dict[str, list[str]] = field(default_factory=dict, repr=False)
    oauth2: OAuth2 | None = field(default=None, repr=False)
    # Names as written (sent canonicalised); None when the file has no http_headers.
    http_headers: dict[str, Header] | None = field(default=None, repr=False)


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
class RawIntegration:
    """One of the other Alertmanager integrations (slack_configs, pagerduty_configs, ...), kept as
    its validated mapping: the values as written plus `send_resolved` (Alertmanager's default
    when absent) and `http_config` (an HTTPConfig, the global one when absent). `globals` is the
    global section's other keys (slack_api_url, opsgenie_api_key, ...), for the defaults the
    integration takes from there."""

    kind: str  # the integration's name: the YAML key without `_configs` ("slack")
    values: dict[str, Any] = field(repr=False)
    globals: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def send_resolved(self) -> bool:
        return bool(self.values.get("send_resolved"))

    @property
    def http_config(self) -> HTTPConfig:
        return self.values["http_config"]  # type: ignore[no-any-return]


@dataclass
class Receiver:
    name: str
    webhook_configs: list[WebhookConfig] = field(default_factory=list)
    email_configs: list[EmailConfig] = field(default_factory=list)
    # Other Alertmanager integrations (slack_configs, pagerduty_configs, ...) by YAML key, each
    # item kept as its validated mapping; see RawIntegration.
    raw_integrations: dict[str, list[RawIntegration]] = field(default_factory=dict, repr=False)
    labels: dict[str, str] = field(default_factory=dict)  # always holds name=<receiver name>

    def integrations(self) -> list[tuple[str, int, Any]]:
        """(integration name, index, config) for every integration of this receiver, named as in
        Alertmanager's metrics and logs ("webhook", "email", "slack", ...)."""
        out: list[tuple[str, int, Any]] = []
        out += [("webhook", i, c) for i, c in enumerate(self.webhook_configs)]
        out += [("email", i, c) for i, c in enumerate(self.email_configs)]
        for items in self.raw_integrations.values():
            out += [(c.kind, i, c) for i, c in enumerate(items)]
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
        # Imported here: the writer is built on this model, so it cannot be imported first.
        from app.config.writeback import redacted_yaml

        return redacted_yaml(self)
