"""The error every integration raises for a delivery that failed."""

from __future__ import annotations


class NotifyError(Exception):
    """A delivery that failed, and whether trying again can help.

    The notification pipeline retries only `retryable` failures, following Alertmanager: network
    failures and server-side errors may pass, while a request the receiver refuses (HTTP 4xx, a
    permanent SMTP reply, a template that does not render) fails the same way every time.
    The message is logged as is, so it names what the operator should check and never holds a
    secret (credentials, or a webhook URL's path and query).

    `reason` is the `reason` label of `alertmanager_notifications_failed_total` when the
    notification finally fails, with Alertmanager's values (`reason_for_status` for an HTTP
    answer; "other" for what has no status, a network failure or a template).
    """

    def __init__(self, message: str, retryable: bool, reason: str = "other") -> None:
        super().__init__(message)
        self.retryable = retryable
        self.reason = reason


def reason_for_status(code: int) -> str:
    """Alertmanager's failure reason for an HTTP status a receiver answered with."""
    if code in (401, 403):
        return "authError"
    if code == 429:
        return "rateLimited"
    if 400 <= code < 500:
        return "clientError"
    if 500 <= code < 600:
        return "serverError"
    return "other"
