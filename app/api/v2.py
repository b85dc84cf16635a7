"""Alertmanager API v2: the same paths, JSON shapes and status codes (docs/openapi.yaml)."""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

import orjson
from flask import Blueprint, Response, current_app, request

from app import version_info
from app.alerts import Alert
from app.api.ingest import ingest
from app.api.postable_silence import SilenceSchemaError, silence_from_api
from app.durability import WriteNotDurable
from app.gcpause import gc_paused
from app.matchers import Matcher, matches_all, parse_matcher
from app.notify.message import Notification
from app.notify.receivertest import try_receiver
from app.regex import Regex, RegexError, compile_anchored
from app.route import find_route
from app.runtime import Runtime
from app.silence import Silence, SilenceError, SilenceNotFound, sort_for_api
from app.template.routelabels import render_route_labels
from app.timeutil import format_rfc3339

bp = Blueprint("api_v2", __name__)


def _rt() -> Runtime:
    return current_app.config["RUNTIME"]


def json_response(payload: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(payload), status=status, mimetype="application/json")


def error_response(message: str, status: int) -> Response:
    """Alertmanager answers API errors with the message as a JSON string."""
    return json_response(message, status)


class BadQuery(ValueError):
    """A query parameter Alertmanager would refuse (HTTP 400)."""


@bp.errorhandler(BadQuery)
def bad_query(err: BadQuery) -> Response:
    return error_response(str(err), 400)


def _bool_arg(name: str, default: bool = True) -> bool:
    value = request.args.get(name)
    if value is None:
        return default
    if value.lower() in ("true", "1"):
        return True
    if value.lower() in ("false", "0"):
        return False
    raise BadQuery(f"query parameter {name} must be true or false, got {value!r}")


def _filter_matchers() -> list[Matcher]:
    matchers = []
    for text in request.args.getlist("filter"):
        try:
            matchers.append(parse_matcher(text))
        except ValueError as err:
            raise BadQuery(f"bad matcher format: {text}: {err}") from None
    return matchers


def _receiver_regex() -> Regex | None:
    text = request.args.get("receiver")
    if not text:
        return None
    try:
        return compile_anchored(text)
    except RegexError as err:
        raise BadQuery(f"failed to parse receiver param: {err}") from None


@bp.post("/alerts")
def post_alerts() -> Response:
    """Reached only for what app.api.ingest's fast path hands on (a bad Content-Length, say)."""
    status, body = ingest(_rt(), request.get_data())
    if not body:
        return _empty_ok()
    return Response(body, status=status, mimetype="application/json")


def _gettable(alert: Alert, receivers: list[str], silences: list[Silence], now: float) -> dict[str, Any]:
    out = alert.api_fields()
    out["receivers"] = [{"name": r} for r in receivers]
    out["updatedAt"] = format_rfc3339(alert.updated_at)
    silenced_by = sorted(s.id for s in silences if s.mutes(alert.labels, now))
    inhibited_by = _rt().inhibitor.inhibited_by(alert.labels, now)
    state = "suppressed" if silenced_by or inhibited_by else "active"
    out["status"] = {"state": state, "silencedBy": silenced_by, "inhibitedBy": inhibited_by, "mutedBy": []}
    return out


class _AlertFilter:
    """The query parameters shared by GET /alerts and GET /alerts/groups."""

    def __init__(self) -> None:
        self.active = _bool_arg("active")
        self.silenced = _bool_arg("silenced")
        self.inhibited = _bool_arg("inhibited")
        self.unprocessed = _bool_arg("unprocessed")
        self.matchers = _filter_matchers()
        self.receiver = _receiver_regex()

    def accepts(self, alert: Alert, gettable: dict[str, Any], now: float) -> bool:
        if alert.resolved(now):
            return False
        if self.receiver and not any(self.receiver.search(r["name"]) for r in gettable["receivers"]):
            return False
        if not matches_all(self.matchers, alert.labels):
            return False
        status = gettable["status"]
        if not self.active and status["state"] == "active":
            return False
        if not self.unprocessed and status["state"] == "unprocessed":
            return False
        if not self.silenced and status["silencedBy"]:
            return False
        return self.inhibited or not status["inhibitedBy"]


@bp.get("/alerts")
def get_alerts() -> Response:
    rt = _rt()
    flt = _AlertFilter()
    now = time.time()
    silences = rt.silences.all()
    out = []
    with gc_paused():
        for alert in sorted(rt.store.alerts(), key=lambda a: a.fingerprint):
            gettable = _gettable(alert, rt.dispatcher.receivers_for(alert.labels), silences, now)
            if flt.accepts(alert, gettable, now):
                out.append(gettable)
        return json_response(out)


