"""Receiver integrations: one module per `*_configs` kind, each turning a notification into one
delivery.

An integration module registers its sender for its config class (from `app.config`) with
`@integration(ConfigClass)`; this package imports every module in it, so the notification
pipeline finds a sender through `sender_for(config)` and imports no concrete integration. A new
integration is one new module here (and its config class in `app.config`).
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from app.notify.errors import NotifyError
from app.notify.message import Notification
from app.template import RenderError, Templates


@dataclass(frozen=True)
class SendContext:
    """What a sender needs beside its config and the notification: the config's templates and
    how long this attempt may take."""

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

SENDERS: dict[type, Send] = {}


def integration(config_type: type) -> Callable[[SendT], SendT]:
    """Register the decorated function as the sender for `config_type`."""

    def register(send: SendT) -> SendT:
        SENDERS[config_type] = send
        return send

    return register


def sender_for(config: Any) -> Send:
    """The sender registered for this integration config; KeyError for a kind with none."""
    return SENDERS[type(config)]


def supported(config_type: type) -> bool:
    """Whether some integration module delivers configs of this type."""
    return config_type in SENDERS


for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")
