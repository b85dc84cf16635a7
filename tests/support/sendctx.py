"""The SendContext an integration gets from the notifier, for tests that call a sender directly."""

from __future__ import annotations

from app.notify.integrations import SendContext
from app.template import Templates


def send_ctx(timeout: float, templates: Templates | None = None) -> SendContext:
    """A context with `timeout` seconds and the given templates (alerter's defaults only if none)."""
    return SendContext(templates if templates is not None else Templates(), timeout)
