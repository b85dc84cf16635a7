"""text/template's builtin functions: comparisons, `len`, `index`, `slice`, the escapers, `printf`.

Why: operators' templates lean on them (`{{ if gt (len .Alerts.Firing) 0 }}`,
`{{ printf "%.2f" $value }}`), and each has Go's own rules: `eq` takes several arguments, `len`
counts bytes, comparing a string with a number is an error, and `printf` writes misuse as Go does
(`%!d(string=x)`). `and` and `or` are not here: they short-circuit, so the executor runs them.
Not `call`: the template data holds no function values to call.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import quote_plus

from app.gostrings import go_quote
from app.gotemplate.errors import FuncError
from app.gotemplate.values import (
    SafeHTML,
    Struct,
    fmt_v,
    go_float,
    go_type,
    is_namedtuple,
    sprint,
    string_arg,
    truth,
)

SHORT_CIRCUIT = frozenset({"and", "or"})  # builtins the executor runs itself, evaluating lazily
_HTML_FUNC = str.maketrans(
    {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&#34;", "'": "&#39;", "\0": "\ufffd"}
)


def _comparable(a: Any, b: Any, ordered: bool) -> tuple[Any, Any]:
    """The two values as Python compares them, or a FuncError worded like Go's."""
    if isinstance(a, bool) and isinstance(b, bool):
        if ordered:
            raise FuncError("invalid type for comparison")
        return a, b
    if (isinstance(a, str) and isinstance(b, str)) or (_is_number(a) and _is_number(b)):
        return a, b
    if not ordered and (a is None or b is None):
        return a is None, b is None
    for value in (a, b):
        if isinstance(value, Mapping | list | tuple):
            raise FuncError(f"non-comparable type {fmt_v(value)}: {go_type(value)}")
    raise FuncError("incompatible types for comparison")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _eq(first: Any, *others: Any) -> bool:
    if not others:
        raise FuncError("missing argument for comparison")
    for other in others:
        a, b = _comparable(first, other, ordered=False)
        if a == b:
            return True
    return False


def _ne(a: Any, b: Any) -> bool:
    x, y = _comparable(a, b, ordered=False)
    return x != y


