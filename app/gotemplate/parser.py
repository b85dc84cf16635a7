"""The parse tree of a template and the parser that builds it, checking what Go's parser checks.

Why: Go refuses a template at parse time for an unknown function, an undefined variable, a
misplaced `{{ else }}` or `{{ break }}`, or a second non-empty `define` of a name; alerter refuses
the same templates with the same messages, when the config loads rather than when an alert fires.
Parsed templates are cached by name and text, so each distinct text is parsed once.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from app.gostrings import go_quote
from app.gotemplate.builtins import SHORT_CIRCUIT
from app.gotemplate.errors import ParseError
from app.gotemplate.functions import FUNCS
from app.gotemplate.lexer import ActionItem, Lexer, Token
from app.gotemplate.values import fmt_v


@dataclass(frozen=True, slots=True)
class Field:
    names: tuple[str, ...]  # .A.B: fields of dot


@dataclass(frozen=True, slots=True)
class Variable:
    name: str
    names: tuple[str, ...]  # $x.A.B


@dataclass(frozen=True, slots=True)
class Chain:
    pipe: Pipe  # (pipeline).A.B
    names: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Ident:
    name: str  # a function


@dataclass(frozen=True, slots=True)
class Literal:
    value: Any


@dataclass(frozen=True, slots=True)
class Dot:
    pass


@dataclass(frozen=True, slots=True)
class Nil:
    pass


Operand = Field | Variable | Chain | Ident | Literal | Dot | Nil


@dataclass(frozen=True, slots=True)
class Pipe:
    decl: tuple[str, ...]
    assign: bool  # `=` rather than `:=`
    cmds: tuple[tuple[Operand | Pipe, ...], ...]


@dataclass(frozen=True, slots=True)
class Action:
    pipe: Pipe
    line: int
    source: str


@dataclass(frozen=True, slots=True)
class Control:
    kind: str  # if, range, with
    pipe: Pipe
    body: tuple[Node, ...]
    orelse: tuple[Node, ...]
    line: int
    source: str


@dataclass(frozen=True, slots=True)
class Call:
    name: str  # {{ template "name" pipeline }}
    pipe: Pipe | None
    line: int
    source: str


@dataclass(frozen=True, slots=True)
class Jump:
    kind: str  # break, continue
    line: int
    source: str


Node = str | Action | Control | Call | Jump


@dataclass(frozen=True, slots=True)
class Parsed:
    """One parsed template text: its own body and the templates it defines."""

    name: str
    body: tuple[Node, ...]
    defines: Mapping[str, tuple[Node, ...]]


class _Parser:
    """Recursive descent over the lexer's items, checking what Go's parser checks."""

    def __init__(self, name: str, text: str) -> None:
        self.name = name
        self.items = Lexer(name, text).items()
        self.i = 0
        self.eof_line = text.count("\n") + 1
        self.vars = ["$"]
        self.ranges = 0  # enclosing {{ range }}s, for break and continue
        self.defines: dict[str, tuple[Node, ...]] = {}

    def error(self, line: int, message: str) -> ParseError:
        return ParseError(f"template: {self.name}:{line}: {message}")

    def parse(self) -> Parsed:
        body, _ = self._list(frozenset(), top=True)
        return Parsed(self.name, body, self.defines)

    def _list(self, stops: frozenset[str], top: bool = False) -> tuple[tuple[Node, ...], ActionItem]:
        nodes: list[Node] = []
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
        return tuple(nodes), ActionItem((), self.eof_line, "")

    def _action(self, item: ActionItem) -> Node:
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
            return Jump(keyword, item.line, item.source)
        if keyword is not None:
            raise self.error(item.line, f"unexpected <{keyword}> in command")
        return Action(self._pipeline(tokens, item.line, "command", decl=True), item.line, item.source)

    def _control(self, item: ActionItem, kind: str) -> Control:
        mark = len(self.vars)
        self.ranges += kind == "range"
        pipe = self._pipeline(item.tokens[1:], item.line, kind, decl=True)
        body, end = self._list(frozenset({"end", "else"}))
        self.ranges -= kind == "range"
        orelse: tuple[Node, ...] = ()
        rest = end.tokens[1:]
        if end.keyword == "else" and rest and rest[0].value == kind and kind != "range":
            # {{ else if x }} / {{ else with x }}: a control in the else branch sharing the {{ end }}.
            orelse = (self._control(ActionItem(rest, end.line, end.source), kind),)
        elif end.keyword == "else":
            self._check_bare(end)
            orelse, end = self._list(frozenset({"end"}))
            self._check_bare(end)
        else:
            self._check_bare(end)
        del self.vars[mark:]
        return Control(kind, pipe, body, orelse, item.line, item.source)

    def _check_bare(self, item: ActionItem) -> None:
        if len(item.tokens) > 1:
            raise self.error(item.line, f"unexpected {_show(item.tokens[1])} in {item.keyword}")

    def _name(self, item: ActionItem, clause: str) -> str:
        tokens = item.tokens
        if len(tokens) < 2 or tokens[1].kind != "literal" or not isinstance(tokens[1].value, str):
            found = _show(tokens[1]) if len(tokens) > 1 else "end of action"
            raise self.error(item.line, f"unexpected {found} in {clause} clause")
        return tokens[1].value

    def _template(self, item: ActionItem) -> Call:
        name = self._name(item, "template")
        rest = item.tokens[2:]
        pipe = self._pipeline(rest, item.line, "template", decl=False) if rest else None
        return Call(name, pipe, item.line, item.source)

    def _define(self, item: ActionItem) -> None:
        name = self._name(item, "define")
        if len(item.tokens) > 2:
            raise self.error(item.line, f"unexpected {_show(item.tokens[2])} in define clause")
        self._add(name, self._body(), item.line)

    def _block(self, item: ActionItem) -> Call:
        name = self._name(item, "block")
        if len(item.tokens) < 3:
            raise self.error(item.line, "missing pipeline in block clause")
        pipe = self._pipeline(item.tokens[2:], item.line, "block", decl=False)
        self._add(name, self._body(), item.line)
        return Call(name, pipe, item.line, item.source)

    def _body(self) -> tuple[Node, ...]:
        """A defined template's body: its own variables ($ only) and no enclosing range."""
        saved = self.vars, self.ranges
        self.vars, self.ranges = ["$"], 0
        body, end = self._list(frozenset({"end"}))
        self._check_bare(end)
        self.vars, self.ranges = saved
        return body

    def _add(self, name: str, body: tuple[Node, ...], line: int) -> None:
        existing = self.defines.get(name)
        if existing is not None and nonempty(existing) and nonempty(body):
            raise self.error(line, f"multiple definition of template {go_quote(name)}")
        if existing is None or nonempty(body):
            self.defines[name] = body

    def _pipeline(self, tokens: Sequence[Token], line: int, context: str, decl: bool) -> Pipe:
        names, assign, tokens = self._declarations(tokens, line, context) if decl else ((), False, tokens)
        if not tokens:
            raise self.error(line, f"missing value for {context}")
        cmds: list[tuple[Operand | Pipe, ...]] = []
        start = 0
        for k in [*_splits(tokens), len(tokens)]:
            if k == start:
                raise self.error(line, "missing value for command")
            cmds.append(self._command(tokens[start:k], line))
            start = k + 1
        for stage, cmd in enumerate(cmds[1:], start=2):
            if isinstance(cmd[0], Literal | Dot | Nil):
                raise self.error(line, f"non executable command in pipeline stage {stage}")
        if not assign:
            self.vars.extend(names)
        return Pipe(names, assign, tuple(cmds))

    def _declarations(
        self, tokens: Sequence[Token], line: int, context: str
    ) -> tuple[tuple[str, ...], bool, Sequence[Token]]:
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

    def _command(self, tokens: Sequence[Token], line: int) -> tuple[Operand | Pipe, ...]:
        args: list[Operand | Pipe] = []
        k = 0
        while k < len(tokens):
            if k > 0 and not tokens[k].spaced and tokens[k].kind != "(":
                raise self.error(line, f"unexpected {_show(tokens[k])} in operand")
            node, k = self._operand(tokens, k, line)
            args.append(node)
        return tuple(args)

    def _operand(self, tokens: Sequence[Token], k: int, line: int) -> tuple[Operand | Pipe, int]:
        tok = tokens[k]
        if tok.kind == "(":
            end = _closing(tokens, k)
            if end < 0:
                raise self.error(line, "unclosed left paren")
            pipe = self._pipeline(tokens[k + 1 : end], line, "parenthesized pipeline", decl=False)
            after = tokens[end + 1] if end + 1 < len(tokens) else None
            if after is not None and after.kind == "field" and not after.spaced:
                return Chain(pipe, after.value), end + 2
            return pipe, end + 1
        if tok.kind == "field":
            return Field(tok.value), k + 1
        if tok.kind == "var":
            self._check_var(tok.value[0], line)
            return Variable(*tok.value), k + 1
        if tok.kind == "ident":
            if tok.value not in FUNCS and tok.value not in SHORT_CIRCUIT:
                hint = f" (fields start with a dot: .{tok.value})" if tok.value[:1].isupper() else ""
                raise self.error(line, f"function {go_quote(tok.value)} not defined{hint}")
            return Ident(tok.value), k + 1
        if tok.kind == "literal":
            return Literal(tok.value), k + 1
        if tok.kind == "dot":
            return Dot(), k + 1
        if tok.kind == "nil":
            return Nil(), k + 1
        raise self.error(line, f"unexpected {_show(tok)} in operand")


