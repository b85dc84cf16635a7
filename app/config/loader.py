"""Loading alertmanager.yml: `load_config` and `load_config_file`.

Loading works in three steps, mirroring Alertmanager's `yaml.UnmarshalStrict` + `UnmarshalYAML`:

1. `Reader` walks the PyYAML node tree struct by struct, with the field tables of the section
   modules. Unknown fields, repeated fields and values of the wrong YAML kind are *type errors*:
   collected with their line numbers and reported together (`yaml: unmarshal errors: ...`) once
   the whole document has been read. Errors raised by a struct's own checks (a bad duration, an
   email config without `to`) stop loading at once, as Go's yaml.v2 does, and a struct with a type
   error inside skips its own checks.
2. `validate` runs the whole-config checks of Alertmanager's Config.UnmarshalYAML in the same order
   (receiver names, SMTP defaults, root route, undefined receivers and time intervals).
3. `build` turns the checked values into the model's dataclasses, applying global defaults and
   route inheritance.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.nodes import Node

from app.config.build import build
from app.config.global_section import global_config
from app.config.model import Config, ConfigError
from app.config.reader import Converter, Reader, fail_on, is_null, list_of, raw, strings
from app.config.receivers import receiver
from app.config.routes import inhibit_rule, route
from app.config.timeintervals import named_intervals
from app.config.validate import validate
from app.matchers import MODE_FALLBACK


def _tracing(node: Node) -> None:
    """alerter has no OpenTelemetry exporter: a tracing section is refused, not ignored."""
    fail_on(
        None
        if is_null(node)
        else "tracing: alerter does not export OpenTelemetry traces (Alertmanager sends its spans to "
        "the endpoint configured here); remove the tracing section"
    )


_EVENT_OUTPUTS = ("file_outputs", "webhook_outputs", "kafka_outputs", "stdout_outputs")


def _event_recorder(r: Reader, node: Node) -> None:
    """alerter records no events: an event_recorder section with outputs is refused, not ignored.

    One without outputs configures nothing, so it loads (and is not written back, as Alertmanager
    leaves an empty section out).
    """
    values = r.struct(node, "eventrecorder.Config", dict.fromkeys(_EVENT_OUTPUTS, raw)) or {}
    configured = next((name for name, value in values.items() if value), None)
    fail_on(
        None
        if configured is None
        else f"event_recorder: alerter does not record events, so {configured} cannot be served "
        "(Alertmanager records them when started with --enable-feature=event-recorder); remove the "
        "event_recorder section"
    )


_TOP_FIELDS: dict[str, Converter] = {
    "global": global_config,
    "route": lambda r, n: None if is_null(n) else route(r, n),
    "inhibit_rules": list_of("[]common.InhibitRule", inhibit_rule),
    "receivers": list_of("[]config.Receiver", receiver),
    "templates": strings,
    "mute_time_intervals": list_of(
        "[]config.MuteTimeInterval", named_intervals("missing name in mute time interval")
    ),
    "time_intervals": list_of("[]config.TimeInterval", named_intervals("missing name in time interval")),
    "tracing": lambda r, n: _tracing(n),
    "event_recorder": lambda r, n: _event_recorder(r, n),
}


# PyYAML's wording of a syntax error, and libyaml's (which Alertmanager reports) for the same.
_YAML_PROBLEMS = {"mapping values are not allowed here": "mapping values are not allowed in this context"}


def _syntax_error(err: yaml.YAMLError) -> ConfigError:
    mark = getattr(err, "problem_mark", None)
    problem = getattr(err, "problem", None) or str(err)
    problem = _YAML_PROBLEMS.get(problem, problem)
    where = f"line {mark.line + 1}: " if mark is not None else ""
    return ConfigError(f"yaml: {where}{problem}")


def _read_document(text: str, mode: str) -> dict[str, Any]:
    """Decode the first YAML document strictly; type errors are reported all together."""
    try:
        node = next(iter(yaml.compose_all(text, Loader=yaml.SafeLoader)), None)
    except yaml.YAMLError as err:
        raise _syntax_error(err) from None
    if is_null(node):
        raise ConfigError("no route provided in config")
    reader = Reader(mode)
    doc = reader.struct(node, "config.plain", _TOP_FIELDS)
    if reader.errors:
        raise ConfigError("yaml: unmarshal errors:\n  " + "\n  ".join(reader.errors))
    return doc or {}


def load_config(text: str, path: str = "", *, matcher_mode: str = MODE_FALLBACK) -> Config:
    """Parse and validate alertmanager.yml text; raise ConfigError as Alertmanager would refuse it.

    `path` is the file the text came from: relative template globs and HTTP client files are
    resolved against its directory. `matcher_mode` is app.matchers' MODE_FALLBACK (Alertmanager's
    default), MODE_CLASSIC (`--enable-feature=classic-mode`) or MODE_UTF8 (`utf8-strict-mode`).
    """
    doc = _read_document(text, matcher_mode)
    validate(doc)
    return build(doc, text, path)


def load_config_file(path: str, *, matcher_mode: str = MODE_FALLBACK) -> Config:
    """Read and load a config file; an unreadable file is a ConfigError worded like Go's."""
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as err:
        reason = (err.strerror or str(err)).lower()
        raise ConfigError(f"open {path}: {reason}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"read {path}: the file is not valid UTF-8") from None
    return load_config(text, path, matcher_mode=matcher_mode)