@bp.get("/alerts/groups")
def get_alert_groups() -> Response:
    rt = _rt()
    flt = _AlertFilter()
    now = time.time()
    silences = rt.silences.all()
    out = []
    snapshot = rt.snapshot
    with gc_paused():
        for group in rt.store.load_groups(rt.store.group_ids()):
            # After a reload the route's receiver in the config in effect is the one that gets told.
            route = find_route(snapshot.config.route, group.route_id)
            receiver = route.receiver if route is not None else group.receiver
            alerts = []
            for alert in sorted(group.alerts, key=lambda a: a.fingerprint):
                gettable = _gettable(alert, [receiver], silences, now)
                if flt.accepts(alert, gettable, now):
                    alerts.append(gettable)
            if alerts:
                route_labels = {}
                if route is not None and route.labels:
                    # Alertmanager renders them against all the group's alerts, filtered or not.
                    n = Notification.build(
                        receiver, group.key, group.labels, group.alerts, now, rt.external_url
                    )
                    route_labels = render_route_labels(snapshot.templates, route.labels, n)
                out.append(
                    {
                        "labels": group.labels,
                        "receiver": {"name": receiver},
                        "alerts": alerts,
                        "routeLabels": route_labels,
                    }
                )
        out.sort(key=lambda g: (g["receiver"]["name"], sorted(g["labels"].items())))
        return json_response(out)


@bp.get("/receivers")
def get_receivers() -> Response:
    return json_response([{"name": name} for name in _rt().config.receivers])


@bp.post("/receivers/<path:name>/test")
def post_receiver_test(name: str) -> Response:
    """alerter only: send a test notification through each integration of the receiver and
    answer with each one's verdict (app.notify.receivertest); 404 for an unknown receiver."""
    snapshot = _rt().snapshot
    receiver = snapshot.config.receivers.get(name)
    if receiver is None:
        return error_response(f"receiver {name!r} not found", 404)
    answers = try_receiver(receiver, snapshot.templates, _rt().external_url)
    return json_response([a.to_api() for a in answers])


@bp.get("/status")
def get_status() -> Response:
    rt = _rt()
    cluster: dict[str, Any] = {"status": "disabled", "peers": []}
    if rt.membership is not None:
        peers = rt.membership.peers()
        # "ready" once this process's own heartbeat is visible in Redis, as a settled member.
        settled = any(p.name == rt.membership.name for p in peers)
        cluster = {
            "name": rt.membership.name,
            "status": "ready" if settled else "settling",
            "peers": [{**p.to_api(), "role": p.role, "configHash": p.config_hash} for p in peers],
        }
    return json_response(
        {
            "cluster": cluster,
            "config": {"original": rt.config.redacted_yaml()},
            "uptime": format_rfc3339(rt.started_at),
            "versionInfo": version_info(),
        }
    )


@bp.get("/silences")
def get_silences() -> Response:
    rt = _rt()
    matchers = _filter_matchers()
    now = time.time()
    # Alertmanager filters silences by matching the filter against the silence's own matchers
    # read as a label set.
    chosen = [s for s in rt.silences.all() if matches_all(matchers, {m.name: m.value for m in s.matchers})]
    return json_response([s.to_api(now) for s in sort_for_api(chosen, now)])


@bp.post("/silences")
def post_silences() -> Response:
    rt = _rt()
    data = request.get_data()
    if not data:
        return error_response("silence in body is required", 422)
    try:
        body = orjson.loads(data)
        silence = silence_from_api(body, rt.silences.retention, rt.settings.classic_mode)
        sid = rt.silences.set(silence)
    except orjson.JSONDecodeError as err:
        return error_response(f"malformed JSON in request body: {err}", 400)
    except SilenceSchemaError as err:
        return error_response(str(err), 422)
    except SilenceError as err:
        return error_response(str(err), 400)
    except SilenceNotFound as err:
        return error_response(str(err), 404)
    except WriteNotDurable as err:
        return error_response(str(err), 500)
    return json_response({"silenceID": sid})


# go-openapi's `uuid` format, which Alertmanager's path parameter silenceID has.
_UUID = re.compile(r"[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}", re.IGNORECASE)


class BadSilenceID(ValueError):
    """A silence id that is no UUID: Alertmanager's generated server answers 422."""


@bp.errorhandler(BadSilenceID)
def bad_silence_id(err: BadSilenceID) -> Response:
    return error_response(str(err), 422)


def _check_silence_id(sid: str) -> None:
    if not _UUID.fullmatch(sid):
        raise BadSilenceID(
            f"silenceID in path must be of type uuid: {sid!r}; silence ids look like {uuid.UUID(int=0)}"
        )


@bp.get("/silence/<sid>")
def get_silence(sid: str) -> Response:
    rt = _rt()
    _check_silence_id(sid)
    try:
        return json_response(rt.silences.get(sid).to_api(time.time()))
    except SilenceNotFound as err:
        return error_response(str(err), 404)


@bp.delete("/silence/<sid>")
def delete_silence(sid: str) -> Response:
    """Expire the silence; expiring one already expired changes nothing and is a 200, as in
    Alertmanager. The 200 has no body and so no Content-Type, as Alertmanager answers."""
    rt = _rt()
    _check_silence_id(sid)
    try:
        rt.silences.expire(sid)
    except SilenceNotFound as err:
        return error_response(str(err), 404)
    except (SilenceError, WriteNotDurable) as err:
        return error_response(str(err), 500)
    return _empty_ok()


def _empty_ok() -> Response:
    response = Response(status=200)
    del response.headers["Content-Type"]
    return response
