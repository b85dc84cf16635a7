"""Route labels: a route's `labels`, rendered as templates against the alerts of a group.

Alertmanager (0.33+) lets a route carry `labels`, merged with its parent's (app.config.build does
that), whose values may be Go templates. They are rendered against the group's data when it
flushes (the receiver, group labels and alerts; `.RouteLabels` there are the labels as written,
and the notification reason is "unknown"), and a value may name another route label with
`{{ routeLabels "x" }}`, which renders that one first. The rendered labels travel with the
notification: templates see them as `.RouteLabels` (and `routeLabels "x"` returns them as
rendered), the webhook sends them as `routeLabels`, and the API shows them on its alert groups.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from msgspec.structs import replace

from app.gotemplate.errors import FuncError
from app.notify.message import REASON_UNKNOWN, Notification
from app.template.data import template_data
from app.template.templates import RenderError, Templates

log = logging.getLogger(__name__)


def render_route_labels(templates: Templates, labels: Mapping[str, str], n: Notification) -> dict[str, str]:
    """The route labels rendered against the group's data; `n` holds the group's receiver, group
    labels and the alerts to render against (all the flush's alerts, as Alertmanager renders
    them before any integration's send_resolved leaves some out).

    A label whose template fails (or names itself through others) is left out and logged, as
    Alertmanager does; the others are still rendered. Each label is rendered once, however many
    others name it.
    """
    if not labels:
        return {}
    data = template_data(replace(n, route_labels=dict(labels), notification_reason=REASON_UNKNOWN))
    rendered: dict[str, str] = {}
    in_progress: list[str] = []

    def resolve(name: str) -> str:
        if name not in labels:
            return ""
        if name in rendered:
            return rendered[name]
        if name in in_progress:
            raise FuncError(f"route label cycle detected: {' -> '.join([*in_progress, name])}")
        in_progress.append(name)
        try:
            value = templates.render(labels[name], data, html=False, route_labels=resolve)
        except RenderError as err:
            raise FuncError(str(err)) from None
        finally:
            in_progress.pop()
        rendered[name] = value
        return value

    out: dict[str, str] = {}
    for name in labels:
        try:
            out[name] = resolve(name)
        except FuncError as err:
            log.error(
                "failed to render route label",
                extra={"fields": {"group": n.group_key, "label": name, "err": str(err)}},
            )
    return out
