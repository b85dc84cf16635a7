"""The errors of Go templates, worded as Go's text/template words them.

Why a module of its own: the lexer, the parser, the functions and the executor all raise them, and
callers (app.templates) catch `GoTemplateError` without knowing which stage failed.
"""

from __future__ import annotations


class GoTemplateError(Exception):
    """A template that does not parse or execute; the message says where and why."""


class ParseError(GoTemplateError):
    """Go's parser would refuse this template: `template: NAME:LINE: MESSAGE`."""


class ExecError(GoTemplateError):
    """Executing an action failed: `template: NAME:LINE: executing "NAME" at <ACTION>: MESSAGE`."""


class FuncError(Exception):
    """Raised inside functions and field lookups; the executor adds the template and action."""
