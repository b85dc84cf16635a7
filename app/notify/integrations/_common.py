"""What Alertmanager's integrations share: truncation with its marker, secrets read inline or
from their `_file`, templated structures (DeepCopyWithTemplate), a JSON request, and the verdict
on the answer (Alertmanager's Retrier).

Integration modules use these instead of writing their own, so that every integration truncates,
retries and reports a refusal the same way.
"""

from __future__ import annotations

import hashlib
import logging
import math
import posixpath
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import orjson

from app.config import GLOBAL_URL_DEFAULTS, HTTPConfig, RawIntegration
from app.config.integrations import INTEGRATIONS
from app.durations import parse_go_duration
from app.notify import transport
from app.notify.errors import NotifyError
from app.notify.integrations import SendContext
from app.notify.message import Notification
from app.template import RenderError
from app.template.data import template_data
from app.yamlv2 import NotYAML, load

log = logging.getLogger(__name__)

# Alertmanager's truncation marker: one character, three bytes in UTF-8.
TRUNCATION_MARKER = "…"
# How much of a refusing receiver's answer goes into the error (and so into the log).
BODY_EXCERPT = 512


def truncate_runes(text: str, limit: int) -> tuple[str, bool]:
    """`text` cut to `limit` characters, the last one the marker; (text, whether it was cut)."""
    if len(text) <= limit:
        return text, False
    if limit <= 3:
        return text[:limit], True
    return text[: limit - 1] + TRUNCATION_MARKER, True


def cut_runes(kind: str, what: str, text: str, limit: int) -> str:
    """`truncate_runes` for an integration's field, with the warning Alertmanager logs when it
    cuts one (the receiver gets a shortened text, which the operator should be able to see)."""
    kept, cut = truncate_runes(text, limit)
    if cut:
        log.warning("%s: %s truncated to %d characters", kind, what, limit)
    return kept


def truncate_bytes(text: str, limit: int) -> tuple[str, bool]:
    """`text` cut to at most `limit` UTF-8 bytes, whole characters only, ending in the marker."""
    encoded = text.encode()
    if len(encoded) <= limit:
        return text, False
    if limit <= 3:
        return (TRUNCATION_MARKER if limit == 3 else "." * limit), True
    kept = encoded[: limit - 3].decode("utf-8", errors="ignore")
    return kept + TRUNCATION_MARKER, True


def log_truncation(kind: str, what: str, group_key: str, limit: int, unit: str = "runes") -> None:
    """Warn, as Alertmanager does, that a field was cut to the receiver's limit: the operator
    learns why a message ends in "…" (and may shorten the template)."""
    log.warning(
        f"truncated {what}",
        extra={"fields": {"integration": kind, "group": group_key, f"max_{unit}": limit}},
    )


def setting(cfg: RawIntegration, name: str) -> Any:
    """The integration's `name` as Alertmanager has it once the config is loaded: as written;
    else, for a field with a global counterpart (api_url), the global setting or its default;
    else Alertmanager's default for the field (a default template, `parse_mode: HTML`), or ""."""
    spec = INTEGRATIONS[f"{cfg.kind}_configs"]
    global_name = spec.from_global.get(name)
    if global_name is not None:
        fallback = cfg.globals.get(global_name) or GLOBAL_URL_DEFAULTS.get(global_name, "")
        return cfg.values.get(name) or fallback
    return cfg.values.get(name, spec.defaults.get(name, ""))


def secret(cfg: RawIntegration, name: str, global_name: str = "") -> str:
    """The integration's `name` setting, or the content of `name_file` (read at every send, so a
    rotated secret needs no reload), falling back to the global section's `global_name` and
    `global_name_file`. A file that cannot be read is a retryable NotifyError."""
    values = cfg.values
    if values.get(name) or values.get(f"{name}_file"):
        return transport.value_or_file(
            str(values.get(name) or ""), str(values.get(f"{name}_file") or ""), f"{cfg.kind} {name}_file"
        )
    if global_name:
        g = cfg.globals
        inline, path = str(g.get(global_name) or ""), str(g.get(f"{global_name}_file") or "")
        return transport.value_or_file(inline, path, f"global {global_name}_file")
    return ""


