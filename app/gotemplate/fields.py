"""What `.Name` reaches on a value: the sandbox between templates and Python objects.

Why: a template must not reach the Python behind the data (`.__class__`, `.append`, a dict's
methods). A name is looked up only as a method or attribute the value's class lists in
`TEMPLATE_METHODS`, one of Go's time.Time / time.Duration methods, a `Struct` field, a NamedTuple
field or a map key (a missing key is "", Alertmanager's `missingkey=zero`); anything else is Go's
"can't evaluate field" error. There is no eval and no attribute access by name.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from app.gotemplate.errors import FuncError
from app.gotemplate.gotime import format_go_layout
from app.gotemplate.values import Struct, declared, fmt_v, go_type, is_namedtuple, string_arg, time_arg
from app.timeutil import GO_ZERO_TIME

_TIME_METHODS: dict[str, tuple[type, Callable[..., Any]]] = {
    "Format": (datetime, lambda t, layout: format_go_layout(t, string_arg(layout))),
    "String": (datetime, lambda t: fmt_v(t)),
    "Unix": (datetime, lambda t: int(t.timestamp())),
    "UnixMilli": (datetime, lambda t: int(t.timestamp() * 1000)),
    "UTC": (datetime, lambda t: t.astimezone(UTC)),
    "Local": (datetime, lambda t: t.astimezone()),
    "IsZero": (datetime, lambda t: t == GO_ZERO_TIME),
    "Before": (datetime, lambda t, u: t < time_arg(u)),
    "After": (datetime, lambda t, u: t > time_arg(u)),
    "Equal": (datetime, lambda t, u: t == time_arg(u)),
    "Sub": (datetime, lambda t, u: t - time_arg(u)),
    "Add": (datetime, lambda t, d: t + (d if isinstance(d, timedelta) else timedelta(microseconds=d / 1000))),
    "Seconds": (timedelta, lambda d: d.total_seconds()),
    "Minutes": (timedelta, lambda d: d.total_seconds() / 60),
    "Hours": (timedelta, lambda d: d.total_seconds() / 3600),
    "Milliseconds": (timedelta, lambda d: d // timedelta(milliseconds=1)),
}


def field(receiver: Any, name: str, args: list[Any]) -> Any:
    """`.name` of a value: a declared method or attribute, a struct field or a map key. Nothing
    else of a Python object is reachable (the sandbox)."""
    if name in declared(receiver):
        member = getattr(receiver, name)
        if callable(member):
            return _call_method(name, member, args)
        if args:
            raise FuncError(f"{name} is not a method but has arguments")
        return member
    if isinstance(receiver, datetime | timedelta) and name in _TIME_METHODS:
        method = _TIME_METHODS[name]
        if not isinstance(receiver, method[0]):
            raise FuncError(f"can't evaluate field {name} in type {go_type(receiver)}")
        return _call_method(name, partial(method[1], receiver), args)
    if args:
        raise FuncError(f"{name} has arguments but cannot be invoked as function")
    if isinstance(receiver, Struct):
        if name in receiver:
            return receiver[name]
    elif is_namedtuple(receiver):
        if name in receiver._fields:
            return getattr(receiver, name)
    elif isinstance(receiver, Mapping):
        return receiver.get(name, "")
    elif receiver is None:
        raise FuncError(f"nil pointer evaluating interface {{}}.{name}")
    raise FuncError(f"can't evaluate field {name} in type {go_type(receiver)}")


def _call_method(name: str, member: Callable[..., Any], args: list[Any]) -> Any:
    try:
        inspect.signature(member).bind(*args)
    except TypeError:
        raise FuncError(f"wrong number of args for {name}: got {len(args)}") from None
    return member(*args)
