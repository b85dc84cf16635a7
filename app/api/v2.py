"""Alertmanager API v2: the same paths, JSON shapes and status codes (docs/openapi.yaml)."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cmp_to_key
from typing import Any

import orjson
from flask import Blueprint, Response, current_app, request

from app import version_info
from app.alerts import Alert
from app.api.ingest import ingest
from app.api.postable_silence import SilenceSchemaError, silence_from_api
from app.config import Config, Route
from app.durability import WriteNotDurable
from app.gcpause import gc_paused
from app.matchers import Matcher, matches_all, parse_matcher
from app.notify.message import Notification
from app.notify.receivertest import try_receiver
from app.regex import Regex, RegexError, compile_anchored
from app.route import find_route
from app.runtime import Runtime
from app.silence import ACTIVE, EXPIRED, PENDING, Silence, SilenceError, SilenceNotFound, sort_for_api
from app.snapshot import ConfigSnapshot
from app.store import GroupState
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
    return _matchers_arg("filter", "bad matcher format")


def _matchers_arg(name: str, problem: str) -> list[Matcher]:
    """The matchers of a repeated query parameter; one that does not parse is a 400 that starts
    with `problem` and names it."""
    matchers = []
    for text in request.args.getlist(name):
        try:
            matchers.append(parse_matcher(text))
        except ValueError as err:
            raise BadQuery(f"{problem}: {text}: {err}") from None
    return matchers


def _matches_filter_labels(matchers: list[Matcher], labels: Mapping[str, str]) -> bool:
    """Alertmanager's matchFilterLabels, with which its API matches `receiver_matchers` against a
    receiver's labels. It differs from plain matching in one case only, which alert labels never
    hit (an alert drops its empty values) but receiver labels can: a negative matcher with an
    empty value (`owner!=""`) matches a label that is present, even with the empty value."""
    for m in matchers:
        present = m.name in labels
        if m.op in ("!=", "!~") and m.value == "" and present:
            continue
        if not m.matches(labels.get(m.name, "")):
            return False
    return True


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


def _gettable(
    alert: Alert, receivers: list[str], silences: list[Silence], now: float
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The alert as the API shows it, and its status as the filters read it: silences and
    inhibitions found now (Alertmanager predicts them per request too), no time intervals."""
    out = alert.api_fields()
    out["receivers"] = [{"name": r} for r in receivers]
    out["updatedAt"] = format_rfc3339(alert.updated_at)
    silenced_by = sorted(s.id for s in silences if s.mutes(alert.labels, now))
    inhibited_by = _rt().inhibitor.inhibited_by(alert.labels, now)
    state = "suppressed" if silenced_by or inhibited_by else "active"
    out["status"] = {"state": state, "silencedBy": silenced_by, "inhibitedBy": inhibited_by, "mutedBy": []}
    return out, out["status"]


class _AlertFilter:
    """The query parameters shared by GET /alerts and GET /alerts/groups."""

    def __init__(self) -> None:
        self.active = _bool_arg("active")
        self.silenced = _bool_arg("silenced")
        self.inhibited = _bool_arg("inhibited")
        self.unprocessed = _bool_arg("unprocessed")
        self.matchers = _filter_matchers()
        self.receiver = _receiver_regex()
        self.receiver_matchers = _matchers_arg("receiver_matchers", "failed to parse receiver_matchers param")

    def accepts_receivers(self, receivers: list[str], config: Config) -> bool:
        """`receiver` (a regex) and `receiver_matchers` (0.34+, on the receivers' `labels`): each
        must hold for one of the receivers, not necessarily the same one, as in Alertmanager."""
        if self.receiver and not any(self.receiver.search(r) for r in receivers):
            return False
        if not self.receiver_matchers:
            return True
        known = config.receivers
        return any(
            name in known and _matches_filter_labels(self.receiver_matchers, known[name].labels)
            for name in receivers
        )

    def accepts(self, alert: Alert, status: dict[str, Any], now: float) -> bool:
        if alert.resolved(now):
            return False
        if not matches_all(self.matchers, alert.labels):
            return False
        if not self.active and status["state"] == "active":
            return False
        if not self.unprocessed and status["state"] == "unprocessed":
            return False
        if not self.silenced and status["silencedBy"]:
            return False
        return self.inhibited or not status["inhibitedBy"]


@bp.get("/alerts")
def get_alerts() -> Response:
    """Alerts with their status now. `mutedBy` is always empty here, as in Alertmanager: time
    intervals mute a group, and an alert of this list belongs to none in particular."""
    rt = _rt()
    flt = _AlertFilter()
    now = time.time()
    silences = rt.silences.all()
    config = rt.config
    out = []
    with gc_paused():
        for alert in sorted(rt.store.alerts(), key=lambda a: a.fingerprint):
            receivers = rt.dispatcher.receivers_for(alert.labels)
            if not flt.accepts_receivers(receivers, config):
                continue
            gettable, status = _gettable(alert, receivers, silences, now)
            if flt.accepts(alert, status, now):
                out.append(gettable)
        return json_response(out)


