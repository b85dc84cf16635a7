"""Go's text/template language, interpreted in a sandbox, for the templates operators write.

Why: an alertmanager.yml carries Go templates (an email `Subject` header such as
`[{{ .Status | toUpper }}] {{ .GroupLabels.app }}`, `html:` and `text:` bodies, `to:`, `from:`)
and `templates:` files of `{{ define "name" }}...{{ end }}` blocks. A drop-in replacement must
render them as Alertmanager does, so this module implements the part of text/template they use,
written from the language's documentation (not from Go's source):

- actions `{{ }}` with trim markers (`{{- ` and ` -}}` eat the whitespace beside them) and
  comments `{{/* */}}`; string (`"..."` with Go escapes, raw `` `...` ``), character, number,
  `true`/`false` and `nil` literals;
- field and key chains (`.A.B`, `$x.A`, `(pipeline).A`), `.`, `$`, variables declared with `:=`
  and assigned with `=`, pipelines `a | b`, parenthesised pipelines, function calls;
- `if`/`else if`/`else`, `range` (lists, maps in sorted key order, integers, `$i, $e :=`,
  `else`, `break`, `continue`), `with`/`else with`/`else`, `define`, `template`, `block`;
- Go's truth (false, 0, nil and empty strings, lists and maps are false) and its builtins `and`,
  `or` (both short-circuit), `not`, `len`, `index`, `slice`, `print`, `printf`, `println`, `eq`
  (with several arguments), `ne`, `lt`, `le`, `gt`, `ge`, `html`, `js`, `urlquery`. Not `call`:
  the template data holds no function values to call;
- every function of Alertmanager's `DefaultFuncs`: `toUpper`, `toLower`, `title`, `trimSpace`,
  `join`, `match`, `reReplaceAll`, `safeHtml`, `safeUrl`, `urlUnescape`, `stringSlice`, `date`,
  `tz`, `now`, `since`, `humanizeDuration`, `toDate`, `mustToDate`, `toJson`, `base64encode`,
  `base64decode`, `list`, `append`, `dict` and `routeLabels` (always empty: alerter's routes
  carry no labels). Regexes follow RE2 through `app.matchers.compile_regex`.

Values. The data is plain Python: str, int, float, bool, None, datetime (Go's time.Time, with
`Format`, `Unix`, `UTC`, ... and Go's layouts), timedelta (time.Duration), lists, mappings and:
- `Struct`, a dict whose keys are the fields of a Go struct: naming a field it lacks is an
  error, as it is in Go, where `.Alert` for `.Alerts` fails the notification instead of being empty;
- any other mapping is a Go map of strings: a missing key gives "" (Alertmanager's
  `missingkey=zero` on its `KV` maps), so `{{ .CommonLabels.severity }}` of an alert without that
  label renders empty;
- a NamedTuple is a struct of its fields;
- a class may list in `TEMPLATE_METHODS` the attributes and methods templates may reach on its
  instances (`.Alerts.Firing`, `.CommonLabels.Remove .GroupLabels.Names`); they come before map
  keys, as Go's methods do, and one named `String` is how its values print.

Sandbox: nothing else of a Python object is reachable. A field name is looked up only as a
mapping key, a NamedTuple field or a declared name, so `.__class__` or `.append` is a "can't
evaluate field" error; there is no eval, no attribute access by name, and template calls nest at
most `MAX_DEPTH` deep.

HTML. Alertmanager renders email `html` with html/template, whose escaping depends on where a
value lands (text, attribute, URL, script). This interpreter does not parse the HTML around
actions: with `html=True` it escapes every value an action prints as HTML text (`&`, `<`, `>`,
quotes and `+`, as html/template does in text) unless it comes from `safeHtml` (or the `html`
escaper, so it is not escaped twice). That is what html/template does in text and quoted
attributes; it does not rewrite `javascript:` URLs in `href` attributes to `#ZgotmplZ` nor apply
JavaScript escaping inside `<script>`. Output of `template` calls is inserted as rendered.

Errors are `GoTemplateError`s: a `ParseError` names the template and line
(`template: NAME:LINE: MESSAGE`, Go's wording), an `ExecError` also names the failing action
(`template: NAME:LINE: executing "NAME" at <ACTION>: MESSAGE`). Parsed templates are cached by
text, so each distinct template text is parsed once.
"""

from __future__ import annotations

import base64
import binascii
import inspect
import json
import math
import re
from collections import ChainMap
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from functools import lru_cache, partial
from typing import Any, NamedTuple
from urllib.parse import quote_plus, unquote_plus
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from app.matchers import compile_regex, go_quote, go_unquote

MAX_DEPTH = 50  # nested {{ template }} calls; Python's stack, not Go's, is the limit here
GO_ZERO_TIME = datetime(1, 1, 1, tzinfo=UTC)


class GoTemplateError(Exception):
    """A template that does not parse or execute; the message says where and why."""


class ParseError(GoTemplateError):
    """Go's parser would refuse this template: `template: NAME:LINE: MESSAGE`."""


class ExecError(GoTemplateError):
    """Executing an action failed: `template: NAME:LINE: executing "NAME" at <ACTION>: MESSAGE`."""


class _FuncError(Exception):
    """Raised inside functions and field lookups; the executor adds the template and action."""


class SafeHTML(str):
    """Text that HTML output inserts as is: what `safeHtml` and the `html` escaper return."""


class Struct(dict[str, Any]):
    """A Go struct value: its keys are its fields, in declaration order.

    Unlike a map, naming a field it does not have is an error. toJson lowers the first letter of
    each field name, which is how Alertmanager's template data tags its fields in JSON.
    """


# --- Lexer ---------------------------------------------------------------------------------------


class _Token(NamedTuple):
    kind: str  # field, var, dot, ident, keyword, literal, ( ) | , := =
    value: Any
    line: int
    spaced: bool  # whitespace came before it: `(x).A` chains a field, `(x) .A` is an argument


@dataclass(frozen=True, slots=True)
class _ActionItem:
    tokens: tuple[_Token, ...]
    line: int
    source: str  # the action's text, for error messages

    @property
    def keyword(self) -> str | None:
        first = self.tokens[0] if self.tokens else None
        return first.value if first is not None and first.kind == "keyword" else None


_KEYWORDS = frozenset(
    {"if", "else", "end", "range", "with", "define", "template", "block", "break", "continue"}
)
_SPACE = " \t\r\n"
_IDENT = re.compile(r"[^\W\d]\w*")
_FIELDS = re.compile(r"(?:\.[^\W\d]\w*)+")
_VAR = re.compile(r"\$\w*")
_NUMBER = re.compile(
    r"[+-]?(?:0[xX][0-9a-fA-F_]+|0[bB][01_]+|0[oO][0-7_]+"
    r"|(?:\d[\d_]*(?:\.[\d_]*)?|\.\d[\d_]*)(?:[eE][+-]?\d+)?)"
)
_STRING = re.compile(r'"(?:[^"\\\n]|\\.)*"')
_CHAR = re.compile(r"'(?:[^'\\\n]|\\.)+'")
_PUNCT = (":=", "(", ")", "|", ",", "=")