def setting_url(cfg: RawIntegration, name: str, global_name: str) -> str:
    """The integration's URL setting `name`, else the global section's `global_name`, else
    Alertmanager's default for it (GLOBAL_URL_DEFAULTS): the order in which Alertmanager fills it."""
    return str(
        cfg.values.get(name) or cfg.globals.get(global_name) or GLOBAL_URL_DEFAULTS.get(global_name, "")
    )


def group_key_hash(n: Notification) -> str:
    """Alertmanager's `Key.Hash()` of the group key (SHA-256, hex): the deduplication key that
    PagerDuty, Opsgenie and VictorOps get, so that the incident alerter opens is the one
    Alertmanager would open, and a resolve from either closes it."""
    return hashlib.sha256(n.group_key.encode()).hexdigest()


def render_secret(ctx: SendContext, text: str, data: Mapping[str, Any], what: str) -> str:
    """A credential rendered as a template, as Alertmanager renders its keys; a failure names the
    field but not the template, which holds the secret."""
    try:
        return ctx.templates.render(text, data, False)
    except RenderError:
        raise NotifyError(f"cannot render the {what} template", retryable=False) from None


def send_timeout(cfg: RawIntegration, ctx: SendContext) -> float:
    """What is left of the flush, capped by the integration's own `timeout` (a Go duration as
    written, validated at load) when it is set and positive, as Alertmanager caps the request."""
    written = cfg.values.get("timeout")
    own = parse_go_duration(written) if isinstance(written, str) and written else 0.0
    return min(ctx.timeout, own) if own > 0 else ctx.timeout


class Fields:
    """An integration's templated settings, rendered against one notification's data; a setting
    not written renders Alertmanager's default for it (`defaults`), one written empty is empty."""

    def __init__(
        self, cfg: RawIntegration, n: Notification, ctx: SendContext, defaults: Mapping[str, str]
    ) -> None:
        self.values, self.ctx, self.defaults = cfg.values, ctx, defaults
        self.data = template_data(n)

    def text(self, template: str, what: str) -> str:
        """`template` rendered; `what` names it in the error of a template that fails."""
        return self.ctx.render(template, self.data, what) if template else ""

    def field(self, name: str) -> str:
        """The setting `name` rendered."""
        return self.text(self.values.get(name, self.defaults.get(name, "")), name)


def omit_empty(pairs: Mapping[str, Any]) -> dict[str, Any]:
    """Go's `omitempty`: the pairs whose value is not empty ("", false, None, [] or {})."""
    return {k: v for k, v in pairs.items() if v not in ("", None, False, [], {})}


def check_answer(
    kind: str,
    response: transport.Response,
    retry_codes: Iterable[int] = (),
    details: Callable[[transport.Response], str] | None = None,
) -> None:
    """Alertmanager's Retrier: 2xx is delivered; 5xx and `retry_codes` are retried; any other
    status is permanent. The error names the status and the receiver's answer (or what
    `details` makes of it), which is what an operator needs to fix a refused request."""
    code = response.status_code
    if code // 100 == 2:
        return
    retryable = code // 100 == 5 or code in tuple(retry_codes)
    said = details(response) if details is not None else response.text[:BODY_EXCERPT].strip()
    message = f"{kind}: unexpected status code {code}" + (f": {said}" if said else "")
    raise NotifyError(message, retryable=retryable)


def answer_object(response: transport.Response) -> dict[str, Any] | None:
    """The receiver's answer as a JSON object, or None when it is not one (not JSON, or another
    JSON value): an error page from a proxy comes in place of the service's own answer."""
    try:
        answer = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return None
    return answer if isinstance(answer, dict) else None


# What Go's encoding/json escapes inside strings by default (Alertmanager's integrations encode
# with it): HTML's special characters, and the two JavaScript line separators, whose UTF-8 forms
# both start with _SEPARATOR_LEAD.
_HTML_ESCAPES = ((b"<", b"\\u003c"), (b">", b"\\u003e"), (b"&", b"\\u0026"))
_SEPARATOR_ESCAPES = (("\u2028".encode(), b"\\u2028"), ("\u2029".encode(), b"\\u2029"))
_SEPARATOR_LEAD = b"\xe2"


