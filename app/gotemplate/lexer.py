"""The lexer: a template text as text chunks and actions, each action a list of tokens.

Why separate from the parser: trim markers (`{{- ` and ` -}}`), comments and Go's literal syntax
(escapes, raw strings, characters, hex/octal/binary numbers) are settled here, so the parser sees
only tokens with their line numbers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, NamedTuple

from app.gostrings import go_unquote
from app.gotemplate.errors import ParseError


class Token(NamedTuple):
    kind: str  # field, var, dot, ident, keyword, literal, ( ) | , := =
    value: Any
    line: int
    spaced: bool  # whitespace came before it: `(x).A` chains a field, `(x) .A` is an argument


@dataclass(frozen=True, slots=True)
class ActionItem:
    tokens: tuple[Token, ...]
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


class Lexer:
    """Splits a template into text chunks and actions (lists of tokens), applying trim markers."""

    def __init__(self, name: str, text: str) -> None:
        self.name = name
        self.text = text
        self.pos = 0
        self.line = 1

    def error(self, message: str, line: int | None = None) -> ParseError:
        return ParseError(f"template: {self.name}:{line or self.line}: {message}")

    def items(self) -> list[str | ActionItem]:
        items: list[str | ActionItem] = []
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

    def _action(self, start: int) -> tuple[ActionItem | None, bool]:
        """Lex one action from self.pos (just inside `{{`); return it (None for a comment)."""
        first_line = self.line
        while self.text.startswith(tuple(_SPACE), self.pos) and not self._at_comment():
            self._advance(1)
        if self._at_comment():
            return None, self._comment()
        tokens: list[Token] = []
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

    def _item(self, tokens: list[Token], line: int, start: int, end: int) -> ActionItem:
        source = " ".join(self.text[start + 2 : end].strip(_SPACE + "-").split())
        return ActionItem(tuple(tokens), line, source)

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

    def _token(self, spaced: bool) -> Token:
        text, pos, line = self.text, self.pos, self.line
        ch = text[pos]
        if ch in "\"'":
            m = (_STRING if ch == '"' else _CHAR).match(text, pos)
            if m is None:
                raise self.error(
                    "unterminated quoted string" if ch == '"' else "unterminated character constant"
                )
            self.pos = m.end()
            return Token(
                "literal", self._literal("string" if ch == '"' else "char", m.group(0)), line, spaced
            )
        if ch.isdigit() or (ch in "+-." and text[pos + 1 : pos + 2].isdigit()):
            m = _NUMBER.match(text, pos)
            assert m is not None  # a digit always starts a number
            self.pos = m.end()
            return Token("literal", self._literal("number", m.group(0)), line, spaced)
        if ch == "`":
            end = text.find("`", pos + 1)
            if end < 0:
                raise self.error("unterminated raw quoted string")
            self._advance(end + 1 - pos)
            return Token("literal", text[pos + 1 : end], line, spaced)
        if ch == "$":
            name = _VAR.match(text, pos).group(0)  # type: ignore[union-attr]
            self.pos += len(name)
            return Token("var", (name, self._fields()), line, spaced)
        if ch == ".":
            fields = self._fields()
            if fields:
                return Token("field", fields, line, spaced)
            self.pos += 1
            return Token("dot", None, line, spaced)
        if m := _IDENT.match(text, pos):
            self.pos = m.end()
            word = m.group(0)
            if word in ("true", "false"):
                return Token("literal", word == "true", line, spaced)
            if word == "nil":
                return Token("nil", None, line, spaced)
            return Token("keyword" if word in _KEYWORDS else "ident", word, line, spaced)
        punct = next((p for p in _PUNCT if text.startswith(p, pos)), None)
        if punct is None:
            raise self.error(f"bad character {ch!r} in action")
        self.pos += len(punct)
        return Token(punct, punct, line, spaced)

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