class _Lexer:
    """Splits a template into text chunks and actions (lists of tokens), applying trim markers."""

    def __init__(self, name: str, text: str) -> None:
        self.name = name
        self.text = text
        self.pos = 0
        self.line = 1

    def error(self, message: str, line: int | None = None) -> ParseError:
        return ParseError(f"template: {self.name}:{line or self.line}: {message}")

    def items(self) -> list[str | _ActionItem]:
        items: list[str | _ActionItem] = []
        text, trim_next = self.text, False
        while True:
            start = text.find("{{", self.pos)
            chunk = text[self.pos :] if start < 0 else text[self.pos : start]
            if trim_next:
                chunk = chunk.lstrip(_SPACE)
            if start < 0:
                if chunk:
                    items.append(chunk)
                return items
            trim_left = (
                text.startswith("-", start + 2) and len(text) > start + 3 and text[start + 3] in _SPACE
            )
            if trim_left:
                chunk = chunk.rstrip(_SPACE)
            if chunk:
                items.append(chunk)
            self.line += text.count("\n", self.pos, start)
            self.pos = start + (3 if trim_left else 2)
            action, trim_next = self._action(start)
            if action is not None:
                items.append(action)

    def _action(self, start: int) -> tuple[_ActionItem | None, bool]:
        """Lex one action from self.pos (just inside `{{`); return it (None for a comment)."""
        first_line = self.line
        while self.text.startswith(tuple(_SPACE), self.pos) and not self._at_comment():
            self._advance(1)
        if self._at_comment():
            return None, self._comment()
        tokens: list[_Token] = []
        spaced = True
        while True:
            if self.pos >= len(self.text):
                raise self.error(f"unclosed action started at {self.name}:{first_line}")
            if self.text.startswith("}}", self.pos):
                self.pos += 2
                return self._item(tokens, first_line, start, self.pos - 2), False
            if self.text[self.pos] in _SPACE:
                end = self.pos
                while end < len(self.text) and self.text[end] in _SPACE:
                    end += 1
                self._advance(end - self.pos)
                if self.text.startswith("-}}", self.pos):
                    self.pos += 3
                    return self._item(tokens, first_line, start, self.pos - 3), True
                spaced = True
                continue
            tokens.append(self._token(spaced))
            spaced = False

    def _item(self, tokens: list[_Token], line: int, start: int, end: int) -> _ActionItem:
        source = " ".join(self.text[start + 2 : end].strip(_SPACE + "-").split())
        return _ActionItem(tuple(tokens), line, source)

    def _at_comment(self) -> bool:
        return self.text.startswith("/*", self.pos)

    def _comment(self) -> bool:
        end = self.text.find("*/", self.pos + 2)
        if end < 0:
            raise self.error("unclosed comment")
        self._advance(end + 2 - self.pos)
        for closing, trim in (("}}", False), (" -}}", True)):
            if self.text.startswith(closing, self.pos):
                self.pos += len(closing)
                return trim
        raise self.error("comment ends before closing delimiter")

    def _advance(self, n: int) -> None:
        self.line += self.text.count("\n", self.pos, self.pos + n)
        self.pos += n

    def _token(self, spaced: bool) -> _Token:
        text, pos, line = self.text, self.pos, self.line
        ch = text[pos]
        if ch in "\"'":
            m = (_STRING if ch == '"' else _CHAR).match(text, pos)
            if m is None:
                raise self.error(
                    "unterminated quoted string" if ch == '"' else "unterminated character constant"
                )
            self.pos = m.end()
            return _Token(
                "literal", self._literal("string" if ch == '"' else "char", m.group(0)), line, spaced
            )
        if ch.isdigit() or (ch in "+-." and text[pos + 1 : pos + 2].isdigit()):
            m = _NUMBER.match(text, pos)
            assert m is not None  # a digit always starts a number
            self.pos = m.end()
            return _Token("literal", self._literal("number", m.group(0)), line, spaced)
        if ch == "`":
            end = text.find("`", pos + 1)
            if end < 0:
                raise self.error("unterminated raw quoted string")
            self._advance(end + 1 - pos)
            return _Token("literal", text[pos + 1 : end], line, spaced)
        if ch == "$":
            name = _VAR.match(text, pos).group(0)  # type: ignore[union-attr]
            self.pos += len(name)
            return _Token("var", (name, self._fields()), line, spaced)
        if ch == ".":
            fields = self._fields()
            if fields:
                return _Token("field", fields, line, spaced)
            self.pos += 1
            return _Token("dot", None, line, spaced)
        if m := _IDENT.match(text, pos):
            self.pos = m.end()
            word = m.group(0)
            if word in ("true", "false"):
                return _Token("literal", word == "true", line, spaced)
            if word == "nil":
                return _Token("nil", None, line, spaced)
            return _Token("keyword" if word in _KEYWORDS else "ident", word, line, spaced)
        punct = next((p for p in _PUNCT if text.startswith(p, pos)), None)
        if punct is None:
            raise self.error(f"bad character {ch!r} in action")
        self.pos += len(punct)
        return _Token(punct, punct, line, spaced)

    def _fields(self) -> tuple[str, ...]:
        m = _FIELDS.match(self.text, self.pos)
        if not m:
            return ()
        self.pos = m.end()
        return tuple(m.group(0)[1:].split("."))

    def _literal(self, kind: str, text: str) -> Any:
        try:
            if kind == "string":
                return go_unquote(text)
            if kind == "char":
                value = go_unquote('"' + text[1:-1].replace("\\'", "'").replace('"', '\\"') + '"')
                if len(value) != 1:
                    raise ValueError("invalid syntax")
                return ord(value)
            return _number(text)
        except ValueError:
            raise self.error(f"bad {kind} syntax: {text}") from None


def _number(text: str) -> int | float:
    """A Go number literal: decimal, hex, octal (0o17 or 017), binary, or floating point."""
    plain = text.replace("_", "")
    digits = plain.lstrip("+-")
    if digits[:2].lower() in ("0x", "0b", "0o"):
        return int(plain, 0)
    if any(c in digits for c in ".eE"):
        return float(plain)
    if len(digits) > 1 and digits.startswith("0"):
        return int(plain, 8)
    return int(plain)


# --- Parse tree ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Field:
    names: tuple[str, ...]  # .A.B: fields of dot


@dataclass(frozen=True, slots=True)
class _Variable:
    name: str
    names: tuple[str, ...]  # $x.A.B


@dataclass(frozen=True, slots=True)
class _Chain:
    pipe: _Pipe  # (pipeline).A.B
    names: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Ident:
    name: str  # a function


@dataclass(frozen=True, slots=True)
class _Literal:
    value: Any


@dataclass(frozen=True, slots=True)
class _Dot:
    pass


@dataclass(frozen=True, slots=True)
class _Nil:
    pass


_Operand = _Field | _Variable | _Chain | _Ident | _Literal | _Dot | _Nil


@dataclass(frozen=True, slots=True)
class _Pipe:
    decl: tuple[str, ...]
    assign: bool  # `=` rather than `:=`
    cmds: tuple[tuple[_Operand | _Pipe, ...], ...]


@dataclass(frozen=True, slots=True)
class _Action:
    pipe: _Pipe
    line: int
    source: str


@dataclass(frozen=True, slots=True)
class _Control:
    kind: str  # if, range, with
    pipe: _Pipe
    body: tuple[_Node, ...]
    orelse: tuple[_Node, ...]
    line: int
    source: str


@dataclass(frozen=True, slots=True)
class _Call:
    name: str  # {{ template "name" pipeline }}
    pipe: _Pipe | None
    line: int
    source: str


@dataclass(frozen=True, slots=True)
class _Jump:
    kind: str  # break, continue
    line: int
    source: str


_Node = str | _Action | _Control | _Call | _Jump


@dataclass(frozen=True, slots=True)
class Parsed:
    """One parsed template text: its own body and the templates it defines."""

    name: str
    body: tuple[_Node, ...]
    defines: Mapping[str, tuple[_Node, ...]]


