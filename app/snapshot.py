"""One loaded configuration: the parsed alertmanager.yml and the templates it names, as a unit.

A reload builds a whole new snapshot and swaps it in with one assignment, so that a flush or a
request sees one config and the templates loaded with it, never the config of one load with the
templates of another. The routing tree is part of the config (`config.route`); caches keyed on
the snapshot (the dispatcher's route lookups) start afresh with each one.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from app import metrics
from app.config import Config, ConfigError, load_config_file
from app.notify.deliverable import require_deliverable
from app.settings import Settings
from app.template import TemplateLoadError, Templates

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ConfigSnapshot:
    config: Config
    templates: Templates

    @classmethod
    def load(cls, settings: Settings) -> ConfigSnapshot:
        """Load --config.file and the template files it names, and record the success in the
        reload metrics; raises ConfigError (a receiver integration alerter cannot deliver
        included), TemplateLoadError or OSError (callers decide what that means)."""
        config = load_config_file(settings.config_file, matcher_mode=settings.matcher_mode)
        require_deliverable(config)
        snapshot = cls(config, Templates.from_globs(config.templates))
        metrics.config_applied(config)
        return snapshot


def reload_snapshot(settings: Settings) -> tuple[ConfigSnapshot | None, str | None]:
    """Reload for SIGHUP and /-/reload: (new snapshot, None), or (None, error) with the error
    logged and counted, so that the caller keeps its previous snapshot."""
    try:
        new = ConfigSnapshot.load(settings)
    except (ConfigError, TemplateLoadError, OSError) as err:
        metrics.config_last_reload_success().set(0)
        log.error(
            "loading the configuration file failed; the previous configuration stays in effect",
            extra={"fields": {"file": settings.config_file, "err": str(err)}},
        )
        return None, str(err)
    log.info("completed loading of configuration file", extra={"fields": {"file": settings.config_file}})
    return new, None
