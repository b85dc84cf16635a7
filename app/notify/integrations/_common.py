"""What Alertmanager's integrations share: truncation with its marker, secrets read inline or
from their `_file`, templated structures (DeepCopyWithTemplate), a JSON request, and the verdict
on the answer (Alertmanager's Retrier).

Integration modules use these instead of writing their own, so that every integration truncates,
retries and reports a refusal the same way.
"""

from __future__ import annotations

import math
import posixpath
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import orjson
import yaml

from app import goyaml
from app.config import RawIntegration
from app.notify import transport
from app.notify.errors import NotifyError
from app.notify.integrations import SendContext

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


def truncate_bytes(text: str, limit: int) -> tuple[str, bool]:
    """`text` cut to at most `limit` UTF-8 bytes, whole characters only, ending in the marker."""
    encoded = text.encode()
    if len(encoded) <= limit:
        return text, False
    if limit <= 3:
        return (TRUNCATION_MARKER if limit == 3 else "." * limit), True
    kept = encoded[: limit - 3].decode("utf-8", errors="ignore")
    return kept + TRUNCATION_MARKER, True


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


# What Go's encoding/json escapes inside strings by default (Alertmanager's integrations encode
# with it): HTML's special characters and the two JavaScript line separators.
_GO_ESCAPES = (
    (b"<", b"\\u003c"),
    (b">", b"\\u003e"),
    (b"&", b"\\u0026"),
    ("\u2028".encode(), b"\\u2028"),
    ("\u2029".encode(), b"\\u2029"),
)


def go_json(payload: Any) -> bytes:
    """`payload` as Go's json.Encoder writes it: compact, HTML characters escaped, and a final
    newline, so that a receiver gets the bytes Alertmanager would send. Keys keep the dict's
    order: build payloads in the order of Alertmanager's struct fields."""
    body = orjson.dumps(payload)
    for raw, escaped in _GO_ESCAPES:
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
            parsed = goyaml.load(text)
        except yaml.YAMLError:
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
) -> transport.Response:
    """Send `payload` as JSON (Go's encoding, see `go_json`) with the integration's http_config;
    the answer is the caller's to judge (most pass it to `check_answer`)."""
    body = go_json(payload)
    all_headers = {"Content-Type": "application/json", **(headers or {})}
    return transport.request(cfg.http_config, method, url, body, all_headers, ctx.timeout, cfg.kind)


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
