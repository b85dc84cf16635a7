"""Executing a parsed template: the walk over its tree, variables, pipelines, `template` calls.

Why: this is where Go's run-time rules live (`range` over maps in key order, `break`/`continue`,
`and`/`or` short-circuiting, variables scoped to their block, `{{ template }}` nesting at most
`MAX_DEPTH` deep) and where HTML output escapes what an action prints. Errors raised inside a
function or a field lookup come out as ExecErrors naming the template, line and action.
"""

from __future__ import annotations

import inspect
import re
from collections import ChainMap
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from app.gostrings import go_quote
from app.gotemplate.builtins import SHORT_CIRCUIT
from app.gotemplate.errors import ExecError, FuncError
from app.gotemplate.fields import field
from app.gotemplate.functions import FUNCS
from app.gotemplate.parser import (
    Action,
    Call,
    Chain,
    Control,
    Dot,
    Field,
    Ident,
    Literal,
    Nil,
    Node,
    Operand,
    Pipe,
    Variable,
    nonempty,
    parse,
)
from app.gotemplate.values import SafeHTML, Struct, fmt_v, is_namedtuple, string_arg, truth

MAX_DEPTH = 50  # nested {{ template }} calls; Python's stack, not Go's, is the limit here


class _Break(Exception):
    pass


class _Continue(Exception):
    pass


