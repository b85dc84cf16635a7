"""Alertmanager's template concept: the template set of one config, alerter's default templates
(package data under `defaults/`), and the data templates see.

The language itself, Go's text/template, is interpreted by `app.gotemplate`.
"""

from app.template.templates import RenderError, TemplateLoadError, Templates, check, read_template_files

__all__ = ["RenderError", "TemplateLoadError", "Templates", "check", "read_template_files"]
