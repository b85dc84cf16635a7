"""The check that every receiver integration of a config can be delivered.

alertmanager.yml may name any integration Alertmanager knows; alerter loads it only when a sender
is registered for each one it uses (`app.notify.integrations.supported`). A config with one that
alerter cannot deliver is refused where configs are loaded (start, reload) and by
`alerter check-config`, naming the receiver and the integration, rather than loaded and left
silent: a notification that never leaves is worse than a config that does not load.
"""

from __future__ import annotations

from app.config import Config, ConfigError
from app.gostrings import go_quote
from app.notify.integrations import supported


def undeliverable(config: Config) -> list[str]:
    """What cannot be delivered: one sentence per receiver and integration kind, in file order."""
    problems: list[str] = []
    for receiver in config.receivers.values():
        kinds = dict.fromkeys(kind for kind, _, _ in receiver.integrations() if not supported(kind))
        problems += [
            f"receiver {go_quote(receiver.name)}: alerter cannot deliver {kind}_configs (no {kind} "
            f"integration in this alerter); remove {kind}_configs from the receiver or run an alerter "
            "release that delivers it"
            for kind in kinds
        ]
    return problems


def require_deliverable(config: Config) -> None:
    """Raise ConfigError when some receiver integration of `config` cannot be delivered."""
    problems = undeliverable(config)
    if problems:
        raise ConfigError("; ".join(problems))
