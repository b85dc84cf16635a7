"""alerter's own read API, beside Alertmanager's: what the UI shows beyond Alertmanager's pages.

Served under `<route prefix>/api/alerter/v1`, read-only:

- `GET /history?filter=<matcher>&receiver=<regex>`: every group with recorded delivery attempts,
  the latest first, each with its latest attempt; `filter` matches the group's labels and
  `receiver` is anchored, as in `GET /api/v2/alerts/groups`.
- `GET /history/<group id>`: one group's kept attempts, newest first, and its notification-log
  entries (what each integration was last told).
- `GET /workers`: the queue, the group timers, the held send leases and the RQ workers.
- `GET /redis`: which Redis holds the state, its role, and the Sentinels' master.

A query parameter these do not know is refused (400), never ignored: a mistyped filter must not
silently show everything.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, request

from app.api.v2 import BadQuery, _filter_matchers, _receiver_regex, error_response, json_response
from app.history import HistoryLog, attempt_to_api
from app.matchers import matches_all
from app.nflog import Entry, NotificationLog
from app.redisinfo import redis_view
from app.runtime import Runtime
from app.timeutil import format_rfc3339
from app.workview import work_view

bp = Blueprint("api_alerter", __name__)


def _rt() -> Runtime:
    return current_app.config["RUNTIME"]


@bp.errorhandler(BadQuery)
def bad_query(err: BadQuery) -> Response:
    return error_response(str(err), 400)


def _only_params(*known: str) -> None:
    unknown = sorted(set(request.args) - set(known))
    if unknown:
        allowed = ", ".join(known) if known else "none"
        raise BadQuery(f"unknown query parameter {unknown[0]} (this endpoint takes: {allowed})")


@bp.get("/history")
def history_groups() -> Response:
    _only_params("filter", "receiver")
    matchers = _filter_matchers()
    receiver = _receiver_regex()
    rt = _rt()
    groups = [
        g.to_api()
        for g in HistoryLog(rt.client, rt.keys).groups()
        if matches_all(matchers, g.labels) and (receiver is None or receiver.search(g.receiver))
    ]
    return json_response({"groups": groups})


def _log_entries(rt: Runtime, gid: str) -> list[dict[str, Any]]:
    """The group's notification-log entries, one per integration told about it."""
    prefix = f"{gid}:"
    out = []
    pattern = NotificationLog.field(gid, "*", "*", "*")
    for field, raw in rt.client.hscan_iter(rt.keys.shard(gid).nflog, match=pattern, count=1000):
        receiver, integration, index = field.decode().removeprefix(prefix).rsplit("/", 2)
        entry = Entry.decode(raw.decode())
        out.append(
            {
                "receiver": receiver,
                "integration": integration,
                "index": int(index),
                "sentAt": format_rfc3339(entry.timestamp),
                "expiresAt": format_rfc3339(entry.expires_at),
                "firing": sorted(entry.firing),
                "resolved": sorted(entry.resolved),
            }
        )
    return sorted(out, key=lambda e: (e["receiver"], e["integration"], e["index"]))


@bp.get("/history/<gid>")
def history_group(gid: str) -> Response:
    _only_params()
    rt = _rt()
    found = HistoryLog(rt.client, rt.keys).group(gid)
    if found is None:
        return error_response(f"no notification history for group {gid}", 404)
    group, attempts = found
    return json_response(
        {
            "group": group.to_api(),
            "attempts": [attempt_to_api(a) for a in attempts],
            "log": _log_entries(rt, gid),
        }
    )


@bp.get("/workers")
def workers() -> Response:
    _only_params()
    return json_response(work_view(_rt()))


@bp.get("/redis")
def redis_state() -> Response:
    _only_params()
    return json_response(redis_view(_rt()))