def _show(tok: Token) -> str:
    """A token as error messages quote it."""
    if tok.kind == "field":
        return "<." + ".".join(tok.value) + ">"
    if tok.kind == "var":
        return "<" + ".".join([tok.value[0], *tok.value[1]]) + ">"
    if tok.kind == "literal":
        return go_quote(tok.value) if isinstance(tok.value, str) else f"<{fmt_v(tok.value)}>"
    return f"<{tok.value if tok.value is not None else tok.kind}>"


def _splits(tokens: Sequence[Token]) -> Iterator[int]:
    """Indexes of the `|` separating the commands of a pipeline (not those inside parentheses)."""
    depth = 0
    for k, tok in enumerate(tokens):
        depth += (tok.kind == "(") - (tok.kind == ")")
        if tok.kind == "|" and depth == 0:
            yield k


def _closing(tokens: Sequence[Token], k: int) -> int:
    depth = 0
    for j in range(k, len(tokens)):
        depth += (tokens[j].kind == "(") - (tokens[j].kind == ")")
        if depth == 0:
            return j
    return -1


def nonempty(body: tuple[Node, ...]) -> bool:
    """Go's IsEmptyTree: only whitespace text. An empty define never replaces a full one."""
    return any(not isinstance(n, str) or n.strip() for n in body)


@lru_cache(maxsize=512)
def parse(name: str, text: str) -> Parsed:
    """Parse a template text once (cached by name and text); raise ParseError."""
    return _Parser(name, text).parse()
