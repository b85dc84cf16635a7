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

A file that does not load reads `Checking 'FILE'  FAILED: <Alertmanager's message>`. Template
files are read and checked for the structural mistakes Go's template parser always refuses
(unclosed actions, unbalanced `{{ end }}`); alerter does not run Go templates, so a deeper check
would not match what it renders.
"""

from __future__ import annotations

import glob
import os
import re

from app.config import Config, ConfigError, load_config_file
from app.matchers import MODE_FALLBACK

_ACTION = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
_OPENERS = frozenset({"if", "range", "with", "define", "block"})


def _action_keyword(body: str) -> str:
    """The leading keyword of a template action, with trim markers and comments ignored."""
    body = body.removeprefix("-").removesuffix("-").strip()
    if body.startswith("/*"):
        return ""
    return body.split(None, 1)[0] if body else ""


def _template_problem(path: str, text: str) -> str | None:
    """The first structural error Go's text/template would report for this file, if any."""
    name = os.path.basename(path)
    depth: list[int] = []
    position = 0
    for action in _ACTION.finditer(text):
        if "{{" in text[position : action.start()]:
            break
        position = action.end()
        line = text.count("\n", 0, action.start()) + 1
        keyword = _action_keyword(action.group(1))
        if keyword in _OPENERS:
            depth.append(line)
        elif keyword == "end":
            if not depth:
                return f"template: {name}:{line}: unexpected {{{{end}}}}"
            depth.pop()
    last_line = text.count("\n") + 1
    if "{{" in text[position:]:
        line = text.count("\n", 0, text.index("{{", position)) + 1
        return f"template: {name}:{last_line}: unclosed action started at {name}:{line}"
    if depth:
        return f"template: {name}:{last_line}: unexpected EOF"
    return None


def check_templates(patterns: list[str]) -> str | None:
    """Read every file the template globs match; the first problem found, or None."""
    for pattern in patterns:
        for path in sorted(glob.glob(pattern, include_hidden=True)):
            try:
                with open(path, encoding="utf-8") as handle:
                    text = handle.read()
            except OSError as err:
                return f"open {path}: {(err.strerror or str(err)).lower()}"
            except UnicodeDecodeError:
                return f"read {path}: the file is not valid UTF-8"
            if problem := _template_problem(path, text):
                return problem
    return None


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
    problem = check_templates(config.templates)
    lines.append(f"  FAILED: {problem}" if problem else "  SUCCESS")
    return lines, problem is None


def check_config(paths: list[str], matcher_mode: str = MODE_FALLBACK) -> tuple[str, bool]:
    """Check each file like `amtool check-config`; return (report, every file passed)."""
    lines: list[str] = []
    ok = True
    for path in paths:
        try:
            config = load_config_file(path, matcher_mode=matcher_mode)
        except ConfigError as err:
            lines += [f"Checking '{path}'  FAILED: {err}", ""]
            ok = False
            continue
        summary, templates_ok = _summary(config)
        lines += [f"Checking '{path}'  SUCCESS", *summary, ""]
        ok = ok and templates_ok
    return "\n".join(lines), ok
