"""Receiver integrations: one module per `*_configs` kind, each turning a notification into one
delivery.

An integration module registers its sender under the integration's name, the `*_configs` key of
the config model without `_configs` ("webhook", "slack"), with `@integration("slack")`; this
package imports every module in it, so the notification pipeline finds a sender through
`sender_for(name)` and imports no concrete integration. An integration whose requests may go
through the send pool's curl driver registers the steps of its send instead
(`@integration_steps("webhook")`, app/notify/steps.py); its plain sender is those steps run on
the calling thread. A new integration is one new module here
(its config is validated in `app/config/integrations.py` and reaches the sender as a
`RawIntegration`, or as a typed config class of its own, like email and webhook).
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import msgspec

from app.notify import steps
from app.notify.errors import NotifyError
from app.notify.message import Notification
from app.template import RenderError, Templates


class SendContext(msgspec.Struct, frozen=True):
    """What a sender needs beside its config and the notification: the config's templates and
    how long this attempt may take.

    A frozen msgspec Struct, built in C: one per send, and as a frozen dataclass it cost about
    2 us to build against 0.4 us (app/notify/message.py's classes likewise)."""

    templates: Templates
    timeout: float

    def render(self, text: str, data: Mapping[str, Any], what: str, html: bool = False) -> str:
        """Render one templated field; a template that fails is a permanent NotifyError naming
        the integration's field."""
        try:
            return self.templates.render(text, data, html)
        except RenderError as err:
            raise NotifyError(f"cannot render the {what} template: {err}", retryable=False) from None


Send = Callable[[Any, Notification, SendContext], None]
SendT = TypeVar("SendT", bound=Callable[..., None])

SendSteps = Callable[[Any, Notification, SendContext], steps.Steps[None]]

SENDERS: dict[str, Send] = {}


def integration(name: str) -> Callable[[SendT], SendT]:
    """Register the decorated function as the sender of integration `name` ("slack")."""

    def register(send: SendT) -> SendT:
        SENDERS[name] = send
        return send

    return register


def integration_steps(name: str) -> Callable[[SendSteps], Send]:
    """Register the decorated generator as the steps of integration `name`'s send: its sender
    is those steps run on the calling thread, and carries them as `steps` (so that a sender put
    in their place, a test's, is called as it is). The sender replaces the generator in its
    module."""

    def register(send_steps: SendSteps) -> Send:
        @functools.wraps(send_steps)
        def send(cfg: Any, n: Notification, ctx: SendContext) -> None:
            steps.run(send_steps(cfg, n, ctx))

        send.steps = send_steps  # type: ignore[attr-defined]
        SENDERS[name] = send
        return send

    return register


def steps_for(name: str) -> SendSteps | None:
    """The steps of integration `name`'s send, or None when it has a plain sender only."""
    return getattr(SENDERS[name], "steps", None)


def sender_for(name: str) -> Send:
    """The sender registered for integration `name`; KeyError for one with none."""
    return SENDERS[name]


def supported(name: str) -> bool:
    """Whether some integration module delivers integration `name`."""
    return name in SENDERS


for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")
