"""Alertmanager's template functions (its `DefaultFuncs`), and FUNCS: every function a template calls.

Why: templates written for Alertmanager call `toUpper`, `join`, `reReplaceAll`, `safeHtml`, `date`,
`humanizeDuration`, `toJson`, ... and expect Go's behaviour: RE2 regexes (through
`app.regex.compile_regex`, with Go's ReplaceAll), Go's `$1` expansion, Go's time layouts,
prometheus/common's duration wording, json.Marshal's escaping. `routeLabels` reads the data of
the whole execution, so the executor answers it (see `_route_labels`).
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote_plus
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from app.gostrings import go_quote
from app.gotemplate.builtins import BUILTINS
from app.gotemplate.errors import FuncError
from app.gotemplate.gotime import duration_nanos, format_go_layout, parse_go_layout
from app.gotemplate.values import SafeHTML, Struct, go_nonfinite, go_type, is_namedtuple, string_arg, time_arg
from app.regex import Regex, RegexError, compile_regex
from app.timeutil import GO_ZERO_TIME


def _strings(value: Any) -> list[str]:
    if (
        isinstance(value, str)
        or not isinstance(value, Sequence)
        or not all(isinstance(v, str) for v in value)
    ):
        raise FuncError(f"wrong type for value; expected []string; got {go_type(value)}")
    return [str(v) for v in value]


def _title(text: Any) -> str:
    """Title case word by word (Go's cases.Title): the first letter up, the rest down."""
    return re.sub(r"\w+(?:['\u2019]\w+)*", lambda m: m[0][:1].upper() + m[0][1:].lower(), string_arg(text))


def _join(sep: Any, items: Any) -> str:
    return string_arg(sep).join(_strings(items))


def _regex(pattern: Any) -> Regex:
    try:
        return compile_regex(string_arg(pattern))
    except RegexError as err:
        raise FuncError(str(err)) from None


def _match(pattern: Any, text: Any) -> bool:
    return _regex(pattern).search(string_arg(text))


_EXPAND = re.compile(r"\$(?:\{(\w+)\}|(\w+)|(\$))")


def _re_replace_all(pattern: Any, repl: Any, text: Any) -> str:
    """Go's ReplaceAllString: `$1`, `${1}`, `$name` and `$$` in the replacement; an unknown group
    (`$1x` names group "1x") is empty."""
    regex, template = _regex(pattern), string_arg(repl)

    def expand(m: Any) -> str:
        def group(g: re.Match[str]) -> str:
            if g.group(3):
                return "$"
            name = g.group(1) or g.group(2)
            try:
                return m.group(int(name) if name.isdigit() else name) or ""
            except IndexError:  # no such group
                return ""

        return _EXPAND.sub(group, template)

    return regex.replace_all(string_arg(text), expand)


def _url_unescape(text: Any) -> str:
    raw = string_arg(text)
    if bad := re.search(r"%(?![0-9a-fA-F]{2})", raw):
        raise FuncError(f"invalid URL escape {go_quote(raw[bad.start() : bad.start() + 3])}")
    return unquote_plus(raw)


def _date(layout: Any, t: Any) -> str:
    return format_go_layout(time_arg(t), string_arg(layout))


def _tz(name: Any, t: Any) -> datetime:
    zone = string_arg(name)
    try:
        location: Any = UTC if zone in ("", "UTC") else ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise FuncError(f"unknown time zone {zone}") from None
    return time_arg(t).astimezone(location)


def _now() -> datetime:
    return datetime.now().astimezone()


def _since(t: Any) -> timedelta:
    return datetime.now(UTC) - time_arg(t)


def _humanize_duration(value: Any) -> str:
    """prometheus/common's HumanizeDuration: `1d 2h 3m 4s` from seconds, `123.5ms` below one."""
    seconds = _to_float(value)
    if math.isnan(seconds) or math.isinf(seconds):
        return _go_g4(seconds)
    if seconds == 0:
        return "0s"
    if abs(seconds) >= 1:
        sign = "-" if seconds < 0 else ""
        whole = int(abs(seconds))
        days, hours, minutes, secs = whole // 86400, whole // 3600 % 24, whole // 60 % 60, whole % 60
        if days:
            return f"{sign}{days}d {hours}h {minutes}m {secs}s"
        if hours:
            return f"{sign}{hours}h {minutes}m {secs}s"
        if minutes:
            return f"{sign}{minutes}m {secs}s"
        return f"{sign}{_go_g4(abs(seconds))}s"
    prefix = ""
    for unit in ("m", "u", "n", "p", "f", "a", "z", "y"):
        if abs(seconds) >= 1:
            break
        prefix, seconds = unit, seconds * 1000
    return f"{_go_g4(seconds)}{prefix}s"


def _go_g4(value: float) -> str:
    """Go's %.4g."""
    special = go_nonfinite(value)
    return special if special is not None else format(value, ".4g")


def _to_float(value: Any) -> float:
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            raise FuncError(f"strconv.ParseFloat: parsing {go_quote(value)}: invalid syntax") from None
    raise FuncError(f"can't convert {go_type(value)} to float")


def _to_date(layout: Any, text: Any) -> datetime:
    try:
        return parse_go_layout(string_arg(layout), string_arg(text))
    except FuncError:
        return GO_ZERO_TIME


def _must_to_date(layout: Any, text: Any) -> datetime:
    return parse_go_layout(string_arg(layout), string_arg(text))


def _to_json(value: Any) -> str:
    """Go's json.Marshal: compact, map keys sorted, `<`, `>` and `&` escaped."""
    text = json.dumps(_jsonable(value), ensure_ascii=False, separators=(",", ":"), sort_keys=False)
    for ch, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(ch, escaped)
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return format_go_layout(value, "2006-01-02T15:04:05.999999999Z07:00")
    if isinstance(value, timedelta):
        return duration_nanos(value)
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return int(value)
    if isinstance(value, Struct):
        return {k[:1].lower() + k[1:]: _jsonable(v) for k, v in value.items()}
    if is_namedtuple(value):
        return {k: _jsonable(v) for k, v in zip(value._fields, value, strict=True)}
    if isinstance(value, Mapping):
        return {str(k): _jsonable(value[k]) for k in sorted(value)}
    if isinstance(value, Sequence) and not isinstance(value, str):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise FuncError(f"json: unsupported type: {go_type(value)}")


def _base64decode(text: Any) -> str:
    try:
        return base64.urlsafe_b64decode(string_arg(text).encode()).decode(errors="replace")
    except (binascii.Error, ValueError) as err:
        raise FuncError(f"illegal base64 data: {err}") from None


def _dict(*values: Any) -> dict[str, Any]:
    if len(values) % 2:
        raise FuncError("dict requires an even number of arguments")
    if not all(isinstance(k, str) for k in values[::2]):
        raise FuncError("dict keys must be strings")
    return dict(zip(values[::2], values[1::2], strict=True))


def _append(items: Any, *more: Any) -> list[Any]:
    if isinstance(items, str) or not isinstance(items, Sequence):
        raise FuncError(f"wrong type for value; expected []interface {{}}; got {go_type(items)}")
    return [*items, *more]


def _route_labels(name: Any) -> str:
    """The parser's and arity check's entry for `routeLabels`; the executor calls its own
    resolver instead, which sees the data the template was executed with (Alertmanager
    likewise swaps in its resolver per execution)."""
    raise FuncError(f"routeLabels {string_arg(name)!r} outside a template execution")


# text/template's builtins first; `and` and `or` are the executor's (SHORT_CIRCUIT).
FUNCS: dict[str, Callable[..., Any]] = {
    **BUILTINS,
    "toUpper": lambda s: string_arg(s).upper(),
    "toLower": lambda s: string_arg(s).lower(),
    "title": _title,
    "trimSpace": lambda s: string_arg(s).strip(),
    "join": _join,
    "match": _match,
    "safeHtml": lambda s: SafeHTML(string_arg(s)),
    "safeUrl": lambda s: string_arg(s),  # no contextual escaping here, so a URL is just text
    "urlUnescape": _url_unescape,
    "reReplaceAll": _re_replace_all,
    "stringSlice": lambda *s: [string_arg(v) for v in s],
    "routeLabels": _route_labels,
    "date": _date,
    "tz": _tz,
    "now": _now,
    "since": _since,
    "humanizeDuration": _humanize_duration,
    "toDate": _to_date,
    "mustToDate": _must_to_date,
    "toJson": _to_json,
    "base64encode": lambda s: base64.urlsafe_b64encode(string_arg(s).encode()).decode(),
    "base64decode": _base64decode,
    "list": lambda *args: list(args),
    "append": _append,
    "dict": _dict,
}