def go_json(payload: Any) -> bytes:
    """`payload` as Go's json.Encoder writes it: compact, HTML characters escaped, and a final
    newline, so that a receiver gets the bytes Alertmanager would send. Keys keep the dict's
    order: build payloads in the order of Alertmanager's struct fields.

    A one-byte search runs on memchr, a three-byte one byte by byte: replacing the separators
    cost 1-2 us each per 850-byte body, a search for their lead byte 0.2 us (timeit), so they
    are replaced only in the bodies that have it (U+2000 to U+2FFF)."""
    body = orjson.dumps(payload)
    for raw, escaped in _HTML_ESCAPES:
        body = body.replace(raw, escaped)
    if _SEPARATOR_LEAD in body:
        for raw, escaped in _SEPARATOR_ESCAPES:
            body = body.replace(raw, escaped)
    return body + b"\n"


def _json_value(value: Any, what: str) -> Any:
    """A value read from YAML, as Go's encoding/json sends it: maps keep their string keys only
    (sorted, as Go writes maps) and infinities and NaN cannot be sent."""
    if isinstance(value, dict):
        return {k: _json_value(value[k], what) for k in sorted(k for k in value if isinstance(k, str))}
    if isinstance(value, list):
        return [_json_value(v, what) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        raise NotifyError(f"{what} template: json: unsupported value: {value}", retryable=False)
    return value


def rendered_structure(value: Any, render: Callable[[str], str], what: str) -> Any:
    """Alertmanager's DeepCopyWithTemplate (Jira's `fields`, the webhook's `payload`), ready for
    its JSON encoder: every string, map keys too, is rendered; a rendered string that yaml.v2
    reads as anything but a plain string (a number, boolean, null, list or map) becomes that
    value, used as read and not rendered again; other values are copied. `what` names the
    setting in errors (`render` raises its own)."""
    if isinstance(value, str):
        text = render(value)
        try:
            parsed = load(text)
        except NotYAML:
            return text
        return text if isinstance(parsed, str) else _json_value(parsed, what)
    if isinstance(value, list):
        return [rendered_structure(v, render, what) for v in value]
    if isinstance(value, dict):
        rendered = {
            render(k): rendered_structure(v, render, what) for k, v in value.items() if isinstance(k, str)
        }
        return _json_value(rendered, what)
    return _json_value(value, what)


def send_json(
    cfg: RawIntegration,
    url: str,
    payload: Any,
    ctx: SendContext,
    method: str = "POST",
    headers: dict[str, str] | None = None,
    http_config: HTTPConfig | None = None,
    timeout: float | None = None,
) -> transport.Response:
    """Send `payload` as JSON (Go's encoding, see `go_json`) with the integration's http_config
    (or `http_config`, when the integration sets its own credentials in it) within `timeout`
    (the flush's by default); the answer is the caller's to judge (most pass it to
    `check_answer`)."""
    body = go_json(payload)
    all_headers = {"Content-Type": "application/json", **(headers or {})}
    http = http_config if http_config is not None else cfg.http_config
    wait = ctx.timeout if timeout is None else timeout
    return transport.request(http, method, url, body, all_headers, wait, cfg.kind)


def join_url_path(url: str, *elements: str) -> str:
    """Go's url.URL.JoinPath, which Alertmanager's integrations use to reach an API below the
    configured URL: the elements joined to the URL's path and the result cleaned (`//`, `.`,
    `..`), a trailing slash kept when the last element has one, query and fragment untouched."""
    parts = urlsplit(url)
    relative = not parts.path.startswith("/")
    joined = "/".join(e for e in ("/" + parts.path if relative else parts.path, *elements) if e)
    path = posixpath.normpath(joined)
    if path.startswith("//"):  # POSIX keeps a leading "//"; Go's path.Clean does not
        path = "/" + path.lstrip("/")
    if relative:
        path = path[1:]
    if elements and elements[-1].endswith("/") and not path.endswith("/"):
        path += "/"
    return urlunsplit(parts._replace(path=path))
