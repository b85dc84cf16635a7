"""WeChat Work: an access token from `gettoken`, then one `message/send` call, as Alertmanager
makes them.

The token is fetched with `GET {api_url}gettoken?corpid=...&corpsecret=...` (both templated, as in
Alertmanager) and kept in this process for two hours per API URL, corp and secret, so a burst of
notifications costs one token request; WeChat's `errcode` 42001 (token expired) drops it, and the
send is retried with a fresh one. The message is `POST {api_url}message/send?access_token=...`
with Alertmanager's JSON: `text` and `markdown` objects (the one of `message_type` holds the
message, the other is empty), then `touser`, `toparty`, `totag` and `agentid` when not empty,
`safe: "0"` and `msgtype`.

WeChat answers HTTP 200 with `errcode` 0 for a sent message. Another status is retried, as is an
answer that is not JSON; any other `errcode` is WeChat refusing the message (bad agent, unknown
user) and is not. The secret and the token are in URL queries, which the transport never logs.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import orjson

from app.config import RawIntegration
from app.notify import transport
from app.notify.errors import NotifyError
from app.notify.integrations import SendContext, integration
from app.notify.integrations._common import BODY_EXCERPT, answer_object, secret, send_json, setting
from app.notify.message import Notification
from app.template.data import template_data

TOKEN_TTL = 2 * 3600.0  # Alertmanager refreshes its token after two hours
ERRCODE_TOKEN_EXPIRED = 42001


@dataclass(frozen=True)
class _Corp:
    """Who asks for a token: the API URL and the rendered corp id and secret."""

    api_url: str
    corp_id: str
    secret: str = field(repr=False)

    @property
    def key(self) -> tuple[str, str, str]:
        """The token cache's key: the secret only as a digest."""
        return (self.api_url, self.corp_id, hashlib.sha256(self.secret.encode()).hexdigest())


# Tokens by _Corp.key, with when they were fetched, shared by the threads of a worker. One fetch at
# a time per key: the groups notified at once wait for the first one's token rather than each
# asking WeChat, which limits how often a token may be requested.
_tokens: dict[tuple[str, str, str], tuple[str, float]] = {}
_key_locks: dict[tuple[str, str, str], threading.Lock] = {}
_locks_lock = threading.Lock()


def _endpoint(api_url: str, method: str, query: dict[str, str], keep_query: bool) -> str:
    """`api_url` + `method` with `query`, keys sorted as Go's url.Values encodes them; the URL's
    own query is kept (message/send) or replaced (gettoken), as in Alertmanager. The path ends in
    "/" before `method`, as Alertmanager makes sure when it loads the config."""
    parts = urlsplit(api_url)
    path = parts.path if parts.path.endswith("/") else parts.path + "/"
    own = parse_qsl(parts.query, keep_blank_values=True) if keep_query else []
    pairs = [(k, v) for k, v in own if k not in query] + list(query.items())
    query_text = urlencode(sorted(pairs, key=lambda p: p[0]))
    return urlunsplit((parts.scheme, parts.netloc, path + method, query_text, ""))


def _token(cfg: RawIntegration, corp: _Corp, ctx: SendContext) -> str:
    """The cached token of `corp`, fetched when there is none or it is two hours old."""
    with _locks_lock:
        key_lock = _key_locks.setdefault(corp.key, threading.Lock())
    with key_lock:
        cached = _tokens.get(corp.key)
        if cached is not None and time.monotonic() - cached[1] < TOKEN_TTL:
            return cached[0]
        token = _fetch_token(cfg, corp, ctx)
        _tokens[corp.key] = (token, time.monotonic())
        return token


def _fetch_token(cfg: RawIntegration, corp: _Corp, ctx: SendContext) -> str:
    query = {"corpid": corp.corp_id, "corpsecret": corp.secret}
    url = _endpoint(corp.api_url, "gettoken", query, keep_query=False)
    response = transport.request(cfg.http_config, "GET", url, None, {}, ctx.timeout, "wechat")
    answer = answer_object(response)
    token = answer.get("access_token") if answer is not None else None
    if isinstance(token, str) and token:
        return token
    said = ""
    if answer is not None and "errcode" in answer:
        said = f" (errcode {answer['errcode']}: {answer.get('errmsg', '')})"
    raise NotifyError(
        f"wechat: invalid APISecret for CorpID: {corp.corp_id}{said}", retryable=response.status_code >= 500
    )


def _forget_token(corp: _Corp) -> None:
    with _locks_lock:
        _tokens.pop(corp.key, None)


# Config fields of the recipients and the agent, and their keys in the message.
_RECIPIENTS = (("to_user", "touser"), ("to_party", "toparty"), ("to_tag", "totag"), ("agent_id", "agentid"))


def message(cfg: RawIntegration, data: Mapping[str, Any], ctx: SendContext) -> dict[str, Any]:
    """The message/send JSON, fields in Alertmanager's order."""

    def render(name: str) -> str:
        return ctx.render(str(setting(cfg, name)), data, name)

    # Alertmanager's config loading turns an empty message_type into "text".
    kind = str(cfg.values.get("message_type") or "text")
    text = render("message")
    body: dict[str, Any] = {"text": {"content": text if kind == "text" else ""}}
    for name, key in _RECIPIENTS:
        if value := render(name):
            body[key] = value
    body.update(safe="0", msgtype=kind, markdown={"content": text if kind == "markdown" else ""})
    return body


def _verdict(response: transport.Response, corp: _Corp) -> None:
    """WeChat took the message when it answers 200 with errcode 0."""
    if response.status_code != 200:
        raise NotifyError(f"wechat: unexpected status code {response.status_code}", retryable=True)
    try:
        answer = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        excerpt = response.text[:BODY_EXCERPT].strip()
        raise NotifyError(f"wechat: the answer is not JSON: {excerpt}", retryable=True) from None
    code = answer.get("errcode", 0) if isinstance(answer, dict) else 0
    if code == 0:
        return
    if code == ERRCODE_TOKEN_EXPIRED:
        _forget_token(corp)
    raise NotifyError(
        f"wechat: errcode {code}: {answer.get('errmsg', '')}", retryable=code == ERRCODE_TOKEN_EXPIRED
    )


def _render_secret(text: str, data: Mapping[str, Any], ctx: SendContext) -> str:
    """The secret, templated as Alertmanager templates it; a failure is reported without the
    template's error, which could quote part of the secret."""
    try:
        return ctx.render(text, data, "api_secret")
    except NotifyError:
        raise NotifyError("wechat: cannot render the api_secret template", retryable=False) from None


@integration("wechat")
def send_wechat(cfg: RawIntegration, n: Notification, ctx: SendContext) -> None:
    """Send the message with a (cached) access token; NotifyError when WeChat did not take it."""
    data = template_data(n)
    corp = _Corp(
        str(setting(cfg, "api_url")),
        ctx.render(str(setting(cfg, "corp_id")), data, "corp_id"),
        _render_secret(secret(cfg, "api_secret", "wechat_api_secret"), data, ctx),
    )
    body = message(cfg, data, ctx)
    token = _token(cfg, corp, ctx)
    url = _endpoint(corp.api_url, "message/send", {"access_token": token}, keep_query=True)
    _verdict(send_json(cfg, url, body, ctx), corp)
