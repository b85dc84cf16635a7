"""The web UI: one HTML page and its ES modules, served by the web tier itself.

Notifications link to `<external URL>/#/alerts?receiver=...` (Alertmanager's default templates),
so the page answers at the route prefix's root and routes on the URL fragment, with
Alertmanager's routes: #/alerts, #/silences, #/silences/new, #/silences/<id>, #/status. The
files are package data under `static/`, plain ES modules with no build step, so neither install
nor run time needs Node.js. The page fetches the APIs with URLs relative to itself, so it works
under any `--web.route-prefix` and behind whatever authentication guards this Flask app.

Label values and annotations are only ever set as text (static/dom.js), and the page's Content
Security Policy allows scripts from this origin only, so a label holding markup cannot run.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, send_from_directory

STATIC = Path(__file__).parent / "static"

# Scripts and styles from this origin only; no inline script, no eval, no framing elsewhere.
_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'self'"
)

bp = Blueprint("ui", __name__)


def _secure(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = _CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    return response


@bp.get("/")
def index() -> Response:
    response = send_from_directory(STATIC, "index.html", max_age=0)
    response.headers["Cache-Control"] = "no-cache"
    return _secure(response)


@bp.get("/assets/<path:name>")
def asset(name: str) -> Response:
    """A module or stylesheet; revalidated on every load (ETag), so an upgrade shows at once."""
    mimetype = "text/javascript" if name.endswith(".js") else None
    response = send_from_directory(STATIC / "assets", name, max_age=0, mimetype=mimetype)
    response.headers["Cache-Control"] = "no-cache"
    return _secure(response)
