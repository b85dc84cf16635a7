"""`alerter check-config FILE...`: amtool check-config's verdict and report for alertmanager.yml.

The report has amtool's shape so that scripts and habits carry over:

    Checking 'alertmanager.yml'  SUCCESS
    Found:
     - global config
     - route
     - 0 inhibit rules
     - 1 receivers
     - 1 templates
      SUCCESS

A file that does not load reads `Checking 'FILE'  FAILED: <Alertmanager's message>`; so does one
naming a receiver integration alerter cannot deliver, which alerter would refuse to load. Template
files are read and parsed as Go templates, as Alertmanager parses them when it loads the config
(`app.template.check`), so a parse error fails the check with the file and line it is on.
"""

from __future__ import annotations

from app import template
from app.config import Config, ConfigError, load_config_file
from app.matchers import MODE_FALLBACK
from app.notify.deliverable import require_deliverable


def _summary(config: Config) -> tuple[list[str], bool]:
    lines = [
        "Found:",
        " - global config",
        " - route",
        f" - {len(config.inhibit_rules)} inhibit rules",
        f" - {len(config.receivers)} receivers",
        f" - {len(config.templates)} templates",
    ]
    if not config.templates:
        return lines, True
    problem = template.check(config.templates)
    lines.append(f"  FAILED: {problem}" if problem else "  SUCCESS")
    return lines, problem is None


def check_config(paths: list[str], matcher_mode: str = MODE_FALLBACK) -> tuple[str, bool]:
    """Check each file like `amtool check-config`; return (report, every file passed)."""
    lines: list[str] = []
    ok = True
    for path in paths:
        try:
            config = load_config_file(path, matcher_mode=matcher_mode)
            require_deliverable(config)
        except ConfigError as err:
            lines += [f"Checking '{path}'  FAILED: {err}", ""]
            ok = False
            continue
        summary, templates_ok = _summary(config)
        lines += [f"Checking '{path}'  SUCCESS", *summary, ""]
        ok = ok and templates_ok
    return "\n".join(lines), ok
