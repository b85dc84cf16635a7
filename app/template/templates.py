"""Notification templates: the operator's Go templates, and alerter's own defaults in Jinja2.

Every template an operator writes, a config field (email `headers`, `html`, `text`, `to`, `from`)
or a `templates:` file, is Go's text/template, as in Alertmanager, and runs in the sandboxed
interpreter of `app.gotemplate`.

One exception keeps configs written for earlier alerter releases, whose fields were Jinja2,
working: a config field that does not parse as a Go template but compiles as Jinja2
(`{{ Status|upper }}`, `{% for a in Alerts %}`) is rendered with Jinja2 in its immutable
sandbox, autoescaped for HTML. A field that is neither reports the Go parse error. Template
files are Go only.

The `templates:` files are parsed when the config loads (a file that does not parse fails the
load, and `alerter check-config` names it); their `define`s are available to every field, a
later file replacing an earlier definition as Alertmanager's globs do.

Alertmanager's default template names are alerter's own, in the package data under
app/template/defaults/ (read with importlib.resources, so a plain install carries them), so that an
alertmanager.yml and template files relying on Alertmanager's defaults work unchanged:
- the email defaults stay Jinja2, rendered in Jinja2's immutable sandbox: a Go
  `{{ template "NAME" . }}` of `email.default.subject`, `__subject` (the same subject rule, kept
  in one place) or `email.default.html` renders them and inserts their output as is (autoescaped
  for HTML);
- the helpers operators' templates call (`__alertmanager`, `__alertmanagerURL`, `__description`,
  `__text_alert_list`, `__text_alert_list_markdown`) are Go `define`s in defaults.gotmpl, loaded
  before the operator's files.
A `templates:` file that defines one of those names replaces it, as in Alertmanager. Alertmanager
has no `email.default.text`, so a reference to it is an error here too.

Templates see the data of `app.template.data.template_data` (Alertmanager's field names:
`.Status`, `.Alerts.Firing`, `.GroupLabels.SortedPairs`, ...). Label and annotation values are
data: they are never evaluated as templates, and in HTML bodies every value is escaped.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Mapping
from functools import lru_cache
from importlib.resources import files as package_files
from typing import Any
from urllib.parse import quote_plus, urlsplit

from jinja2 import FunctionLoader, Template, TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from app import gotemplate

# alerter's default templates ship inside the package (app/template/defaults/).
DEFAULTS = package_files("app.template") / "defaults"


def read_default(name: str) -> str:
    """The text of one of alerter's default template files."""
    return (DEFAULTS / name).read_text(encoding="utf-8")


# alerter's Go definitions of Alertmanager's default templates (defaults.gotmpl for the shared
# helpers, one file per integration beside it), parsed before the operator's files. Their names
# have a "/", which no file of a `templates:` glob (named by its base name) can have.
_GO_DEFAULTS = {
    f"alerter/{entry.name}": entry.read_text(encoding="utf-8")
    for entry in sorted(DEFAULTS.iterdir(), key=lambda e: e.name)
    if entry.name.endswith(".gotmpl")
}

# Alertmanager's default template names that alerter renders with its own Jinja2 defaults.
JINJA_DEFAULTS = {
    "email.default.subject": "email.subject.j2",
    "__subject": "email.subject.j2",
    "email.default.html": "email.html.j2",
}


def _jinja_source(name: str) -> str | None:
    """Jinja2's loader for the defaults: a name that is not one of them is "not found"."""
    try:
        return read_default(name)
    except (FileNotFoundError, IsADirectoryError):
        return None


_SAFE_SCHEMES = frozenset({"http", "https", "mailto"})


class RenderError(Exception):
    """A template that does not parse or render; the message says which and why."""


class TemplateLoadError(Exception):
    """An operator template file that cannot be read or does not parse."""


def _safe_href(url: str) -> str:
    """A URL fit for an href: http(s) and mailto links pass, anything else (javascript:, data:)
    becomes "#", as Go's html/template does with URLs it does not trust."""
    scheme = urlsplit(str(url)).scheme.lower()
    return str(url) if scheme in _SAFE_SCHEMES else "#"