_NONE: Any = object()  # "no final value": the first command of a pipeline
_HTML_TEXT = str.maketrans(
    {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&#34;", "'": "&#39;", "+": "&#43;", "\0": "\ufffd"}
)
# What a Python bug or bad data inside a function may raise; reported as an error of the action.
_RUNTIME_ERRORS = (ArithmeticError, LookupError, TypeError, ValueError, re.error)

Fallback = Callable[[str, Any, bool], str | None]
# Answers `routeLabels "name"`; raises FuncError for a label it cannot render.
RouteLabelResolver = Callable[[str], str]


def _rendered_route_label(data: Any) -> RouteLabelResolver:
    """Alertmanager's resolver for a notification: its route labels are already rendered, so
    `routeLabels "x"` is the data's `RouteLabels.x` as is ("" when there is none)."""
    labels = data.get("RouteLabels") if isinstance(data, Mapping) else None
    return lambda name: str(labels.get(name, "")) if isinstance(labels, Mapping) else ""


class _Exec:
    """One execution: the output, the variables in scope and the template being run."""

    def __init__(
        self,
        templates: Mapping[str, tuple[Node, ...]],
        fallback: Fallback | None,
        html: bool,
        route_labels: RouteLabelResolver,
    ):
        self.templates = templates
        self.fallback = fallback
        self.html = html
        self.route_labels = route_labels
        self.out: list[str] = []
        self.vars: list[tuple[str, Any]] = []
        self.name = ""
        self.depth = 0

    def run(self, name: str, body: tuple[Node, ...], dot: Any) -> None:
        saved = self.vars, self.name
        self.vars, self.name = [("$", dot)], name
        try:
            self.walk(body, dot)
        finally:
            self.vars, self.name = saved

    def walk(self, nodes: tuple[Node, ...], dot: Any) -> None:
        for node in nodes:
            if isinstance(node, str):
                self.out.append(node)
            elif isinstance(node, Action):
                value = self.eval(node.pipe, node, dot)
                if not node.pipe.decl:
                    self.out.append(self.printed(value))
            elif isinstance(node, Control):
                self.control(node, dot)
            elif isinstance(node, Call):
                self.call(node, dot)
            else:
                raise _Break() if node.kind == "break" else _Continue()

    def printed(self, value: Any) -> str:
        text = "<no value>" if value is None else fmt_v(value)
        if self.html and not isinstance(value, SafeHTML):
            return text.translate(_HTML_TEXT)
        return text

    def error(self, node: Action | Control | Call, message: str) -> ExecError:
        where = f"{self.name}:{node.line}: executing {go_quote(self.name)} at <{node.source}>"
        return ExecError(f"template: {where}: {message}")

    def eval(self, pipe: Pipe, node: Action | Control | Call, dot: Any, declare: bool = True) -> Any:
        """Run a pipeline for an action; function errors become ExecErrors naming the action."""
        try:
            return self.pipe(pipe, dot, declare)
        except FuncError as err:
            raise self.error(node, str(err)) from None
        except RecursionError:
            raise self.error(node, "the template nests too deeply") from None
        except _RUNTIME_ERRORS as err:
            raise self.error(node, f"{type(err).__name__}: {err}") from None

    def pipe(self, pipe: Pipe, dot: Any, declare: bool = True) -> Any:
        value = _NONE
        for cmd in pipe.cmds:
            value = self.command(cmd, dot, value)
        if declare and pipe.decl:
            self.declare(pipe.decl[0], value, pipe.assign)
        return value

    def declare(self, name: str, value: Any, assign: bool) -> None:
        if not assign:
            self.vars.append((name, value))
            return
        for k in range(len(self.vars) - 1, -1, -1):
            if self.vars[k][0] == name:
                self.vars[k] = (name, value)
                return
        raise FuncError(f"undefined variable: {name}")

    def variable(self, name: str) -> Any:
        for var, value in reversed(self.vars):
            if var == name:
                return value
        raise FuncError(f"undefined variable: {name}")

    def command(self, cmd: tuple[Operand | Pipe, ...], dot: Any, final: Any) -> Any:
        first, args = cmd[0], cmd[1:]
        if isinstance(first, Ident):
            return self.function(first.name, args, final, dot)
        if isinstance(first, Field):
            return self.chain(dot, first.names, args, final, dot)
        if isinstance(first, Chain):
            return self.chain(self.pipe(first.pipe, dot), first.names, args, final, dot)
        if isinstance(first, Variable) and first.names:
            return self.chain(self.variable(first.name), first.names, args, final, dot)
        if isinstance(first, Nil):
            raise FuncError("nil is not a command")
        if args or final is not _NONE:
            raise FuncError(f"can't give argument to non-function {_describe(first)}")
        return self.arg(first, dot)

    def chain(self, receiver: Any, names: tuple[str, ...], args: Sequence[Any], final: Any, dot: Any) -> Any:
        """Follow `.A.B.C`; the last name receives the command's arguments (a method call)."""
        for name in names[:-1]:
            receiver = field(receiver, name, [])
        values = [self.arg(a, dot) for a in args]
        if final is not _NONE:
            values.append(final)
        return field(receiver, names[-1], values)

    def arg(self, node: Operand | Pipe, dot: Any) -> Any:
        if isinstance(node, Literal):
            return node.value
        if isinstance(node, Dot):
            return dot
        if isinstance(node, Nil):
            return None
        if isinstance(node, Field):
            return self.chain(dot, node.names, (), _NONE, dot)
        if isinstance(node, Variable):
            value = self.variable(node.name)
            return self.chain(value, node.names, (), _NONE, dot) if node.names else value
        if isinstance(node, Chain):
            return self.chain(self.pipe(node.pipe, dot), node.names, (), _NONE, dot)
        if isinstance(node, Ident):
            return self.function(node.name, (), _NONE, dot)
        return self.pipe(node, dot)

    def function(self, name: str, args: Sequence[Operand | Pipe], final: Any, dot: Any) -> Any:
        if name in SHORT_CIRCUIT:
            return self.and_or(name == "and", args, final, dot)
        values = [self.arg(a, dot) for a in args]
        if final is not _NONE:
            values.append(final)
        if name == "routeLabels":
            return _invoke(name, lambda label: self.route_labels(string_arg(label)), values)
        return _invoke(name, FUNCS[name], values)

    def and_or(self, is_and: bool, args: Sequence[Operand | Pipe], final: Any, dot: Any) -> Any:
        """Go 1.18's `and`/`or`: the first argument that decides, evaluating no further."""
        if len(args) + (final is not _NONE) < 1:
            raise FuncError(f"wrong number of args for {'and' if is_and else 'or'}: want at least 1 got 0")
        thunks: list[Callable[[], Any]] = [lambda a=a: self.arg(a, dot) for a in args]
        if final is not _NONE:
            thunks.append(lambda: final)
        value = None
        for thunk in thunks:
            value = thunk()
            if truth(value) != is_and:
                return value
        return value

    def control(self, node: Control, dot: Any) -> None:
        mark = len(self.vars)
        try:
            if node.kind == "range":
                self.range(node, dot)
                return
            value = self.eval(node.pipe, node, dot)
            if truth(value):
                self.walk(node.body, value if node.kind == "with" else dot)
            else:
                self.walk(node.orelse, dot)
        finally:
            del self.vars[mark:]

    def range(self, node: Control, dot: Any) -> None:
        value = self.eval(node.pipe, node, dot, declare=False)
        try:
            pairs = list(_iterate(value))
        except FuncError as err:
            raise self.error(node, str(err)) from None
        mark = len(self.vars)
        for key, elem in pairs:
            del self.vars[mark:]
            if len(node.pipe.decl) == 2:
                self.declare(node.pipe.decl[0], key, node.pipe.assign)
            if node.pipe.decl:
                self.declare(node.pipe.decl[-1], elem, node.pipe.assign)
            try:
                self.walk(node.body, elem)
            except _Break:
                break
            except _Continue:
                continue
        if not pairs:
            self.walk(node.orelse, dot)

    def call(self, node: Call, dot: Any) -> None:
        data = self.eval(node.pipe, node, dot) if node.pipe is not None else None
        body = self.templates.get(node.name)
        if body is None:
            rendered = self.fallback(node.name, data, self.html) if self.fallback else None
            if rendered is None:
                raise self.error(node, f"no such template {go_quote(node.name)}")
            self.out.append(rendered)
            return
        if self.depth >= MAX_DEPTH:
            raise self.error(node, f"exceeded maximum template depth ({MAX_DEPTH})")
        self.depth += 1
        try:
            self.run(node.name, body, data)
        finally:
            self.depth -= 1


def _describe(node: Operand | Pipe) -> str:
    if isinstance(node, Literal):
        return fmt_v(node.value) if not isinstance(node.value, str) else go_quote(node.value)
    if isinstance(node, Variable):
        return node.name
    return "." if isinstance(node, Dot) else "(pipeline)"


def _iterate(value: Any) -> Iterator[tuple[Any, Any]]:
    """(key, element) pairs of range: list indexes, map keys in sorted order, or 0..n-1."""
    if isinstance(value, Struct | str | bytes):
        raise FuncError(f"range can't iterate over {fmt_v(value)}")
    if isinstance(value, Mapping):
        for key in sorted(value):
            yield key, value[key]
    elif isinstance(value, Sequence) and not is_namedtuple(value):
        yield from enumerate(value)
    elif isinstance(value, int) and not isinstance(value, bool):
        for i in range(value):
            yield i, i
    elif value is not None:
        raise FuncError(f"range can't iterate over {fmt_v(value)}")


def _invoke(name: str, fn: Callable[..., Any], args: list[Any]) -> Any:
    low, high = _ARITY[name]
    if len(args) < low or (high is not None and len(args) > high):
        want = f"at least {low}" if high is None else str(low)
        raise FuncError(f"wrong number of args for {name}: want {want} got {len(args)}")
    try:
        return fn(*args)
    except FuncError as err:
        raise FuncError(f"error calling {name}: {err}") from None


def _arity(fn: Callable[..., Any]) -> tuple[int, int | None]:
    params = inspect.signature(fn).parameters.values()
    if any(p.kind is p.VAR_POSITIONAL for p in params):
        return sum(p.kind is p.POSITIONAL_OR_KEYWORD for p in params), None
    return len(params), len(params)


_ARITY = {name: _arity(fn) for name, fn in FUNCS.items()}


class TemplateSet:
    """The templates defined by a set of files (later files replace earlier definitions, as
    Alertmanager's template globs do), ready to execute template texts against."""

    def __init__(self, files: Mapping[str, str] | None = None) -> None:
        defines: dict[str, tuple[Node, ...]] = {}
        for name, text in (files or {}).items():
            for define, body in parse(name, text).defines.items():
                if define not in defines or nonempty(body):
                    defines[define] = body
        self.defines: Mapping[str, tuple[Node, ...]] = defines

    def execute(
        self,
        text: str,
        data: Any,
        html: bool = False,
        fallback: Fallback | None = None,
        name: str = "inline",
        route_labels: RouteLabelResolver | None = None,
    ) -> str:
        """Render a template text with this set's definitions (and its own).

        `{{ template "x" }}` of a name no definition has asks `fallback(name, data, html)`, whose
        text is inserted as is; None means there is no such template either. `routeLabels "x"`
        asks `route_labels("x")`, by default the data's (rendered) `RouteLabels.x`. Raises
        GoTemplateError.
        """
        if not text:
            return ""
        parsed = parse(name, text)
        resolver = route_labels or _rendered_route_label(data)
        state = _Exec(ChainMap(parsed.defines, self.defines), fallback, html, resolver)  # type: ignore[arg-type]
        state.run(parsed.name, parsed.body, data)
        return "".join(state.out)
