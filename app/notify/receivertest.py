"""Receiver tests (alerter only): one synthetic notification through every integration of a
receiver, each integration's answer reported, so that an operator checks credentials, URLs and
templates before an incident needs them.

The notification is one firing alert `AlerterReceiverTest` whose labels and annotations say it
is a test (as Grafana's contact point test does), in a group of its own per receiver, so a Jira
receiver updates one test issue rather than opening a new one each time. Each integration's
sender is called directly, once, all of them at the same time: no notification log, no
deduplication, no retries, no send_resolved filter. `alerter receiver test NAME` and
POST /api/v2/receivers/NAME/test use it.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from app.alerts import Alert
from app.config import Receiver
from app.gostrings import go_quote
from app.labels import fingerprint
from app.notify.errors import NotifyError
from app.notify.integrations import SendContext, sender_for
from app.notify.message import Notification
from app.template import Templates

log = logging.getLogger(__name__)

ALERTNAME = "AlerterReceiverTest"
# How long each integration may take: they run at once, so the whole test takes about this long
# at most (under gunicorn's 30-second worker timeout).
TIMEOUT = 10.0


@dataclass(frozen=True)
class IntegrationAnswer:
    """What one integration of the receiver answered: nothing (delivered) or the error."""

    integration: str
    index: int
    error: str | None

    @property
    def ok(self) -> bool:
        return self.error is None

    def line(self) -> str:
        return f"{self.integration}[{self.index}]: {'ok' if self.error is None else self.error}"

    def to_api(self) -> dict[str, Any]:
        return {"integration": self.integration, "index": self.index, "ok": self.ok, "error": self.error}


def synthetic_notification(receiver: str, external_url: str, now: float) -> Notification:
    """The test notification for `receiver`: one firing alert that says what it is."""
    labels = {"alertname": ALERTNAME, "instance": "alerter", "receiver": receiver}
    alert = Alert(
        labels=labels,
        annotations={
            "summary": f"Test notification for receiver {receiver}",
            "description": "Sent by `alerter receiver test` to check this receiver's settings; "
            "it is not an incident and needs no action.",
        },
        starts_at=now,
        ends_at=now + 3600,
        generator_url=external_url,
        fingerprint=fingerprint(labels),
    )
    group_key = (
        f"{{}}/alerter-receiver-test:{{alertname={go_quote(ALERTNAME)}, receiver={go_quote(receiver)}}}"
    )
    return Notification.build(receiver, group_key, {"alertname": ALERTNAME}, [alert], now, external_url)


def _try(kind: str, index: int, config: Any, n: Notification, ctx: SendContext) -> IntegrationAnswer:
    try:
        sender_for(kind)(config, n, ctx)
    except NotifyError as err:
        answer = IntegrationAnswer(kind, index, str(err))
    except Exception:
        log.exception("receiver test: the integration failed", extra={"fields": {"receiver": n.receiver}})
        answer = IntegrationAnswer(kind, index, "internal error in alerter; see its log")
    else:
        answer = IntegrationAnswer(kind, index, None)
    log.info(
        "receiver test",
        extra={
            "fields": {
                "receiver": n.receiver,
                "integration": f"{kind}[{index}]",
                "ok": answer.ok,
                **({"err": answer.error} if answer.error else {}),
            }
        },
    )
    return answer


def try_receiver(receiver: Receiver, templates: Templates, external_url: str) -> list[IntegrationAnswer]:
    """Send the test notification through each of the receiver's integrations (of a config
    loaded as a ConfigSnapshot, so each has a sender); their answers, in the order
    Receiver.integrations() lists them."""
    n = synthetic_notification(receiver.name, external_url, time.time())
    ctx = SendContext(templates, TIMEOUT)
    targets = receiver.integrations()
    if not targets:
        return []
    with ThreadPoolExecutor(max_workers=len(targets), thread_name_prefix="receiver-test") as pool:
        return list(pool.map(lambda t: _try(t[0], t[1], t[2], n, ctx), targets))
