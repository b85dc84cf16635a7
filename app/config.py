"""alertmanager.yml: the data model alerter runs on, and the loader that validates it.

Field names, defaults and validation follow Alertmanager so that an unchanged alertmanager.yml
loads here. Durations are held in seconds (floats); the loader parses Go-style durations.
Secrets are plain strings in memory but are never logged, and `Config.redacted_yaml()`
shows them as `<secret>`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.matchers import Matcher


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


@dataclass
class BasicAuth:
    username: str = ""
    password: str = ""  # secret
    password_file: str = ""


@dataclass
class Authorization:
    type: str = "Bearer"
    credentials: str = ""  # secret
    credentials_file: str = ""


@dataclass
class HTTPConfig:
    basic_auth: BasicAuth | None = None
    authorization: Authorization | None = None  # bearer_token/_file are folded into this
    tls_config: TLSConfig = field(default_factory=TLSConfig)
    proxy_url: str = ""
    follow_redirects: bool = True


@dataclass
class WebhookConfig:
    url: str = ""  # secret (Alertmanager treats the URL as a secret)
    url_file: str = ""
    send_resolved: bool = True
    max_alerts: int = 0
    timeout: float = 0.0  # seconds; 0 means no timeout beyond the flush deadline
    http_config: HTTPConfig = field(default_factory=HTTPConfig)


@dataclass
class EmailConfig:
    to: str = ""
    from_: str = ""  # YAML key `from`
    smarthost: tuple[str, int] = ("", 0)  # (host, port)
    hello: str = "localhost"
    auth_username: str = ""
    auth_password: str = ""  # secret
    auth_password_file: str = ""
    auth_secret: str = ""  # secret (CRAM-MD5)
    auth_identity: str = ""
    require_tls: bool = True
    tls_config: TLSConfig = field(default_factory=TLSConfig)
    headers: dict[str, str] = field(default_factory=dict)  # Subject/To/From filled by defaults
    html: str = ""  # template; empty means alerter's default HTML body
    text: str = ""  # template; empty means no text part (Alertmanager's default)
    send_resolved: bool = False


@dataclass
class Receiver:
    name: str
    webhook_configs: list[WebhookConfig] = field(default_factory=list)
    email_configs: list[EmailConfig] = field(default_factory=list)
    # Other Alertmanager integrations (slack_configs, pagerduty_configs, ...) are accepted so an
    # existing file loads; alerter keeps them raw and logs that it cannot deliver them yet.
    unsupported: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

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


@dataclass
class Route:
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

    # Routing behaviour (match, key, id, group key) lives in app/route.py.


@dataclass
class GlobalConfig:
    resolve_timeout: float = 300.0
    smtp_from: str = ""
    smtp_hello: str = "localhost"
    smtp_smarthost: tuple[str, int] = ("", 0)
    smtp_auth_username: str = ""
    smtp_auth_password: str = ""
    smtp_auth_password_file: str = ""
    smtp_auth_secret: str = ""
    smtp_auth_identity: str = ""
    smtp_require_tls: bool = True
    http_config: HTTPConfig = field(default_factory=HTTPConfig)
    # Other global keys (slack_api_url, pagerduty_url, ...) are accepted and kept raw.
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Config:
    global_: GlobalConfig
    route: Route
    receivers: dict[str, Receiver]
    inhibit_rules: list[InhibitRule] = field(default_factory=list)
    time_intervals: dict[str, list[TimeInterval]] = field(default_factory=dict)
    templates: list[str] = field(default_factory=list)  # glob patterns, resolved against the file
    original: str = ""  # the YAML text as loaded
    source_path: str = ""
