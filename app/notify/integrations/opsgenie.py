"""The Opsgenie integration: create an alert while the group fires, close it once it is resolved.

As Alertmanager does it, the Opsgenie alert's `alias` is the SHA-256 of the group key, so every
notification of a group lands on the same Opsgenie alert (Opsgenie deduplicates creates by
alias) and the close finds it: `POST {api_url}v2/alerts` with the alert, or
`POST {api_url}v2/alerts/{alias}/close?identifierType=alias` with its source. With
`update_alerts`, a create is followed by `PUT .../message` and `PUT .../description`, so that an
alert Opsgenie already has shows the new text. Requests stop at the first refusal; 429 and 5xx
are retried.

The alert carries the group's common labels as details (the config's `details` over them),
responders (a `teams` responder is split into one `team` per comma-separated name; responders
that render empty are dropped), comma-separated `tags` and `actions`, `note`, `priority`,
`entity`; the message is cut to 130 characters. The API key (`api_key`/`api_key_file`, or the
global `opsgenie_api_key`) goes in `Authorization: GenieKey <key>`; as in Alertmanager, this
header is sent instead of any http_config basic_auth or authorization.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from urllib.parse import parse_qsl, quote_plus, urlencode, urlsplit, urlunsplit

from app.config import RawIntegration
from app.notify.integrations import SendContext, integration
from app.notify.integrations._common import (
    Fields,
    check_answer,
    cut_runes,
    group_key_hash,
    omit_empty,
    render_secret,
    secret,
    send_json,
    setting_url,
)
from app.notify.message import FIRING, Notification
from app.template.data import common_pairs

# https://docs.opsgenie.com/docs/alert-api: 130 characters.
MAX_MESSAGE_RUNES = 130

DEFAULTS = {
    "message": '{{ template "opsgenie.default.message" . }}',
    "description": '{{ template "opsgenie.default.description" . }}',
    "source": '{{ template "opsgenie.default.source" . }}',
}

Request = tuple[str, str, dict[str, Any]]  # method, URL, JSON body


def _split_list(text: str) -> list[str]:
    """Alertmanager's safeSplit: the trimmed text split on commas, empty items dropped (the
    others are not trimmed)."""
    return [item for item in text.strip().split(",") if item]


def _endpoint(base: str, path: str, by_alias: bool) -> str:
    """`path` appended to the API URL's path (which ends in "/"); the close and update calls
    also get `identifierType=alias` among the URL's query parameters (sorted, as Go encodes)."""
    parts = urlsplit(base)
    base_path = parts.path if parts.path.endswith("/") else parts.path + "/"
    query = parts.query
    if by_alias:
        params = [(k, v) for k, v in parse_qsl(query, keep_blank_values=True) if k != "identifierType"]
        params.append(("identifierType", "alias"))
        query = urlencode(sorted(params, key=lambda kv: kv[0]), quote_via=quote_plus)
    return urlunsplit((parts.scheme, parts.netloc, base_path + path, query, parts.fragment))


def _responders(r: Fields) -> list[dict[str, str]]:
    out: list[dict[str, str]] = []
    for written in r.values.get("responders") or []:
        rendered = {
            k: r.text(written.get(k, ""), f"responders {k}") for k in ("id", "name", "username", "type")
        }
        if not any(rendered.values()):
            continue
        if rendered["type"] == "teams":
            names = _split_list(rendered["name"])
            out += [{"name": r.text(team, "responders name"), "type": "team"} for team in names]
            continue
        out.append({**{k: v for k, v in rendered.items() if v and k != "type"}, "type": rendered["type"]})
    return out


def _create(r: Fields, n: Notification, alias: str) -> dict[str, Any]:
    """The create-alert body, keys in Alertmanager's struct order, empty optional fields left out."""
    message = cut_runes("opsgenie", "message", r.field("message"), MAX_MESSAGE_RUNES)
    details = common_pairs([a.labels for a in n.alerts])
    details.update({k: r.text(v, f"details {k}") for k, v in (r.values.get("details") or {}).items()})
    optional = {
        "responders": _responders(r),
        "tags": _split_list(r.field("tags")),
        "note": r.field("note"),
        "priority": r.field("priority"),
        "entity": r.field("entity"),
        "actions": _split_list(r.field("actions")),
    }
    return {
        "alias": alias,
        "message": message,
        **omit_empty({"description": r.field("description")}),
        "details": dict(sorted(details.items())),
        "source": r.field("source"),
        **omit_empty(optional),
    }


def requests_for(cfg: RawIntegration, n: Notification, r: Fields) -> list[Request]:
    """The requests Alertmanager makes for this notification, in order."""
    base, alias = setting_url(cfg, "api_url", "opsgenie_api_url"), group_key_hash(n)
    if n.status != FIRING:
        return [("POST", _endpoint(base, f"v2/alerts/{alias}/close", True), {"source": r.field("source")})]
    create = _create(r, n, alias)
    out: list[Request] = [("POST", _endpoint(base, "v2/alerts", False), create)]
    if r.values.get("update_alerts"):
        message = omit_empty({"message": create["message"]})
        description = omit_empty({"description": create.get("description", "")})
        out.append(("PUT", _endpoint(base, f"v2/alerts/{alias}/message", True), message))
        out.append(("PUT", _endpoint(base, f"v2/alerts/{alias}/description", True), description))
    return out


@integration("opsgenie")
def send_opsgenie(cfg: RawIntegration, n: Notification, ctx: SendContext) -> None:
    """Make the notification's requests; raise NotifyError at the first Opsgenie did not take."""
    r = Fields(cfg, n, ctx, DEFAULTS)
    requests = requests_for(cfg, n, r)
    key = render_secret(ctx, secret(cfg, "api_key", "opsgenie_api_key"), r.data, "api_key")
    headers = {"Authorization": f"GenieKey {key}"}
    # Go's client adds http_config credentials only to a request without Authorization.
    http = replace(cfg.http_config, basic_auth=None, authorization=None)
    for method, url, body in requests:
        response = send_json(cfg, url, body, ctx, method, headers, http_config=http)
        check_answer("opsgenie", response, (429,))
