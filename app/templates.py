"""Notification templates: Jinja2 in a sandbox, with alerter's defaults and the operator's files.

alerter renders every template (email subject, bodies, headers, to/from) with Jinja2, not with Go's
text/template: **custom Go templates are not interpreted**. A Go action such as
`{{ .CommonLabels.alertname }}` is read as Jinja2 and fails to render, and the notification fails
with a message that says so. The one exception is the references Alertmanager's own defaults use,
`{{ template "email.default.subject" . }}` and `{{ template "email.default.html" . }}` (and the
`__subject` it is built on): wherever they appear in a template they render alerter's defaults from
config/templates/, so an alertmanager.yml that relies on Alertmanager's defaults works unchanged.
Alertmanager has no `email.default.text`, so a reference to it is an error here too.

Templates see the data of `app.notification.template_data` (Alertmanager's field names:
`Status`, `Alerts.Firing`, `GroupLabels.SortedPairs`, ...). Label and annotation values are data:
they are never evaluated as templates, so `{{ 7*7 }}` inside a label value stays literal, and in
HTML bodies every value is autoescaped. The sandbox (immutable: templates cannot change the data
either) keeps a template from reaching Python internals.

The operator's template files (the config's `templates:` globs) are loaded as Jinja2 templates
named by their file name, for `{% include %}`, `{% import %}` and `{% extends %}`; a template
text that is exactly such a name renders that file. A file named like one of alerter's defaults
replaces it, as a later `define` does in Alertmanager.
"""

from __future__ import annotations

import glob
import os
import re
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus, urlsplit

from jinja2 import ChoiceLoader, DictLoader, FileSystemLoader, Template, TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

DEFAULTS_DIR = Path(__file__).resolve().parent.parent / "config" / "templates"

# Alertmanager's default template names that alerter renders with its own defaults.
GO_DEFAULTS = {
    "email.default.subject": "email.subject.j2",
    "__subject": "email.subject.j2",
    "email.default.html": "email.html.j2",
}

_GO_REFERENCE = re.compile(r'\{\{(-?)\s*template\s+"([^"]*)"\s+\.\s*(-?)\}\}')
_GO_SYNTAX = re.compile(r"\{\{-?\s*(\.|(template|define|range|with|if|else|end)\b)")
_SAFE_SCHEMES = frozenset({"http", "https", "mailto"})


class RenderError(Exception):
    """A template that does not compile or render; the message says which and why."""


class TemplateLoadError(Exception):
    """An operator template file that cannot be read."""


def _go_references_to_jinja(text: str) -> str:
    """Rewrite references to Alertmanager's default templates as Jinja2 includes.

    Trim markers carry over (`{{- template ... -}}` trims like `{%- include ... -%}`); references
    to any other Go template are left alone and fail to compile as Jinja2.
    """

    def include(m: re.Match[str]) -> str:
        target = GO_DEFAULTS.get(m.group(2))
        if target is None:
            return m.group(0)
        return f'{{%{m.group(1)} include "{target}" {m.group(3)}%}}'

    return _GO_REFERENCE.sub(include, text)


def _safe_href(url: str) -> str:
    """A URL fit for an href: http(s) and mailto links pass, anything else (javascript:, data:)
    becomes "#", as Go's html/template does with URLs it does not trust."""
    scheme = urlsplit(str(url)).scheme.lower()
    return str(url) if scheme in _SAFE_SCHEMES else "#"


class Templates:
    """alerter's defaults plus one config's template files, compiled on first use."""

    def __init__(self, files: Mapping[str, str] | None = None) -> None:
        self.names = frozenset(files or ()) | frozenset(p.name for p in DEFAULTS_DIR.glob("*.j2"))
        loader = ChoiceLoader([DictLoader(dict(files or {})), FileSystemLoader(DEFAULTS_DIR)])
        self._envs = {
            html: ImmutableSandboxedEnvironment(loader=loader, autoescape=html, auto_reload=False)
            for html in (False, True)
        }
        for env in self._envs.values():
            env.filters["urlquery"] = quote_plus  # Go's urlquery, used for the receiver link
            env.filters["safe_href"] = _safe_href
        self._compile = lru_cache(maxsize=256)(self._compile_text)

    def _compile_text(self, text: str, html: bool) -> Template:
        return self._envs[html].from_string(_go_references_to_jinja(text))

    def render(self, text_or_name: str, data: Mapping[str, Any], html: bool) -> str:
        """Render a template text, or the loaded template of that name; raise RenderError."""
        try:
            if text_or_name in self.names:
                template = self._envs[html].get_template(text_or_name)
            else:
                template = self._compile(text_or_name, html)
            return template.render(data)
        except TemplateError as err:
            hint = ""
            if _GO_SYNTAX.search(text_or_name):
                hint = " (alerter renders templates with Jinja2 and does not run Go templates)"
            raise RenderError(f"{type(err).__name__}: {err}{hint}") from None


def read_template_files(patterns: list[str]) -> dict[str, str]:
    """The files matched by the config's `templates:` globs, by file name (later ones win).

    A glob that matches nothing is fine, as in Alertmanager.
    """
    files: dict[str, str] = {}
    for pattern in patterns:
        for path in sorted(glob.glob(pattern)):
            try:
                with open(path, encoding="utf-8") as handle:
                    files[os.path.basename(path)] = handle.read()
            except (OSError, UnicodeDecodeError) as err:
                raise TemplateLoadError(f"cannot read template file {path}: {err}") from None
    return files


_current = Templates()


def load(patterns: list[str]) -> None:
    """Use these template globs from now on (call on every config load and reload).

    Raises TemplateLoadError, leaving the templates in effect unchanged, when a file cannot be read.
    """
    global _current
    _current = Templates(read_template_files(patterns))


def render(template_text_or_name: str, data: Mapping[str, Any], html: bool) -> str:
    """Render with the templates in effect; HTML output is autoescaped. Raises RenderError."""
    return _current.render(template_text_or_name, data, html)