@dataclass
class _ShownGroup:
    group: GroupState
    route: Route | None
    receiver: str
    alerts: list[tuple[Alert, dict[str, Any]]]  # each with its gettable form


@bp.get("/alerts/groups")
def get_alert_groups() -> Response:
    """Alertmanager's GetAlertGroups: groups whose route's receiver passes `receiver` and
    `receiver_matchers`, each with its alerts that pass the other filters (a group left with
    none is not shown), then without the groups its time intervals muted when `muted=false`.

    As there, an alert's `receivers` are the receivers of every group shown that holds it (the
    groups `muted=false` leaves out included), and a group muted by time intervals shows their
    names as its alerts' `mutedBy`, which makes them `suppressed`; the filters read the status
    before that, so `active=false` still leaves such an alert out.
    """
    rt = _rt()
    flt = _AlertFilter()
    show_muted = _bool_arg("muted")
    now = time.time()
    silences = rt.silences.all()
    snapshot = rt.snapshot
    shown: list[_ShownGroup] = []
    with gc_paused():
        for group in rt.store.load_groups(rt.store.group_ids()):
            # After a reload the route's receiver in the config in effect is the one that gets told.
            route = find_route(snapshot.config.route, group.route_id)
            receiver = route.receiver if route is not None else group.receiver
            if not flt.accepts_receivers([receiver], snapshot.config):
                continue
            alerts = []
            for alert in sorted(group.alerts, key=lambda a: a.fingerprint):
                gettable, status = _gettable(alert, [], silences, now)
                if flt.accepts(alert, status, now):
                    alerts.append((alert, gettable))
            if alerts:
                shown.append(_ShownGroup(group, route, receiver, alerts))
        receivers: dict[str, set[str]] = {}
        for sg in shown:
            for alert, _ in sg.alerts:
                receivers.setdefault(alert.fingerprint, set()).add(sg.receiver)
        out = []
        for sg in sorted(shown, key=cmp_to_key(_group_order)):
            muted_by = sg.group.muted_by
            if muted_by and not show_muted:
                continue
            for alert, gettable in sg.alerts:
                gettable["receivers"] = [{"name": r} for r in sorted(receivers[alert.fingerprint])]
                if muted_by:
                    status = {**gettable["status"], "state": "suppressed", "mutedBy": list(muted_by)}
                    gettable["status"] = status
            out.append(
                {
                    "labels": sg.group.labels,
                    "receiver": {"name": sg.receiver},
                    "alerts": [gettable for _, gettable in sg.alerts],
                    "routeLabels": _route_labels(sg, snapshot, now),
                }
            )
        return json_response(out)


def _route_labels(sg: _ShownGroup, snapshot: ConfigSnapshot, now: float) -> dict[str, str]:
    """The route's labels rendered as Alertmanager renders them for the API: against all the
    group's alerts, filtered or not."""
    if sg.route is None or not sg.route.labels:
        return {}
    rt = _rt()
    group = sg.group
    n = Notification.build(sg.receiver, group.key, group.labels, group.alerts, now, rt.external_url)
    return render_route_labels(snapshot.templates, sg.route.labels, n)


def _group_order(a: _ShownGroup, b: _ShownGroup) -> int:
    """Alertmanager's order of alert groups: by labels (LabelSet.Before: fewer labels first,
    then at the first label name, in order, that the two differ on, the set without it first,
    else the smaller value), then by receiver."""
    la, lb = a.group.labels, b.group.labels
    if la == lb:
        return (a.receiver > b.receiver) - (a.receiver < b.receiver)
    if len(la) != len(lb):
        return -1 if len(la) < len(lb) else 1
    for name in sorted(la.keys() | lb.keys()):
        if name not in la:
            return -1
        if name not in lb:
            return 1
        if la[name] != lb[name]:
            return -1 if la[name] < lb[name] else 1
    return 0


@bp.get("/receivers")
def get_receivers() -> Response:
    """Every receiver with its `labels` (0.33+: the config's, with `name` always set), those
    whose labels match every `receiver_matchers` matcher."""
    matchers = _matchers_arg("receiver_matchers", "failed to parse receiver_matchers param")
    return json_response(
        [
            {"name": r.name, "labels": r.labels}
            for r in _rt().config.receivers.values()
            if _matches_filter_labels(matchers, r.labels)
        ]
    )


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
    """Silences whose own matchers include every `filter` matcher (same name, operator and
    value: Alertmanager compares matchers, it does not match the filter against anything, so
    `alertname=~"D.*"` does not find a silence on `alertname="Disk"`), in the states the
    `active`, `pending` and `expired` parameters (0.34+, each true by default) keep."""
    rt = _rt()
    matchers = _filter_matchers()
    states = {state for state in (ACTIVE, PENDING, EXPIRED) if _bool_arg(state)}
    now = time.time()
    chosen = [
        s for s in rt.silences.all() if s.state(now) in states and all(m in s.matchers for m in matchers)
    ]
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
