"""Writing the config back as Alertmanager does: `config.original` of GET /api/v2/status.

amtool reads this text with its own Alertmanager's strict parser, so the fields, their order and
the defaults left out follow Alertmanager's marshalling, and secrets are written as `<secret>`.
`Config.redacted_yaml` gives the rules for fields newer than Alertmanager 0.25. The route and
inhibit rule "specs" (what the file said, normalised) are made here too, while loading.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

import yaml

from app.config.addresses import join_host_port
from app.config.global_section import GLOBAL_SECRET_URLS, GLOBAL_SECRETS, GLOBAL_URL_DEFAULTS
from app.config.integrations import INTEGRATIONS
from app.config.model import (
    DEFAULT_EMAIL_HTML,
    SECRET,
    Config,
    EmailConfig,
    GlobalConfig,
    Header,
    HTTPConfig,
    OAuth2,
    Receiver,
    Route,
    TimeInterval,
    TLSConfig,
    WebhookConfig,
)
from app.config.timeintervals import WEEKDAYS
from app.durations import format_duration, format_go_duration

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


def _proxy_yaml(settings: HTTPConfig | OAuth2) -> dict[str, Any]:
    """prometheus/common's ProxyConfig, inlined in http_config and in its oauth2 block."""
    return _compact(
        {
            "proxy_url": _redacted_url(settings.proxy_url) if settings.proxy_url else "",
            "no_proxy": settings.no_proxy,
            "proxy_from_environment": settings.proxy_from_environment or None,
            "proxy_connect_header": {
                name: [SECRET for _ in values] for name, values in settings.proxy_connect_header.items()
            },
        }
    )


def _oauth2_yaml(oauth: OAuth2) -> dict[str, Any]:
    return {
        **_compact(
            {
                "client_id": oauth.client_id,
                "client_secret": _secret(oauth.client_secret),
                "client_secret_file": oauth.client_secret_file,
                "grant_type": oauth.grant_type,
                "scopes": oauth.scopes,
                "token_url": oauth.token_url,
                "endpoint_params": oauth.endpoint_params,
                "tls_config": None if _tls_is_zero(oauth.tls_config) else _tls_yaml(oauth.tls_config),
            }
        ),
        **_proxy_yaml(oauth),
    }


def _headers_yaml(headers: dict[str, Header] | None) -> dict[str, Any] | None:
    if not headers:
        return None
    return {
        name: _compact({"values": h.values, "secrets": [SECRET for _ in h.secrets], "files": h.files})
        for name, h in headers.items()
    }


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
        out["oauth2"] = _oauth2_yaml(http.oauth2)
    if not _tls_is_zero(http.tls_config):
        out["tls_config"] = _tls_yaml(http.tls_config)
    out["follow_redirects"] = http.follow_redirects
    out["enable_http2"] = http.enable_http2
    out.update(_proxy_yaml(http))
    out.update(_compact({"http_headers": _headers_yaml(http.http_headers)}))
    return out


def _global_yaml(g: GlobalConfig) -> dict[str, Any]:
    secrets = {*GLOBAL_SECRETS, *GLOBAL_SECRET_URLS}
    extra = {k: (_secret(v) if k in secrets else v) for k, v in {**GLOBAL_URL_DEFAULTS, **g.extra}.items()}
    for key in _GLOBAL_URLS_AFTER_0_25:  # defaults of newer versions: only when set to something else
        if extra.get(key) == GLOBAL_URL_DEFAULTS[key]:
            del extra[key]
    values: dict[str, Any] = {
        "smtp_from": g.smtp_from,
        "smtp_hello": g.smtp_hello,
        "smtp_smarthost": join_host_port(g.smtp_smarthost),
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


def route_spec(draft: dict[str, Any]) -> dict[str, Any]:
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


def inhibit_spec(values: dict[str, Any]) -> dict[str, Any]:
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
                "smarthost": join_host_port(e.smarthost),
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


def _raw_yaml(key: str, item: dict[str, Any]) -> dict[str, Any]:
    spec = INTEGRATIONS[key]
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
        elif receiver.raw_integrations.get(key):
            out[key] = [_raw_yaml(key, item.values) for item in receiver.raw_integrations[key]]
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
            "weekdays": _Flow(_range_text(w, WEEKDAYS) for w in ti.weekdays),
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
    }


def redacted_yaml(config: Config) -> str:
    """The text of `Config.redacted_yaml()`: the config as Alertmanager writes it back."""
    return _dump_yaml(_config_yaml(config))