def _ordered(test: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    def compare(a: Any, b: Any) -> bool:
        x, y = _comparable(a, b, ordered=True)
        return test(x, y)

    return compare


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise FuncError(f"cannot index slice/array with type {go_type(value)}")
    return value


def _len(value: Any) -> int:
    if isinstance(value, str):
        return len(value.encode())  # Go counts bytes
    if isinstance(value, Mapping | Sequence) and not isinstance(value, Struct) and not is_namedtuple(value):
        return len(value)
    raise FuncError(f"len of type {go_type(value)}")


def _index(item: Any, *keys: Any) -> Any:
    for key in keys:
        if isinstance(item, Mapping) and not isinstance(item, Struct):
            item = item.get(key, "")
        elif isinstance(item, str):
            data = item.encode()
            item = data[_bounded(_int(key), len(data))]
        elif isinstance(item, Sequence) and not is_namedtuple(item):
            item = item[_bounded(_int(key), len(item))]
        else:
            raise FuncError(f"can't index item of type {go_type(item)}")
    return item


def _bounded(k: int, size: int, inclusive: bool = False) -> int:
    if k < 0 or k > size or (k == size and not inclusive):
        raise FuncError(f"index out of range: {k}")
    return k


def _slice(item: Any, *indexes: Any) -> Any:
    if len(indexes) > 3:
        raise FuncError(f"too many slice indexes: {len(indexes)}")
    if isinstance(item, str):
        if len(indexes) == 3:
            raise FuncError("cannot 3-index slice a string")
        return _slice_bounds(item.encode(), indexes).decode(errors="replace")
    if not isinstance(item, Sequence) or is_namedtuple(item):
        raise FuncError(f"can't slice item of type {go_type(item)}")
    return list(_slice_bounds(item, indexes))


def _slice_bounds(item: Any, indexes: Sequence[Any]) -> Any:
    """item[low:high] (Go's third index, the capacity, changes nothing for a copy)."""
    bounds = [_bounded(_int(k), len(item), inclusive=True) for k in indexes[:2]]
    low = bounds[0] if bounds else 0
    high = bounds[1] if len(bounds) > 1 else len(item)
    if low > high:
        raise FuncError(f"invalid slice index: {low} > {high}")
    return item[low:high]


def _escape_args(args: Sequence[Any]) -> str:
    """The escapers take their arguments the way Go's do: one string as is, else fmt.Sprint."""
    if len(args) == 1 and isinstance(args[0], str):
        return str(args[0])
    return sprint(args)


def _html(*args: Any) -> SafeHTML:
    return SafeHTML(_escape_args(args).translate(_HTML_FUNC))


_JS_ESCAPES = {"\\": "\\\\", "'": "\\'", '"': '\\"', "<": "\\u003C", ">": "\\u003E", "&": "\\u0026"}
_JS_ESCAPES.update({"=": "\\u003D", "`": "\\u0060"})


def _js(*args: Any) -> str:
    out = []
    for ch in _escape_args(args):
        if ch in _JS_ESCAPES:
            out.append(_JS_ESCAPES[ch])
        elif ord(ch) < 0x20 or not ch.isprintable():
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    return "".join(out)


def _urlquery(*args: Any) -> str:
    return quote_plus(_escape_args(args), safe="")


_VERB = re.compile(r"%([-+# 0]*)(\d+)?(?:\.(\d*))?(.)", re.DOTALL)


def _printf(fmt: Any, *args: Any) -> str:
    """Go's fmt.Sprintf for the verbs templates use; misuse reads as Go prints it (`%!d(string=x)`)."""
    fmt = string_arg(fmt)
    out: list[str] = []
    used = 0
    pos = 0
    for m in _VERB.finditer(fmt):
        out.append(fmt[pos : m.start()])
        pos = m.end()
        flags, width, precision, verb = m.groups()
        if verb == "%":
            out.append("%")
            continue
        if used >= len(args):
            out.append(f"%!{verb}(MISSING)")
            continue
        out.append(_format_verb(flags, width, precision, verb, args[used]))
        used += 1
    out.append(fmt[pos:])
    if used < len(args):
        extra = ", ".join(f"{go_type(a)}={fmt_v(a)}" for a in args[used:])
        out.append(f"%!(EXTRA {extra})")
    return "".join(out)


def _format_verb(flags: str, width: str | None, precision: str | None, verb: str, value: Any) -> str:
    number = isinstance(value, int | float) and not isinstance(value, bool)
    text = _verb_text(verb, precision, value)
    if text is None:
        return f"%!{verb}({go_type(value)}={fmt_v(value)})"
    if number and "+" in flags and not text.startswith("-"):
        text = "+" + text
    elif number and " " in flags and not text.startswith("-"):
        text = " " + text
    size = int(width or 0)
    if "-" in flags:
        return text.ljust(size)
    if "0" in flags and number:
        sign = text[0] if text[:1] in "+- " else ""
        return sign + text[len(sign) :].rjust(size - len(sign), "0")
    return text.rjust(size)


def _verb_text(verb: str, precision: str | None, value: Any) -> str | None:
    """The text of one verb without padding, or None when the verb does not fit the value."""
    is_int = isinstance(value, int) and not isinstance(value, bool)
    prec = int(precision) if precision else (0 if precision == "" else None)
    if verb == "v":
        return fmt_v(value)
    if verb == "s":
        text = fmt_v(value) if not isinstance(value, bool | int | float) else None
        return text[:prec] if text is not None and prec is not None else text
    if verb == "q":
        if isinstance(value, str):
            return go_quote(value)
        return f"'{chr(value)}'" if is_int else None
    if verb == "t":
        return fmt_v(value) if isinstance(value, bool) else None
    if verb in "dboxXc" and is_int:
        spec = {"d": "d", "b": "b", "o": "o", "x": "x", "X": "X"}
        return chr(value) if verb == "c" else format(value, spec[verb])
    if verb in "xX" and isinstance(value, str):
        text = value.encode().hex()
        return text.upper() if verb == "X" else text
    if verb in "feEgG" and isinstance(value, float):
        if verb in "gG" and prec is None:
            return go_float(value)
        return format(value, f".{6 if prec is None else prec}{verb}")
    return None


BUILTINS: dict[str, Callable[..., Any]] = {
    "not": lambda value: not truth(value),
    "len": _len,
    "index": _index,
    "slice": _slice,
    "print": lambda *args: sprint(args),
    "printf": _printf,
    "println": lambda *args: " ".join(fmt_v(a) for a in args) + "\n",
    "html": _html,
    "js": _js,
    "urlquery": _urlquery,
    "eq": _eq,
    "ne": _ne,
    "lt": _ordered(lambda a, b: a < b),
    "le": _ordered(lambda a, b: a <= b),
    "gt": _ordered(lambda a, b: a > b),
    "ge": _ordered(lambda a, b: a >= b),
}
