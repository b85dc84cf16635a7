"""The error every integration raises for a delivery that failed."""

from __future__ import annotations


class NotifyError(Exception):
    """A delivery that failed, and whether trying again within this flush can help.

    The notification pipeline retries only `retryable` failures, following Alertmanager: network
    failures and server-side errors may pass, while a request the receiver refuses (HTTP 4xx, a
    permanent SMTP reply, a template that does not render) fails the same way every time.
    The message is logged as is, so it names what the operator should check and never holds a
    secret (credentials, or a webhook URL's path and query).
    """

    def __init__(self, message: str, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable
