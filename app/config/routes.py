"""The routing tree and inhibit rules as written: label matchers in their three forms, label checks.

Both carry matchers as `match`, `match_re` and `matchers`, checked here with Alertmanager's
messages; build.py folds them into one matcher list and applies route inheritance.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from yaml.nodes import MappingNode, Node

from app.config.model import ConfigError
from app.config.reader import (
    Converter,
    Reader,
    boolean,
    duration,
    fail_on,
    is_null,
    line_number,
    list_of,
    string,
    string_map,
    strings,
)
from app.gostrings import go_quote
from app.labels import CLASSIC_LABEL_NAME
from app.matchers import Matcher, parse_matchers, sort_matchers
from app.regex import compile_anchored
from app.yamlv2 import mapping_pairs


def _match_regexps(r: Reader, node: Node) -> dict[str, str] | None:
    """`match_re`/`source_match_re`: label -> regex, each checked to compile (anchored)."""
    if is_null(node):
        return None
    if not isinstance(node, MappingNode):
        r.type_error(node, "common.MatchRegexps")
        return None
    out: dict[str, str] = {}
    missing: list[str] = []
    for key, value in mapping_pairs(node):
        name = r.string(key)
        if name in out or name in missing:
            r.errors.append(f"line {line_number(key)}: key {go_quote(name)} already set in map")
        elif is_null(value):
            missing.append(name)
        else:
            out[name] = _checked_regex(r.string(value))
    for name in (*out, *missing):
        fail_on(None if CLASSIC_LABEL_NAME.match(name) else f"invalid label name {go_quote(name)}")
    fail_on(f"invalid regexp value for {go_quote(missing[0])}" if missing else None)
    return out


def _checked_regex(text: str) -> str:
    try:
        compile_anchored(text)
    except ValueError as err:
        raise ConfigError(str(err)) from None
    return text


def _matchers(r: Reader, node: Node) -> list[Matcher] | None:
    """`matchers`: a list of matcher strings, each possibly holding several, sorted like Alertmanager."""
    lines = r.strings(node)
    if lines is None:
        return None
    found: list[Matcher] = []
    for line in lines:
        try:
            found += parse_matchers(line, r.mode)
        except ValueError as err:
            raise ConfigError(str(err)) from None
    return sort_matchers(found)


def _check_match_names(match: Mapping[str, str] | None) -> None:
    for name in match or {}:
        fail_on(None if CLASSIC_LABEL_NAME.match(name) else f"invalid label name {go_quote(name)}")


def _group_by_problem(r: Reader, group_by: list[str]) -> str | None:
    names = [n for n in group_by if n != "..."]
    for name in names:
        if not r.label_name_ok(name):
            return f"invalid label name {go_quote(name)} in group_by list"
    if names and len(names) != len(group_by):
        return "cannot have wildcard group_by (`...`) and other labels at the same time"
    seen: set[str] = set()
    for name in names:
        if name in seen:
            return f"duplicated label {go_quote(name)} in group_by"
        seen.add(name)
    return None


def route(r: Reader, node: Node) -> dict[str, Any]:
    values, clean = r.checked_struct(node, "config.plain", _ROUTE_FIELDS)
    values = values or {}
    if clean:
        _check_match_names(values.get("match"))
        for name in values.get("labels") or {}:
            fail_on(None if r.label_name_ok(name) else f"invalid label name {go_quote(name)} in route labels")
        fail_on(_group_by_problem(r, values.get("group_by") or []))
        fail_on(
            "group_interval cannot be zero" if values.get("group_interval") == 0 else None,
            "repeat_interval cannot be zero" if values.get("repeat_interval") == 0 else None,
        )
    return values


_ROUTE_FIELDS: dict[str, Converter] = {
    "receiver": string,
    "group_by": strings,
    "match": string_map,
    "match_re": _match_regexps,
    "matchers": _matchers,
    "mute_time_intervals": strings,
    "active_time_intervals": strings,
    "continue": boolean,
    "routes": list_of("[]*config.Route", lambda r, n: route(r, n)),
    "group_wait": duration,
    "group_interval": duration,
    "repeat_interval": duration,
    "labels": string_map,
}


def inhibit_rule(r: Reader, node: Node) -> dict[str, Any]:
    values, clean = r.checked_struct(node, "common.plain", _INHIBIT_FIELDS)
    values = values or {}
    if clean:
        _check_match_names(values.get("source_match"))
        _check_match_names(values.get("target_match"))
        for name in values.get("equal") or []:
            fail_on(None if r.label_name_ok(name) else f"invalid label name {go_quote(name)} in equal list")
    return values


_INHIBIT_FIELDS: dict[str, Converter] = {
    "name": string,
    "source_match": string_map,
    "source_match_re": _match_regexps,
    "source_matchers": _matchers,
    "target_match": string_map,
    "target_match_re": _match_regexps,
    "target_matchers": _matchers,
    "equal": strings,
}
