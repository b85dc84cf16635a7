"""Building the model from decoded, validated values: defaults applied, routes inheriting.

This is where the global smtp_* and http_config defaults are copied into integrations,
`match`/`match_re` are folded into matchers, and each route inherits its parent's settings.
"""

from __future__ import annotations

import copy
import dataclasses
import os
from typing import Any

from app.config.addresses import host_or
from app.config.global_section import GLOBAL_EXTRA
from app.config.integrations import INTEGRATIONS
from app.config.model import (
    DEFAULT_EMAIL_SUBJECT,
    Config,
    EmailConfig,
    GlobalConfig,
    HTTPConfig,
    InhibitRule,
    RawIntegration,
    Receiver,
    Route,
    TimeInterval,
    TLSConfig,
    WebhookConfig,
)
from app.config.paths import resolve_paths
from app.config.reader import or_default
from app.config.writeback import inhibit_spec, route_spec
from app.matchers import Matcher, sort_matchers


def _build_global(g: dict[str, Any]) -> GlobalConfig:
    extra = {key: g[key] for key in GLOBAL_EXTRA if key in g}
    return GlobalConfig(
        resolve_timeout=or_default(g.get("resolve_timeout"), 300.0),
        smtp_from=g.get("smtp_from", ""),
        smtp_hello=g.get("smtp_hello") or "localhost",
        smtp_smarthost=g.get("smtp_smarthost") or ("", 0),
        smtp_auth_username=g.get("smtp_auth_username", ""),
        smtp_auth_password=g.get("smtp_auth_password", ""),
        smtp_auth_password_file=g.get("smtp_auth_password_file", ""),
        smtp_auth_secret=g.get("smtp_auth_secret", ""),
        smtp_auth_identity=g.get("smtp_auth_identity", ""),
        smtp_require_tls=or_default(g.get("smtp_require_tls"), True),
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
        send_resolved=or_default(values.get("send_resolved"), True),
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
        smarthost=host_or(values.get("smarthost"), g.smtp_smarthost),
        hello=values.get("hello") or g.smtp_hello,
        auth_username=values.get("auth_username") or g.smtp_auth_username,
        auth_password=values.get("auth_password", "") if own_password else g.smtp_auth_password,
        auth_password_file=values.get("auth_password_file", "")
        if own_password
        else g.smtp_auth_password_file,
        auth_secret=values.get("auth_secret", "") if own_secret else g.smtp_auth_secret,
        auth_secret_file=values.get("auth_secret_file", "") if own_secret else g.smtp_auth_secret_file,
        auth_identity=values.get("auth_identity") or g.smtp_auth_identity,
        require_tls=or_default(values.get("require_tls"), g.smtp_require_tls),
        tls_config=values.get("tls_config") or copy.copy(g.smtp_tls_config),
        headers=dict(values.get("headers") or {}),
        html=values.get("html", ""),
        text=values.get("text", ""),
        send_resolved=or_default(values.get("send_resolved"), False),
        force_implicit_tls=or_default(values.get("force_implicit_tls"), g.smtp_force_implicit_tls),
        threading=values.get("threading") or {},
    )
    # Alertmanager's email notifier fills these headers when it is built.
    email.headers.setdefault("Subject", DEFAULT_EMAIL_SUBJECT)
    email.headers.setdefault("To", email.to)
    email.headers.setdefault("From", email.from_)
    return email


def _build_raw(key: str, values: dict[str, Any] | None, g: GlobalConfig) -> RawIntegration:
    """A kept-raw integration with Alertmanager's send_resolved default and the global http_config."""
    out = dict(values or {})
    out.setdefault("send_resolved", INTEGRATIONS[key].send_resolved)
    own_http = out.get("http_config")
    if key == "msteamsv2_configs" and own_http is not None and not own_http.proxy_url:
        # Alertmanager 0.34+: a Teams workflow's own http_config still takes the global proxy_url.
        out["http_config"] = dataclasses.replace(own_http, proxy_url=g.http_config.proxy_url)
    out.setdefault("http_config", g.http_config)
    return RawIntegration(key.removesuffix("_configs"), out, g.extra)


def _build_receiver(values: dict[str, Any], g: GlobalConfig) -> Receiver:
    name = values.get("name", "")
    return Receiver(
        name=name,
        webhook_configs=[_build_webhook(v, g) for v in values.get("webhook_configs") or []],
        email_configs=[_build_email(v, g) for v in values.get("email_configs") or []],
        raw_integrations={
            key: [_build_raw(key, item, g) for item in values[key]] for key in INTEGRATIONS if values.get(key)
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
        group_wait=or_default(draft.get("group_wait"), base.group_wait),
        group_interval=or_default(draft.get("group_interval"), base.group_interval),
        repeat_interval=or_default(draft.get("repeat_interval"), base.repeat_interval),
        mute_time_intervals=list(draft.get("mute_time_intervals") or []),
        active_time_intervals=list(draft.get("active_time_intervals") or []),
        parent=parent,
        index=index,
        labels={**base.labels, **(draft.get("labels") or {})},
        spec=route_spec(draft),
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
        spec=inhibit_spec(values),
    )


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


def build(doc: dict[str, Any], text: str, path: str) -> Config:
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
    )
    if path:
        resolve_paths(config, os.path.dirname(path) or ".")
    return config
