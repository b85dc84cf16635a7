"""Go's view of the template data: its types, its truth and how a value prints (`%v`).

Why: the data is plain Python (str, int, datetime, lists, mappings), but a template must see it
as Go does: an empty list is false, a float prints `1e+06`, a map prints `map[a:1]`, a struct
field that does not exist is an error. `Struct` and `TEMPLATE_METHODS` (see `declared`) are how
the data says which of its mappings are Go structs and which methods templates may call.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from app.durations import format_go_duration_ns
from app.gotemplate.errors import FuncError
from app.gotemplate.gotime import duration_nanos, format_go_layout


class SafeHTML(str):
    """Text that HTML output inserts as is: what `safeHtml` and the `html` escaper return."""


class Struct(dict[str, Any]):
    """A Go struct value: its keys are its fields, in declaration order.

    Unlike a map, naming a field it does not have is an error. toJson lowers the first letter of
    each field name, which is how Alertmanager's template data tags its fields in JSON.
    """


def is_namedtuple(value: Any) -> bool:
    """A NamedTuple, which templates see as a struct of its fields (`Pair`'s `.Name`)."""
    return isinstance(value, tuple) and hasattr(type(value), "_fields")


def declared(value: Any) -> frozenset[str]:
    """The attributes and methods a value's class lets templates reach (its `TEMPLATE_METHODS`)."""
    return getattr(type(value), "TEMPLATE_METHODS", frozenset())


def truth(value: Any) -> bool:
    """Go's truth: false, 0, nil and empty strings, lists and maps are false; structs are true."""
    if value is None:
        return False
    if isinstance(value, bool | int | float | str | timedelta):
        return bool(value)
    if isinstance(value, Struct) or is_namedtuple(value):
        return True
    if isinstance(value, Mapping | Sequence):
        return len(value) > 0
    return True


def go_type(value: Any) -> str:
    """The Go type name of a value, as Go's error messages name it."""
    for kind, name in (
        (bool, "bool"),
        (int, "int"),
        (float, "float64"),
        (str, "string"),
        (datetime, "time.Time"),
        (timedelta, "time.Duration"),
        (Struct, "struct"),
    ):
        if isinstance(value, kind):
            return name
    if value is None:
        return "<nil>"
    if isinstance(value, Mapping):
        return "map[string]string"
    if isinstance(value, Sequence):
        return "slice"
    return type(value).__name__


def fmt_v(value: Any) -> str:
    """Go's `%v` of a value (what an action prints)."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return go_float(value)
    if isinstance(value, datetime):
        return format_go_layout(value, "2006-01-02 15:04:05.999999999 -0700 MST")
    if isinstance(value, timedelta):
        return format_go_duration_ns(duration_nanos(value))
    if "String" in declared(value):
        return str(value.String())
    if isinstance(value, Struct):
        return "{" + " ".join(fmt_v(v) for v in value.values()) + "}"
    if is_namedtuple(value):
        return "{" + " ".join(fmt_v(v) for v in value) + "}"
    if isinstance(value, Mapping):
        return "map[" + " ".join(f"{k}:{fmt_v(value[k])}" for k in sorted(value)) + "]"
    if isinstance(value, Sequence):
        return "[" + " ".join(fmt_v(v) for v in value) + "]"
    return f"<{type(value).__name__}>"


def go_nonfinite(value: float) -> str | None:
    """How Go's fmt spells NaN and the infinities (`NaN`, `+Inf`, `-Inf`); None for other floats."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return None


def go_float(value: float) -> str:
    """Go's %v of a float64: the shortest digits, in exponent form below 1e-4 or from 1e6 on."""
    if (special := go_nonfinite(value)) is not None:
        return special
    sign, digits, exponent = Decimal(repr(value)).as_tuple()
    text = "".join(map(str, digits)).rstrip("0") or "0"
    power = len(digits) + int(exponent) - 1
    minus = "-" if sign else ""
    if value != 0 and (power < -4 or power >= 6):
        mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
        return f"{minus}{mantissa}e{'-' if power < 0 else '+'}{abs(power):02d}"
    plain = format(Decimal(repr(value)), "f")
    return plain.rstrip("0").rstrip(".") if "." in plain else plain


def sprint(args: Sequence[Any]) -> str:
    """Go's fmt.Sprint: a space between operands when neither is a string."""
    out: list[str] = []
    for k, arg in enumerate(args):
        if k > 0 and not isinstance(arg, str) and not isinstance(args[k - 1], str):
            out.append(" ")
        out.append(fmt_v(arg))
    return "".join(out)


def string_arg(value: Any) -> str:
    """A function's string argument; anything else is Go's "wrong type for value" error."""
    if not isinstance(value, str):
        raise FuncError(f"wrong type for value; expected string; got {go_type(value)}")
    return str(value)


def time_arg(value: Any) -> datetime:
    """A function's time.Time argument; anything else is Go's "wrong type for value" error."""
    if not isinstance(value, datetime):
        raise FuncError(f"wrong type for value; expected time.Time; got {go_type(value)}")
    return value