class _Parser:
    """Recursive descent over the lexer's items, checking what Go's parser checks."""

    def __init__(self, name: str, text: str) -> None:
        self.name = name
        self.items = _Lexer(name, text).items()
        self.i = 0
        self.eof_line = text.count("\n") + 1
        self.vars = ["$"]
        self.ranges = 0  # enclosing {{ range }}s, for break and continue
        self.defines: dict[str, tuple[_Node, ...]] = {}

    def error(self, line: int, message: str) -> ParseError:
        return ParseError(f"template: {self.name}:{line}: {message}")

    def parse(self) -> Parsed:
        body, _ = self._list(frozenset(), top=True)
        return Parsed(self.name, body, self.defines)

    def _list(self, stops: frozenset[str], top: bool = False) -> tuple[tuple[_Node, ...], _ActionItem]:
        nodes: list[_Node] = []
        while self.i < len(self.items):
            item = self.items[self.i]
            self.i += 1
            if isinstance(item, str):
                nodes.append(item)
                continue
            keyword = item.keyword
            if keyword in ("end", "else"):
                if keyword not in stops:
                    raise self.error(item.line, f"unexpected {{{{{keyword}}}}}")
                return tuple(nodes), item
            if keyword == "define":
                if not top:
                    raise self.error(item.line, "{{define}} is only allowed at the top level")
                self._define(item)
            else:
                nodes.append(self._action(item))
        if stops:
            raise self.error(self.eof_line, "unexpected EOF")
        return tuple(nodes), _ActionItem((), self.eof_line, "")

    def _action(self, item: _ActionItem) -> _Node:
        keyword, tokens = item.keyword, item.tokens
        if keyword in ("if", "range", "with"):
            return self._control(item, keyword)
        if keyword == "template":
            return self._template(item)
        if keyword == "block":
            return self._block(item)
        if keyword in ("break", "continue"):
            if self.ranges == 0:
                raise self.error(item.line, f"{{{{{keyword}}}}} outside {{{{range}}}}")
            if len(tokens) > 1:
                raise self.error(item.line, f"unexpected {_show(tokens[1])} in {{{{{keyword}}}}}")
            return _Jump(keyword, item.line, item.source)
        if keyword is not None:
            raise self.error(item.line, f"unexpected <{keyword}> in command")
        return _Action(self._pipeline(tokens, item.line, "command", decl=True), item.line, item.source)

    def _control(self, item: _ActionItem, kind: str) -> _Control:
        mark = len(self.vars)
        self.ranges += kind == "range"
        pipe = self._pipeline(item.tokens[1:], item.line, kind, decl=True)
        body, end = self._list(frozenset({"end", "else"}))
        self.ranges -= kind == "range"
        orelse: tuple[_Node, ...] = ()
        rest = end.tokens[1:]
        if end.keyword == "else" and rest and rest[0].value == kind and kind != "range":
            # {{ else if x }} / {{ else with x }}: a control in the else branch sharing the {{ end }}.
            orelse = (self._control(_ActionItem(rest, end.line, end.source), kind),)
        elif end.keyword == "else":
            self._check_bare(end)
            orelse, end = self._list(frozenset({"end"}))
            self._check_bare(end)
        else:
            self._check_bare(end)
        del self.vars[mark:]
        return _Control(kind, pipe, body, orelse, item.line, item.source)

    def _check_bare(self, item: _ActionItem) -> None:
        if len(item.tokens) > 1:
            raise self.error(item.line, f"unexpected {_show(item.tokens[1])} in {item.keyword}")

    def _name(self, item: _ActionItem, clause: str) -> str:
        tokens = item.tokens
        if len(tokens) < 2 or tokens[1].kind != "literal" or not isinstance(tokens[1].value, str):
            found = _show(tokens[1]) if len(tokens) > 1 else "end of action"
            raise self.error(item.line, f"unexpected {found} in {clause} clause")
        return tokens[1].value

    def _template(self, item: _ActionItem) -> _Call:
        name = self._name(item, "template")
        rest = item.tokens[2:]
        pipe = self._pipeline(rest, item.line, "template", decl=False) if rest else None
        return _Call(name, pipe, item.line, item.source)

    def _define(self, item: _ActionItem) -> None:
        name = self._name(item, "define")
        if len(item.tokens) > 2:
            raise self.error(item.line, f"unexpected {_show(item.tokens[2])} in define clause")
        self._add(name, self._body(), item.line)

    def _block(self, item: _ActionItem) -> _Call:
        name = self._name(item, "block")
        if len(item.tokens) < 3:
            raise self.error(item.line, "missing pipeline in block clause")
        pipe = self._pipeline(item.tokens[2:], item.line, "block", decl=False)
        self._add(name, self._body(), item.line)
        return _Call(name, pipe, item.line, item.source)

    def _body(self) -> tuple[_Node, ...]:
        """A defined template's body: its own variables ($ only) and no enclosing range."""
        saved = self.vars, self.ranges
        self.vars, self.ranges = ["$"], 0
        body, end = self._list(frozenset({"end"}))
        self._check_bare(end)
        self.vars, self.ranges = saved
        return body

    def _add(self, name: str, body: tuple[_Node, ...], line: int) -> None:
        existing = self.defines.get(name)
        if existing is not None and _nonempty(existing) and _nonempty(body):
            raise self.error(line, f"multiple definition of template {go_quote(name)}")
        if existing is None or _nonempty(body):
            self.defines[name] = body

    def _pipeline(self, tokens: Sequence[_Token], line: int, context: str, decl: bool) -> _Pipe:
        names, assign, tokens = self._declarations(tokens, line, context) if decl else ((), False, tokens)
        if not tokens:
            raise self.error(line, f"missing value for {context}")
        cmds: list[tuple[_Operand | _Pipe, ...]] = []
        start = 0
        for k in [*_splits(tokens), len(tokens)]:
            if k == start:
                raise self.error(line, "missing value for command")
            cmds.append(self._command(tokens[start:k], line))
            start = k + 1
        for stage, cmd in enumerate(cmds[1:], start=2):
            if isinstance(cmd[0], _Literal | _Dot | _Nil):
                raise self.error(line, f"non executable command in pipeline stage {stage}")
        if not assign:
            self.vars.extend(names)
        return _Pipe(names, assign, tuple(cmds))

    def _declarations(
        self, tokens: Sequence[_Token], line: int, context: str
    ) -> tuple[tuple[str, ...], bool, Sequence[_Token]]:
        """The variables a pipeline declares or assigns (`$x :=`, `$i, $e :=` in range)."""
        kinds = [t.kind for t in tokens[:4]]
        if kinds[:2] in (["var", ":="], ["var", "="]):
            count = 1
        elif kinds[:4] in (["var", ",", "var", ":="], ["var", ",", "var", "="]):
            if context != "range":
                raise self.error(line, f"too many declarations in {context}")
            count = 2
        else:
            return (), False, tokens
        variables = [tokens[0], tokens[2]] if count == 2 else [tokens[0]]
        names = []
        for var in variables:
            name, fields = var.value
            if fields:
                raise self.error(line, f"unexpected {_show(var)} in declaration")
            names.append(name)
        assign = tokens[2 * count - 1].kind == "="
        if assign:
            for name in names:
                self._check_var(name, line)
        return tuple(names), assign, tokens[2 * count :]

    def _check_var(self, name: str, line: int) -> None:
        if name not in self.vars:
            raise self.error(line, f"undefined variable {go_quote(name)}")

    def _command(self, tokens: Sequence[_Token], line: int) -> tuple[_Operand | _Pipe, ...]:
        args: list[_Operand | _Pipe] = []
        k = 0
        while k < len(tokens):
            if k > 0 and not tokens[k].spaced and tokens[k].kind != "(":
                raise self.error(line, f"unexpected {_show(tokens[k])} in operand")
            node, k = self._operand(tokens, k, line)
            args.append(node)
        return tuple(args)

    def _operand(self, tokens: Sequence[_Token], k: int, line: int) -> tuple[_Operand | _Pipe, int]:
        tok = tokens[k]
        if tok.kind == "(":
            end = _closing(tokens, k)
            if end < 0:
                raise self.error(line, "unclosed left paren")
            pipe = self._pipeline(tokens[k + 1 : end], line, "parenthesized pipeline", decl=False)
            after = tokens[end + 1] if end + 1 < len(tokens) else None
            if after is not None and after.kind == "field" and not after.spaced:
                return _Chain(pipe, after.value), end + 2
            return pipe, end + 1
        if tok.kind == "field":
            return _Field(tok.value), k + 1
        if tok.kind == "var":
            self._check_var(tok.value[0], line)
            return _Variable(*tok.value), k + 1
        if tok.kind == "ident":
            if tok.value not in FUNCS and tok.value not in _SHORT_CIRCUIT:
                hint = f" (fields start with a dot: .{tok.value})" if tok.value[:1].isupper() else ""
                raise self.error(line, f"function {go_quote(tok.value)} not defined{hint}")
            return _Ident(tok.value), k + 1
        if tok.kind == "literal":
            return _Literal(tok.value), k + 1
        if tok.kind == "dot":
            return _Dot(), k + 1
        if tok.kind == "nil":
            return _Nil(), k + 1
        raise self.error(line, f"unexpected {_show(tok)} in operand")


