"""An integration's config as the loader builds it, for tests that call a sender directly.

    cfg = raw_integration("jira", {"project": "OPS", "issue_type": "Bug"}, {"jira_api_url": url})

Going through `load_config` gives the sender what it gets in production: the validated values,
Alertmanager's defaults (send_resolved, the global http_config) and the global section.
"""

from __future__ import annotations

from typing import Any

import yaml

from app.config import RawIntegration, load_config


def raw_integration(
    kind: str, item: dict[str, Any], global_section: dict[str, Any] | None = None
) -> RawIntegration:
    """The one `<kind>_configs` item of a receiver named "team", loaded; raises ConfigError."""
    doc = {
        "global": global_section or {},
        "route": {"receiver": "team"},
        "receivers": [{"name": "team", f"{kind}_configs": [item]}],
    }
    config = load_config(yaml.safe_dump(doc, sort_keys=False))
    return config.receivers["team"].raw_integrations[f"{kind}_configs"][0]
