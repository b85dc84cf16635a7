"""Whole-config checks: Alertmanager's Config.UnmarshalYAML, in its order, over the decoded values.

They need every section decoded (a receiver's SMTP settings depend on the global ones, routes name
receivers and time intervals) and run before the model is built, so that the first failure
reported is the one Alertmanager reports.
"""

from __future__ import annotations

from typing import Any

from app.config.addresses import host_or, join_host_port
from app.config.global_section import global_pair_problems
from app.config.integrations import INTEGRATIONS, global_default_problem
from app.config.reader import fail_on
from app.gostrings import go_quote


def _email_problem(email: dict[str, Any], g: dict[str, Any]) -> str | None:
    if not join_host_port(host_or(email.get("smarthost"), g.get("smtp_smarthost") or ("", 0))):
        return "no global SMTP smarthost set"
    if not (email.get("from") or g.get("smtp_from")):
        return "no global SMTP from set"
    return None


def _receiver_problem(receiver: dict[str, Any], g: dict[str, Any]) -> str | None:
    for webhook in receiver.get("webhook_configs") or []:
        if webhook is None:
            return "missing webhook config"
    for email in receiver.get("email_configs") or []:
        if email is None:
            return "missing email config"
        if problem := _email_problem(email, g):
            return problem
    for key, spec in INTEGRATIONS.items():
        for item in receiver.get(key) or []:
            if item is None and spec.nil_error:
                return spec.nil_error
            if problem := global_default_problem(key, item or {}, g):
                return problem
    return None


def _walk_drafts(route: dict[str, Any]) -> list[dict[str, Any]]:
    """Routes children-first, the order in which Alertmanager reports undefined references."""
    out: list[dict[str, Any]] = []
    for child in route.get("routes") or []:
        out += _walk_drafts(child or {})
    out.append(route)
    return out


def _route_problem(route: dict[str, Any] | None, receiver_names: set[str]) -> str | None:
    if route is None:
        return "no routes provided"
    if not route.get("receiver"):
        return "root route must specify a default receiver"
    if route.get("match") or route.get("match_re") or route.get("matchers"):
        return "root route must not have any matchers"
    if route.get("mute_time_intervals"):
        return "root route must not have any mute time intervals"
    if route.get("active_time_intervals"):
        return "root route must not have any active time intervals"
    for node in _walk_drafts(route):
        name = node.get("receiver")
        if name and name not in receiver_names:
            return f"undefined receiver {go_quote(name)} used in route"
    return None


def _interval_names(doc: dict[str, Any]) -> set[str]:
    names: set[str] = set()
    for key, noun in (("mute_time_intervals", "mute time interval"), ("time_intervals", "time interval")):
        for item in doc.get(key) or []:
            name = (item or {}).get("name", "")
            fail_on(f"{noun} {go_quote(name)} is not unique" if name in names else None)
            names.add(name)
    return names


def _interval_problem(route: dict[str, Any], names: set[str]) -> str | None:
    for node in _walk_drafts(route):
        for name in (node.get("active_time_intervals") or []) + (node.get("mute_time_intervals") or []):
            if name not in names:
                return f"undefined time interval {go_quote(name)} used in route"
    return None


def validate(doc: dict[str, Any]) -> None:
    """The whole-config checks, in Alertmanager's order; the first failure is reported."""
    g = doc.get("global") or {}
    fail_on(global_pair_problems(g))
    names: set[str] = set()
    for receiver in doc.get("receivers") or []:
        receiver = receiver or {}
        name = receiver.get("name", "")
        fail_on(f"notification config name {go_quote(name)} is not unique" if name in names else None)
        fail_on(_receiver_problem(receiver, g))
        names.add(name)
    route = doc.get("route")
    fail_on(_route_problem(route, names))
    assert route is not None
    fail_on(_interval_problem(route, _interval_names(doc)))
    fail_on("cannot have continue in root route" if route.get("continue") else None)