def _show(tok: _Token) -> str:
    """A token as error messages quote it."""
    if tok.kind == "field":
        return "<." + ".".join(tok.value) + ">"
    if tok.kind == "var":
        return "<" + ".".join([tok.value[0], *tok.value[1]]) + ">"
    if tok.kind == "literal":
        return go_quote(tok.value) if isinstance(tok.value, str) else f"<{_fmt_v(tok.value)}>"
    return f"<{tok.value if tok.value is not None else tok.kind}>"


def _splits(tokens: Sequence[_Token]) -> Iterator[int]:
    """Indexes of the `|` separating the commands of a pipeline (not those inside parentheses)."""
    depth = 0
    for k, tok in enumerate(tokens):
        depth += (tok.kind == "(") - (tok.kind == ")")
        if tok.kind == "|" and depth == 0:
            yield k


def _closing(tokens: Sequence[_Token], k: int) -> int:
    depth = 0
    for j in range(k, len(tokens)):
        depth += (tokens[j].kind == "(") - (tokens[j].kind == ")")
        if depth == 0:
            return j
    return -1


def _nonempty(body: tuple[_Node, ...]) -> bool:
    """Go's IsEmptyTree: only whitespace text. An empty define never replaces a full one."""
    return any(not isinstance(n, str) or n.strip() for n in body)


@lru_cache(maxsize=512)
def parse(name: str, text: str) -> Parsed:
    """Parse a template text once (cached by name and text); raise ParseError."""
    return _Parser(name, text).parse()


# --- Execution -----------------------------------------------------------------------------------


class _Break(Exception):
    pass


class _Continue(Exception):
    pass