def _defaults_environment(html: bool) -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(
        loader=FunctionLoader(_jinja_source), autoescape=html, auto_reload=False
    )
    env.filters["urlquery"] = quote_plus  # Go's urlquery, used for the receiver link
    env.filters["safe_href"] = _safe_href
    return env


# alerter's defaults, compiled once per process: one environment with autoescaping, one without.
_DEFAULTS = {html: _defaults_environment(html) for html in (False, True)}


def render_default(name: str, data: Any, html: bool) -> str | None:
    """alerter's Jinja2 rendering of one of Alertmanager's default template names; None for
    any other name. Raises RenderError."""
    target = JINJA_DEFAULTS.get(name)
    if target is None:
        return None
    if not isinstance(data, Mapping):
        raise RenderError(
            f'template "{name}" needs the notification data: write {{{{ template "{name}" . }}}}'
        )
    try:
        return _DEFAULTS[html].get_template(target).render(data)
    except TemplateError as err:
        raise RenderError(f"{name}: {type(err).__name__}: {err}") from None


@lru_cache(maxsize=256)
def _legacy_jinja(text: str, html: bool) -> Template | None:
    """The text compiled as Jinja2 (alerter's earlier template dialect), or None if it is not."""
    try:
        return _DEFAULTS[html].from_string(text)
    except TemplateError:
        return None


class Templates:
    """One config's template files, parsed, with alerter's defaults behind them."""

    def __init__(self, files: Mapping[str, str] | None = None) -> None:
        """Parse the files (name -> text) after alerter's Go defaults, which they may redefine;
        raise TemplateLoadError naming the file that fails."""
        try:
            self._go = gotemplate.TemplateSet({**_GO_DEFAULTS, **(files or {})})
        except gotemplate.ParseError as err:
            raise TemplateLoadError(str(err)) from None

    @classmethod
    def from_globs(cls, patterns: list[str]) -> Templates:
        """The template set of a config's `templates:` globs; raises TemplateLoadError."""
        return cls(read_template_files(patterns))

    def render(
        self,
        text: str,
        data: Mapping[str, Any],
        html: bool,
        route_labels: gotemplate.RouteLabelResolver | None = None,
    ) -> str:
        """Render a Go template text against the data; raise RenderError. `route_labels`
        answers `routeLabels "x"` (by default the data's rendered `RouteLabels`)."""
        try:
            return self._go.execute(text, data, html=html, fallback=render_default, route_labels=route_labels)
        except gotemplate.ParseError as err:
            legacy = _legacy_jinja(text, html)
            if legacy is None:
                raise RenderError(str(err)) from None
            try:
                return legacy.render(data)
            except TemplateError as jinja_err:
                raise RenderError(f"{type(jinja_err).__name__}: {jinja_err}") from None
        except gotemplate.GoTemplateError as err:
            raise RenderError(str(err)) from None


def read_template_files(patterns: list[str]) -> dict[str, str]:
    """The files matched by the config's `templates:` globs, by file name (later ones win).

    A glob that matches nothing is fine, as in Alertmanager, and `*` matches hidden files too, as
    Go's filepath.Glob does. Raises TemplateLoadError worded like Go's file errors.
    """
    files: dict[str, str] = {}
    for pattern in patterns:
        for path in sorted(glob.glob(pattern, include_hidden=True)):
            try:
                with open(path, encoding="utf-8") as handle:
                    files[os.path.basename(path)] = handle.read()
            except OSError as err:
                raise TemplateLoadError(f"open {path}: {(err.strerror or str(err)).lower()}") from None
            except UnicodeDecodeError:
                raise TemplateLoadError(f"read {path}: the file is not valid UTF-8") from None
    return files


def check(patterns: list[str]) -> str | None:
    """What Alertmanager would refuse in these template files (unreadable, or a Go parse error
    naming the file and line), or None when they all load. For `alerter check-config`."""
    try:
        Templates.from_globs(patterns)
    except TemplateLoadError as err:
        return str(err)
    return None