_SHORT_CIRCUIT = frozenset({"and", "or"})
_NONE: Any = object()  # "no final value": the first command of a pipeline
_HTML_TEXT = str.maketrans(
    {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&#34;", "'": "&#39;", "+": "&#43;", "\0": "\ufffd"}
)
_HTML_FUNC = str.maketrans(
    {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&#34;", "'": "&#39;", "\0": "\ufffd"}
)
# What a Python bug or bad data inside a function may raise; reported as an error of the action.
_RUNTIME_ERRORS = (ArithmeticError, LookupError, TypeError, ValueError, re.error)

Fallback = Callable[[str, Any, bool], str | None]


class _Exec:
    """One execution: the output, the variables in scope and the template being run."""

    def __init__(self, templates: Mapping[str, tuple[_Node, ...]], fallback: Fallback | None, html: bool):
        self.templates = templates
        self.fallback = fallback
        self.html = html
        self.out: list[str] = []
        self.vars: list[tuple[str, Any]] = []
        self.name = ""
        self.depth = 0

    def run(self, name: str, body: tuple[_Node, ...], dot: Any) -> None:
        saved = self.vars, self.name
        self.vars, self.name = [("$", dot)], name
        try:
            self.walk(body, dot)
        finally:
            self.vars, self.name = saved

    def walk(self, nodes: tuple[_Node, ...], dot: Any) -> None:
        for node in nodes:
            if isinstance(node, str):
                self.out.append(node)
            elif isinstance(node, _Action):
                value = self.eval(node.pipe, node, dot)
                if not node.pipe.decl:
                    self.out.append(self.printed(value))
            elif isinstance(node, _Control):
                self.control(node, dot)
            elif isinstance(node, _Call):
                self.call(node, dot)
            else:
                raise _Break() if node.kind == "break" else _Continue()

    def printed(self, value: Any) -> str:
        text = "<no value>" if value is None else _fmt_v(value)
        if self.html and not isinstance(value, SafeHTML):
            return text.translate(_HTML_TEXT)
        return text

    def error(self, node: _Action | _Control | _Call, message: str) -> ExecError:
        where = f"{self.name}:{node.line}: executing {go_quote(self.name)} at <{node.source}>"
        return ExecError(f"template: {where}: {message}")

    def eval(self, pipe: _Pipe, node: _Action | _Control | _Call, dot: Any, declare: bool = True) -> Any:
        """Run a pipeline for an action; function errors become ExecErrors naming the action."""
        try:
            return self.pipe(pipe, dot, declare)
        except _FuncError as err:
            raise self.error(node, str(err)) from None
        except RecursionError:
            raise self.error(node, "the template nests too deeply") from None
        except _RUNTIME_ERRORS as err:
            raise self.error(node, f"{type(err).__name__}: {err}") from None

    def pipe(self, pipe: _Pipe, dot: Any, declare: bool = True) -> Any:
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
        raise _FuncError(f"undefined variable: {name}")

    def variable(self, name: str) -> Any:
        for var, value in reversed(self.vars):
            if var == name:
                return value
        raise _FuncError(f"undefined variable: {name}")

    def command(self, cmd: tuple[_Operand | _Pipe, ...], dot: Any, final: Any) -> Any:
        first, args = cmd[0], cmd[1:]
        if isinstance(first, _Ident):
            return self.function(first.name, args, final, dot)
        if isinstance(first, _Field):
            return self.chain(dot, first.names, args, final, dot)
        if isinstance(first, _Chain):
            return self.chain(self.pipe(first.pipe, dot), first.names, args, final, dot)
        if isinstance(first, _Variable) and first.names:
            return self.chain(self.variable(first.name), first.names, args, final, dot)
        if isinstance(first, _Nil):
            raise _FuncError("nil is not a command")
        if args or final is not _NONE:
            raise _FuncError(f"can't give argument to non-function {_describe(first)}")
        return self.arg(first, dot)

    def chain(self, receiver: Any, names: tuple[str, ...], args: Sequence[Any], final: Any, dot: Any) -> Any:
        """Follow `.A.B.C`; the last name receives the command's arguments (a method call)."""
        for name in names[:-1]:
            receiver = _field(receiver, name, [])
        values = [self.arg(a, dot) for a in args]
        if final is not _NONE:
            values.append(final)
        return _field(receiver, names[-1], values)

    def arg(self, node: _Operand | _Pipe, dot: Any) -> Any:
        if isinstance(node, _Literal):
            return node.value
        if isinstance(node, _Dot):
            return dot
        if isinstance(node, _Nil):
            return None
        if isinstance(node, _Field):
            return self.chain(dot, node.names, (), _NONE, dot)
        if isinstance(node, _Variable):
            value = self.variable(node.name)
            return self.chain(value, node.names, (), _NONE, dot) if node.names else value
        if isinstance(node, _Chain):
            return self.chain(self.pipe(node.pipe, dot), node.names, (), _NONE, dot)
        if isinstance(node, _Ident):
            return self.function(node.name, (), _NONE, dot)
        return self.pipe(node, dot)

    def function(self, name: str, args: Sequence[_Operand | _Pipe], final: Any, dot: Any) -> Any:
        if name in _SHORT_CIRCUIT:
            return self.and_or(name == "and", args, final, dot)
        values = [self.arg(a, dot) for a in args]
        if final is not _NONE:
            values.append(final)
        return _invoke(name, FUNCS[name], values)

    def and_or(self, is_and: bool, args: Sequence[_Operand | _Pipe], final: Any, dot: Any) -> Any:
        """Go 1.18's `and`/`or`: the first argument that decides, evaluating no further."""
        if len(args) + (final is not _NONE) < 1:
            raise _FuncError(f"wrong number of args for {'and' if is_and else 'or'}: want at least 1 got 0")
        thunks: list[Callable[[], Any]] = [lambda a=a: self.arg(a, dot) for a in args]
        if final is not _NONE:
            thunks.append(lambda: final)
        value = None
        for thunk in thunks:
            value = thunk()
            if _truth(value) != is_and:
                return value
        return value

    def control(self, node: _Control, dot: Any) -> None:
        mark = len(self.vars)
        try:
            if node.kind == "range":
                self.range(node, dot)
                return
            value = self.eval(node.pipe, node, dot)
            if _truth(value):
                self.walk(node.body, value if node.kind == "with" else dot)
            else:
                self.walk(node.orelse, dot)
        finally:
            del self.vars[mark:]

    def range(self, node: _Control, dot: Any) -> None:
        value = self.eval(node.pipe, node, dot, declare=False)
        try:
            pairs = list(_iterate(value))
        except _FuncError as err:
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

    def call(self, node: _Call, dot: Any) -> None:
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


def _describe(node: _Operand | _Pipe) -> str:
    if isinstance(node, _Literal):
        return _fmt_v(node.value) if not isinstance(node.value, str) else go_quote(node.value)
    if isinstance(node, _Variable):
        return node.name
    return "." if isinstance(node, _Dot) else "(pipeline)"


def _iterate(value: Any) -> Iterator[tuple[Any, Any]]:
    """(key, element) pairs of range: list indexes, map keys in sorted order, or 0..n-1."""
    if isinstance(value, Struct | str | bytes):
        raise _FuncError(f"range can't iterate over {_fmt_v(value)}")
    if isinstance(value, Mapping):
        for key in sorted(value):
            yield key, value[key]
    elif isinstance(value, Sequence) and not _is_namedtuple(value):
        yield from enumerate(value)
    elif isinstance(value, int) and not isinstance(value, bool):
        for i in range(value):
            yield i, i
    elif value is not None:
        raise _FuncError(f"range can't iterate over {_fmt_v(value)}")


def _invoke(name: str, fn: Callable[..., Any], args: list[Any]) -> Any:
    low, high = _ARITY[name]
    if len(args) < low or (high is not None and len(args) > high):
        want = f"at least {low}" if high is None else str(low)
        raise _FuncError(f"wrong number of args for {name}: want {want} got {len(args)}")
    try:
        return fn(*args)
    except _FuncError as err:
        raise _FuncError(f"error calling {name}: {err}") from None


def _is_namedtuple(value: Any) -> bool:
    return isinstance(value, tuple) and hasattr(type(value), "_fields")


def _declared(value: Any) -> frozenset[str]:
    return getattr(type(value), "TEMPLATE_METHODS", frozenset())


def _field(receiver: Any, name: str, args: list[Any]) -> Any:
    """`.name` of a value: a declared method or attribute, a struct field or a map key. Nothing
    else of a Python object is reachable (the sandbox)."""
    if name in _declared(receiver):
        member = getattr(receiver, name)
        if callable(member):
            return _call_method(name, member, args)
        if args:
            raise _FuncError(f"{name} is not a method but has arguments")
        return member
    if isinstance(receiver, datetime | timedelta) and name in _TIME_METHODS:
        method = _TIME_METHODS[name]
        if not isinstance(receiver, method[0]):
            raise _FuncError(f"can't evaluate field {name} in type {_go_type(receiver)}")
        return _call_method(name, partial(method[1], receiver), args)
    if args:
        raise _FuncError(f"{name} has arguments but cannot be invoked as function")
    if isinstance(receiver, Struct):
        if name in receiver:
            return receiver[name]
    elif _is_namedtuple(receiver):
        if name in receiver._fields:
            return getattr(receiver, name)
    elif isinstance(receiver, Mapping):
        return receiver.get(name, "")
    elif receiver is None:
        raise _FuncError(f"nil pointer evaluating interface {{}}.{name}")
    raise _FuncError(f"can't evaluate field {name} in type {_go_type(receiver)}")


def _call_method(name: str, member: Callable[..., Any], args: list[Any]) -> Any:
    try:
        inspect.signature(member).bind(*args)
    except TypeError:
        raise _FuncError(f"wrong number of args for {name}: got {len(args)}") from None
    return member(*args)


# --- Values: truth, printing, comparison ---------------------------------------------------------


def _truth(value: Any) -> bool:
    """Go's truth: false, 0, nil and empty strings, lists and maps are false; structs are true."""
    if value is None:
        return False
    if isinstance(value, bool | int | float | str | timedelta):
        return bool(value)
    if isinstance(value, Struct) or _is_namedtuple(value):
        return True
    if isinstance(value, Mapping | Sequence):
        return len(value) > 0
    return True


def _go_type(value: Any) -> str:
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


def _fmt_v(value: Any) -> str:
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
        return _go_float(value)
    if isinstance(value, datetime):
        return _format_time(value, "2006-01-02 15:04:05.999999999 -0700 MST")
    if isinstance(value, timedelta):
        return _duration_string(value)
    if "String" in _declared(value):
        return str(value.String())
    if isinstance(value, Struct):
        return "{" + " ".join(_fmt_v(v) for v in value.values()) + "}"
    if _is_namedtuple(value):
        return "{" + " ".join(_fmt_v(v) for v in value) + "}"
    if isinstance(value, Mapping):
        return "map[" + " ".join(f"{k}:{_fmt_v(value[k])}" for k in sorted(value)) + "]"
    if isinstance(value, Sequence):
        return "[" + " ".join(_fmt_v(v) for v in value) + "]"
    return f"<{type(value).__name__}>"


def _go_float(value: float) -> str:
    """Go's %v of a float64: the shortest digits, in exponent form below 1e-4 or from 1e6 on."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    sign, digits, exponent = Decimal(repr(value)).as_tuple()
    text = "".join(map(str, digits)).rstrip("0") or "0"
    power = len(digits) + int(exponent) - 1
    minus = "-" if sign else ""
    if value != 0 and (power < -4 or power >= 6):
        mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
        return f"{minus}{mantissa}e{'-' if power < 0 else '+'}{abs(power):02d}"
    plain = format(Decimal(repr(value)), "f")
    return plain.rstrip("0").rstrip(".") if "." in plain else plain


def _sprint(args: Sequence[Any]) -> str:
    """Go's fmt.Sprint: a space between operands when neither is a string."""
    out: list[str] = []
    for k, arg in enumerate(args):
        if k > 0 and not isinstance(arg, str) and not isinstance(args[k - 1], str):
            out.append(" ")
        out.append(_fmt_v(arg))
    return "".join(out)


def _comparable(a: Any, b: Any, ordered: bool) -> tuple[Any, Any]:
    """The two values as Python compares them, or a _FuncError worded like Go's."""
    if isinstance(a, bool) and isinstance(b, bool):
        if ordered:
            raise _FuncError("invalid type for comparison")
        return a, b
    if (isinstance(a, str) and isinstance(b, str)) or (_is_number(a) and _is_number(b)):
        return a, b
    if not ordered and (a is None or b is None):
        return a is None, b is None
    for value in (a, b):
        if isinstance(value, Mapping | list | tuple):
            raise _FuncError(f"non-comparable type {_fmt_v(value)}: {_go_type(value)}")
    raise _FuncError("incompatible types for comparison")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _eq(first: Any, *others: Any) -> bool:
    if not others:
        raise _FuncError("missing argument for comparison")
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


# --- Builtins --------------------------------------------------------------------------------------


def _string(value: Any) -> str:
    if not isinstance(value, str):
        raise _FuncError(f"wrong type for value; expected string; got {_go_type(value)}")
    return str(value)


def _strings(value: Any) -> list[str]:
    if (
        isinstance(value, str)
        or not isinstance(value, Sequence)
        or not all(isinstance(v, str) for v in value)
    ):
        raise _FuncError(f"wrong type for value; expected []string; got {_go_type(value)}")
    return [str(v) for v in value]


def _time(value: Any) -> datetime:
    if not isinstance(value, datetime):
        raise _FuncError(f"wrong type for value; expected time.Time; got {_go_type(value)}")
    return value


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _FuncError(f"cannot index slice/array with type {_go_type(value)}")
    return value


def _len(value: Any) -> int:
    if isinstance(value, str):
        return len(value.encode())  # Go counts bytes
    if isinstance(value, Mapping | Sequence) and not isinstance(value, Struct) and not _is_namedtuple(value):
        return len(value)
    raise _FuncError(f"len of type {_go_type(value)}")


def _index(item: Any, *keys: Any) -> Any:
    for key in keys:
        if isinstance(item, Mapping) and not isinstance(item, Struct):
            item = item.get(key, "")
        elif isinstance(item, str):
            data = item.encode()
            item = data[_bounded(_int(key), len(data))]
        elif isinstance(item, Sequence) and not _is_namedtuple(item):
            item = item[_bounded(_int(key), len(item))]
        else:
            raise _FuncError(f"can't index item of type {_go_type(item)}")
    return item


def _bounded(k: int, size: int, inclusive: bool = False) -> int:
    if k < 0 or k > size or (k == size and not inclusive):
        raise _FuncError(f"index out of range: {k}")
    return k


def _slice(item: Any, *indexes: Any) -> Any:
    if len(indexes) > 3:
        raise _FuncError(f"too many slice indexes: {len(indexes)}")
    if isinstance(item, str):
        if len(indexes) == 3:
            raise _FuncError("cannot 3-index slice a string")
        return _slice_bounds(item.encode(), indexes).decode(errors="replace")
    if not isinstance(item, Sequence) or _is_namedtuple(item):
        raise _FuncError(f"can't slice item of type {_go_type(item)}")
    return list(_slice_bounds(item, indexes))


def _slice_bounds(item: Any, indexes: Sequence[Any]) -> Any:
    """item[low:high] (Go's third index, the capacity, changes nothing for a copy)."""
    bounds = [_bounded(_int(k), len(item), inclusive=True) for k in indexes[:2]]
    low = bounds[0] if bounds else 0
    high = bounds[1] if len(bounds) > 1 else len(item)
    if low > high:
        raise _FuncError(f"invalid slice index: {low} > {high}")
    return item[low:high]


def _escape_args(args: Sequence[Any]) -> str:
    """The escapers take their arguments the way Go's do: one string as is, else fmt.Sprint."""
    if len(args) == 1 and isinstance(args[0], str):
        return str(args[0])
    return _sprint(args)


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
    fmt = _string(fmt)
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
        extra = ", ".join(f"{_go_type(a)}={_fmt_v(a)}" for a in args[used:])
        out.append(f"%!(EXTRA {extra})")
    return "".join(out)


def _format_verb(flags: str, width: str | None, precision: str | None, verb: str, value: Any) -> str:
    number = isinstance(value, int | float) and not isinstance(value, bool)
    text = _verb_text(verb, precision, value)
    if text is None:
        return f"%!{verb}({_go_type(value)}={_fmt_v(value)})"
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
        return _fmt_v(value)
    if verb == "s":
        text = _fmt_v(value) if not isinstance(value, bool | int | float) else None
        return text[:prec] if text is not None and prec is not None else text
    if verb == "q":
        if isinstance(value, str):
            return go_quote(value)
        return f"'{chr(value)}'" if is_int else None
    if verb == "t":
        return _fmt_v(value) if isinstance(value, bool) else None
    if verb in "dboxXc" and is_int:
        spec = {"d": "d", "b": "b", "o": "o", "x": "x", "X": "X"}
        return chr(value) if verb == "c" else format(value, spec[verb])
    if verb in "xX" and isinstance(value, str):
        text = value.encode().hex()
        return text.upper() if verb == "X" else text
    if verb in "feEgG" and isinstance(value, float):
        if verb in "gG" and prec is None:
            return _go_float(value)
        return format(value, f".{6 if prec is None else prec}{verb}")
    return None


# --- Alertmanager's functions --------------------------------------------------------------------


def _title(text: Any) -> str:
    """Title case word by word (Go's cases.Title): the first letter up, the rest down."""
    return re.sub(r"\w+(?:['\u2019]\w+)*", lambda m: m[0][:1].upper() + m[0][1:].lower(), _string(text))


def _join(sep: Any, items: Any) -> str:
    return _string(sep).join(_strings(items))


def _regex(pattern: Any) -> re.Pattern[str]:
    try:
        return compile_regex(_string(pattern))
    except ValueError as err:
        raise _FuncError(str(err)) from None


def _match(pattern: Any, text: Any) -> bool:
    return _regex(pattern).search(_string(text)) is not None


_EXPAND = re.compile(r"\$(?:\{(\w+)\}|(\w+)|(\$))")


def _re_replace_all(pattern: Any, repl: Any, text: Any) -> str:
    """Go's ReplaceAllString: `$1`, `${1}`, `$name` and `$$` in the replacement; an unknown group
    (`$1x` names group "1x") is empty."""
    regex, template = _regex(pattern), _string(repl)

    def expand(m: re.Match[str]) -> str:
        def group(g: re.Match[str]) -> str:
            if g.group(3):
                return "$"
            name = g.group(1) or g.group(2)
            try:
                return m.group(int(name) if name.isdigit() else name) or ""
            except IndexError:  # no such group
                return ""

        return _EXPAND.sub(group, template)

    return regex.sub(expand, _string(text))


def _url_unescape(text: Any) -> str:
    raw = _string(text)
    if bad := re.search(r"%(?![0-9a-fA-F]{2})", raw):
        raise _FuncError(f"invalid URL escape {go_quote(raw[bad.start() : bad.start() + 3])}")
    return unquote_plus(raw)


def _date(layout: Any, t: Any) -> str:
    return _format_time(_time(t), _string(layout))


def _tz(name: Any, t: Any) -> datetime:
    zone = _string(name)
    try:
        location: Any = UTC if zone in ("", "UTC") else ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise _FuncError(f"unknown time zone {zone}") from None
    return _time(t).astimezone(location)


def _now() -> datetime:
    return datetime.now().astimezone()


def _since(t: Any) -> timedelta:
    return datetime.now(UTC) - _time(t)


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
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return format(value, ".4g")


def _to_float(value: Any) -> float:
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            raise _FuncError(f"strconv.ParseFloat: parsing {go_quote(value)}: invalid syntax") from None
    raise _FuncError(f"can't convert {_go_type(value)} to float")


def _to_date(layout: Any, text: Any) -> datetime:
    try:
        return _parse_time(_string(layout), _string(text))
    except _FuncError:
        return GO_ZERO_TIME


def _must_to_date(layout: Any, text: Any) -> datetime:
    return _parse_time(_string(layout), _string(text))


def _to_json(value: Any) -> str:
    """Go's json.Marshal: compact, map keys sorted, `<`, `>` and `&` escaped."""
    text = json.dumps(_jsonable(value), ensure_ascii=False, separators=(",", ":"), sort_keys=False)
    for ch, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(ch, escaped)
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return _format_time(value, "2006-01-02T15:04:05.999999999Z07:00")
    if isinstance(value, timedelta):
        return value // timedelta(microseconds=1) * 1000
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return int(value)
    if isinstance(value, Struct):
        return {k[:1].lower() + k[1:]: _jsonable(v) for k, v in value.items()}
    if _is_namedtuple(value):
        return {k: _jsonable(v) for k, v in zip(value._fields, value, strict=True)}
    if isinstance(value, Mapping):
        return {str(k): _jsonable(value[k]) for k in sorted(value)}
    if isinstance(value, Sequence) and not isinstance(value, str):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise _FuncError(f"json: unsupported type: {_go_type(value)}")


def _base64decode(text: Any) -> str:
    try:
        return base64.urlsafe_b64decode(_string(text).encode()).decode(errors="replace")
    except (binascii.Error, ValueError) as err:
        raise _FuncError(f"illegal base64 data: {err}") from None


def _dict(*values: Any) -> dict[str, Any]:
    if len(values) % 2:
        raise _FuncError("dict requires an even number of arguments")
    if not all(isinstance(k, str) for k in values[::2]):
        raise _FuncError("dict keys must be strings")
    return dict(zip(values[::2], values[1::2], strict=True))


def _append(items: Any, *more: Any) -> list[Any]:
    if isinstance(items, str) or not isinstance(items, Sequence):
        raise _FuncError(f"wrong type for value; expected []interface {{}}; got {_go_type(items)}")
    return [*items, *more]


def _route_labels(name: Any) -> str:
    """Alertmanager renders a route's `labels` here; alerter's routes have none, so it is empty."""
    _string(name)
    return ""


FUNCS: dict[str, Callable[..., Any]] = {
    # text/template's builtins; `and` and `or` are the executor's (_SHORT_CIRCUIT).
    "not": lambda value: not _truth(value),
    "len": _len,
    "index": _index,
    "slice": _slice,
    "print": lambda *args: _sprint(args),
    "printf": _printf,
    "println": lambda *args: " ".join(_fmt_v(a) for a in args) + "\n",
    "html": _html,
    "js": _js,
    "urlquery": _urlquery,
    "eq": _eq,
    "ne": _ne,
    "lt": _ordered(lambda a, b: a < b),
    "le": _ordered(lambda a, b: a <= b),
    "gt": _ordered(lambda a, b: a > b),
    "ge": _ordered(lambda a, b: a >= b),
    # Alertmanager's DefaultFuncs.
    "toUpper": lambda s: _string(s).upper(),
    "toLower": lambda s: _string(s).lower(),
    "title": _title,
    "trimSpace": lambda s: _string(s).strip(),
    "join": _join,
    "match": _match,
    "safeHtml": lambda s: SafeHTML(_string(s)),
    "safeUrl": lambda s: _string(s),  # no contextual escaping here, so a URL is just text
    "urlUnescape": _url_unescape,
    "reReplaceAll": _re_replace_all,
    "stringSlice": lambda *s: [_string(v) for v in s],
    "routeLabels": _route_labels,
    "date": _date,
    "tz": _tz,
    "now": _now,
    "since": _since,
    "humanizeDuration": _humanize_duration,
    "toDate": _to_date,
    "mustToDate": _must_to_date,
    "toJson": _to_json,
    "base64encode": lambda s: base64.urlsafe_b64encode(_string(s).encode()).decode(),
    "base64decode": _base64decode,
    "list": lambda *args: list(args),
    "append": _append,
    "dict": _dict,
}


def _arity(fn: Callable[..., Any]) -> tuple[int, int | None]:
    params = inspect.signature(fn).parameters.values()
    if any(p.kind is p.VAR_POSITIONAL for p in params):
        return sum(p.kind is p.POSITIONAL_OR_KEYWORD for p in params), None
    return len(params), len(params)


_ARITY = {name: _arity(fn) for name, fn in FUNCS.items()}


# --- Go time: layouts, String, durations -----------------------------------------------------------

_LAYOUT = re.compile(
    r"January|Jan|Monday|Mon|MST|2006|_(?=2006)|06|01|002|02|03|04|05|__2|_2|15|1|2|3|4|5|PM|pm"
    r"|Z07:00:00|Z070000|Z07:00|Z0700|Z07|-07:00:00|-070000|-07:00|-0700|-07|[.,](?:0+|9+)(?!\d)"
)
_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September"]
_MONTHS += ["October", "November", "December"]
_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


def _offset(t: datetime, token: str) -> str:
    seconds = int((t.utcoffset() or timedelta()).total_seconds())
    if token.startswith("Z") and seconds == 0:
        return "Z"
    sign = "-" if seconds < 0 else "+"
    h, rest = divmod(abs(seconds), 3600)
    m, s = divmod(rest, 60)
    body = token.lstrip("Z-")
    colon = ":" if ":" in body else ""
    text = f"{sign}{h:02d}"
    if len(body.replace(":", "")) >= 4:
        text += f"{colon}{m:02d}"
    if len(body.replace(":", "")) == 6:
        text += f"{colon}{s:02d}"
    return text


def _fraction(t: datetime, token: str) -> str:
    digits = f"{t.microsecond:06d}000"[: len(token) - 1]
    if token[1] == "9":
        digits = digits.rstrip("0")
        return token[0] + digits if digits else ""
    return token[0] + digits


def _zone_name(t: datetime) -> str:
    name = t.tzname()  # a fixed-offset zone is named "UTC+02:00"; Go names it "+0200"
    return name if name and not name.startswith(("+", "-", "UTC+", "UTC-")) else _offset(t, "-0700")


_FORMATTERS: dict[str, Callable[[datetime], str]] = {
    "January": lambda t: _MONTHS[t.month - 1],
    "Jan": lambda t: _MONTHS[t.month - 1][:3],
    "Monday": lambda t: _DAYS[t.weekday()],
    "Mon": lambda t: _DAYS[t.weekday()][:3],
    "MST": _zone_name,
    "2006": lambda t: f"{t.year:04d}",
    "_": lambda t: "_",
    "06": lambda t: f"{t.year % 100:02d}",
    "01": lambda t: f"{t.month:02d}",
    "1": lambda t: str(t.month),
    "02": lambda t: f"{t.day:02d}",
    "_2": lambda t: f"{t.day:2d}",
    "2": lambda t: str(t.day),
    "002": lambda t: f"{t.timetuple().tm_yday:03d}",
    "__2": lambda t: f"{t.timetuple().tm_yday:3d}",
    "15": lambda t: f"{t.hour:02d}",
    "03": lambda t: f"{(t.hour % 12) or 12:02d}",
    "3": lambda t: str((t.hour % 12) or 12),
    "04": lambda t: f"{t.minute:02d}",
    "4": lambda t: str(t.minute),
    "05": lambda t: f"{t.second:02d}",
    "5": lambda t: str(t.second),
    "PM": lambda t: "PM" if t.hour >= 12 else "AM",
    "pm": lambda t: "pm" if t.hour >= 12 else "am",
}


def _format_time(t: datetime, layout: str) -> str:
    """Go's Time.Format with a reference-time layout ("2006-01-02T15:04:05Z07:00")."""

    def token(m: re.Match[str]) -> str:
        text = m.group(0)
        if text[0] in ".,":
            return _fraction(t, text)
        if text[0] in "Z-":
            return _offset(t, text)
        return _FORMATTERS[text](t)

    return _LAYOUT.sub(token, layout)


_PARSERS: dict[str, tuple[str, str]] = {
    "2006": ("year", r"\d{4}"),
    "06": ("year2", r"\d{2}"),
    "01": ("month", r"\d{2}"),
    "1": ("month", r"\d{1,2}"),
    "January": ("month_name", "|".join(_MONTHS)),
    "Jan": ("month_abbr", "|".join(m[:3] for m in _MONTHS)),
    "Monday": ("", "|".join(_DAYS)),
    "Mon": ("", "|".join(d[:3] for d in _DAYS)),
    "02": ("day", r"\d{2}"),
    "_2": ("day", r" ?\d{1,2}"),
    "2": ("day", r"\d{1,2}"),
    "15": ("hour", r"\d{2}"),
    "03": ("hour12", r"\d{2}"),
    "3": ("hour12", r"\d{1,2}"),
    "04": ("minute", r"\d{2}"),
    "4": ("minute", r"\d{1,2}"),
    "05": ("second", r"\d{2}"),
    "5": ("second", r"\d{1,2}"),
    "PM": ("ampm", "AM|PM"),
    "pm": ("ampm", "am|pm"),
    "MST": ("", r"[A-Z]{3,5}|[+-]\d{4}"),
    "_": ("", "_"),
}


def _parse_time(layout: str, text: str) -> datetime:
    """Go's time.ParseInLocation(layout, text, UTC) for the common layout elements."""
    pattern, pos = [], 0
    for groups, m in enumerate(_LAYOUT.finditer(layout)):
        pattern.append(re.escape(layout[pos : m.start()]))
        pos = m.end()
        token = m.group(0)
        if token[0] in ".,":
            key, regex = "fraction", r"[.,]\d+" if token[1] == "9" else rf"[.,]\d{{{len(token) - 1}}}"
            regex = f"(?:{regex})?" if token[1] == "9" else regex
        elif token[0] in "Z-":
            key, regex = "offset", r"Z|[+-]\d{2}(?::?\d{2}(?::?\d{2})?)?"
        else:
            key, regex = _PARSERS.get(token, ("", re.escape(token)))
        pattern.append(f"(?P<g{groups}_{key}>{regex})" if key else f"(?:{regex})")
    pattern.append(re.escape(layout[pos:]))
    m = re.fullmatch("".join(pattern), text)
    if m is None:
        raise _FuncError(f"parsing time {go_quote(text)} as {go_quote(layout)}: cannot parse")
    fields = {name.split("_", 1)[1]: value for name, value in m.groupdict().items() if value is not None}
    try:
        return _build_time(fields)
    except ValueError as err:
        raise _FuncError(f"parsing time {go_quote(text)}: {err}") from None


def _build_time(fields: dict[str, str]) -> datetime:
    year = int(fields["year"]) if "year" in fields else 0
    if "year2" in fields:
        short = int(fields["year2"])
        year = 1900 + short if short >= 69 else 2000 + short
    month = int(fields.get("month", 1))
    if "month_name" in fields:
        month = _MONTHS.index(fields["month_name"]) + 1
    if "month_abbr" in fields:
        month = [m[:3] for m in _MONTHS].index(fields["month_abbr"]) + 1
    hour = int(fields.get("hour", 0))
    if "hour12" in fields:
        hour = int(fields["hour12"]) % 12 + (12 if fields.get("ampm", "").lower() == "pm" else 0)
    micro = int((fields.get("fraction", ".0")[1:] + "000000")[:6])
    zone: Any = UTC
    if (offset := fields.get("offset", "Z")) != "Z":
        digits = offset[1:].replace(":", "") + "0000"
        delta = timedelta(hours=int(digits[:2]), minutes=int(digits[2:4]), seconds=int(digits[4:6]))
        zone = timezone(-delta if offset[0] == "-" else delta)
    return datetime(
        max(year, 1),
        month,
        int(fields.get("day", "1").strip()),
        hour,
        int(fields.get("minute", 0)),
        int(fields.get("second", 0)),
        micro,
        tzinfo=zone,
    )


def _duration_string(d: timedelta) -> str:
    """Go's Duration.String: `1h2m3.5s`, `1.5s`, `250ms`, `0s`."""
    ns = d // timedelta(microseconds=1) * 1000
    sign, ns = ("-" if ns < 0 else ""), abs(ns)
    if ns == 0:
        return "0s"
    if ns < 1_000_000_000:
        for unit, size in (("ns", 1), ("µs", 1_000), ("ms", 1_000_000)):
            if ns < size * 1000:
                return sign + _decimal(ns, size) + unit
    hours, rest = divmod(ns, 3_600_000_000_000)
    minutes, rest = divmod(rest, 60_000_000_000)
    text = _decimal(rest, 1_000_000_000) + "s"
    if hours or minutes:
        text = f"{minutes}m{text}"
    if hours:
        text = f"{hours}h{text}"
    return sign + text


def _decimal(value: int, unit: int) -> str:
    whole, frac = divmod(value, unit)
    digits = str(frac).rjust(len(str(unit)) - 1, "0").rstrip("0") if unit > 1 else ""
    return f"{whole}.{digits}" if digits else str(whole)


_TIME_METHODS: dict[str, tuple[type, Callable[..., Any]]] = {
    "Format": (datetime, lambda t, layout: _format_time(t, _string(layout))),
    "String": (datetime, lambda t: _fmt_v(t)),
    "Unix": (datetime, lambda t: int(t.timestamp())),
    "UnixMilli": (datetime, lambda t: int(t.timestamp() * 1000)),
    "UTC": (datetime, lambda t: t.astimezone(UTC)),
    "Local": (datetime, lambda t: t.astimezone()),
    "IsZero": (datetime, lambda t: t == GO_ZERO_TIME),
    "Before": (datetime, lambda t, u: t < _time(u)),
    "After": (datetime, lambda t, u: t > _time(u)),
    "Equal": (datetime, lambda t, u: t == _time(u)),
    "Sub": (datetime, lambda t, u: t - _time(u)),
    "Add": (datetime, lambda t, d: t + (d if isinstance(d, timedelta) else timedelta(microseconds=d / 1000))),
    "Seconds": (timedelta, lambda d: d.total_seconds()),
    "Minutes": (timedelta, lambda d: d.total_seconds() / 60),
    "Hours": (timedelta, lambda d: d.total_seconds() / 3600),
    "Milliseconds": (timedelta, lambda d: d // timedelta(milliseconds=1)),
}


# --- Template sets ---------------------------------------------------------------------------------


class TemplateSet:
    """The templates defined by a set of files (later files replace earlier definitions, as
    Alertmanager's template globs do), ready to execute template texts against."""

    def __init__(self, files: Mapping[str, str] | None = None) -> None:
        defines: dict[str, tuple[_Node, ...]] = {}
        for name, text in (files or {}).items():
            for define, body in parse(name, text).defines.items():
                if define not in defines or _nonempty(body):
                    defines[define] = body
        self.defines: Mapping[str, tuple[_Node, ...]] = defines

    def execute(
        self, text: str, data: Any, html: bool = False, fallback: Fallback | None = None, name: str = "inline"
    ) -> str:
        """Render a template text with this set's definitions (and its own).

        `{{ template "x" }}` of a name no definition has asks `fallback(name, data, html)`, whose
        text is inserted as is; None means there is no such template either. Raises
        GoTemplateError.
        """
        if not text:
            return ""
        parsed = parse(name, text)
        state = _Exec(ChainMap(parsed.defines, self.defines), fallback, html)  # type: ignore[arg-type]
        state.run(parsed.name, parsed.body, data)
        return "".join(state.out)
