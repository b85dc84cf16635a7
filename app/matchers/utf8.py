"""The UTF-8 matcher parser (Alertmanager 0.27+, `matcher/parse`): names and values are either
unquoted runs of non-reserved characters or Go double-quoted strings, so any UTF-8 label name can
be written (`{"service.name"="checkout", severity!~"info|debug"}`). Its error messages carry the
character positions Alertmanager's give."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from app.gostrings import go_unquote
from app.matchers.matcher import Matcher, is_reserved

_EOF, _OPEN, _CLOSE, _COMMA, _OP, _QUOTED, _UNQUOTED = range(7)


@dataclass(frozen=True)
class _Token:
    kind: int
    value: str = ""
    start: int = 0
    end: int = 0

    def unquote(self) -> str:
        return go_unquote(self.value) if self.kind == _QUOTED else self.value


class _Lexer:
    """Tokeniser of the UTF-8 matcher grammar; positions are in characters, as in its messages."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.start = 0
        self.pos = 0
        self.err: ValueError | None = None

    def _emit(self, kind: int) -> _Token:
        token = _Token(kind, self.text[self.start : self.pos], self.start, self.pos)
        self.start = self.pos
        return token

    def _peek_char(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def _span(self) -> str:
        """`start:end: text` of the token being scanned, the prefix of the lexer's messages."""
        return f"{self.start}:{self.pos}: {self.text[self.start : self.pos]}"

    def _expected(self, expected: str) -> ValueError:
        if self.pos >= len(self.text):
            return ValueError(
                f"{self.start}:{self.pos}: unexpected end of input, expected one of '{expected}'"
            )
        return ValueError(f"{self._span()}: expected one of '{expected}'")

    def _operator(self) -> _Token:
        first = self.text[self.pos]
        self.pos += 1
        nxt = self._peek_char()
        if first == "!":
            if nxt in ("=", "~") and nxt:
                self.pos += 1
                return self._emit(_OP)
            raise self._expected("=~")
        if nxt == "~":
            self.pos += 1
        return self._emit(_OP)

    def _quoted(self) -> _Token:
        self.pos += 1
        escaped = False
        while self.pos < len(self.text):
            ch = self.text[self.pos]
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                self.pos += 1
                return self._emit(_QUOTED)
            self.pos += 1
        raise ValueError(f'{self._span()}: missing end "')

    def _unquoted(self) -> _Token:
        while self.pos < len(self.text) and not is_reserved(self.text[self.pos]):
            self.pos += 1
        return self._emit(_UNQUOTED)

    def _scan(self) -> _Token:
        while self.pos < len(self.text):
            ch = self.text[self.pos]
            if ch in "{},":
                self.pos += 1
                return self._emit({"{": _OPEN, "}": _CLOSE, ",": _COMMA}[ch])
            if ch in "=!":
                return self._operator()
            if ch == '"':
                return self._quoted()
            if not is_reserved(ch):
                return self._unquoted()
            if not ch.isspace():
                self.pos += 1
                raise ValueError(f"{self._span()}: invalid input")
            self.pos += 1
            self.start = self.pos
        return _Token(_EOF)

    def scan(self) -> _Token:
        """Next token; a lexing error is sticky, as in Alertmanager's lexer."""
        if self.err:
            raise self.err
        try:
            return self._scan()
        except ValueError as err:
            self.err = err
            raise

    def peek(self) -> _Token:
        start, pos = self.start, self.pos
        try:
            return self.scan()
        finally:
            self.start, self.pos = start, pos


class _EndOfInput(ValueError):
    def __init__(self) -> None:
        super().__init__("end of input")


class _Parser:
    """The UTF-8 matcher grammar: `{? matcher (, matcher)* ,? }?`."""

    def __init__(self, text: str) -> None:
        self.lexer = _Lexer(text)
        self.matchers: list[Matcher] = []
        self.open_brace = False

    def _expect_peek(self, *kinds: int) -> _Token:
        token = self.lexer.peek()
        if token.kind == _EOF:
            raise _EndOfInput()
        if token.kind not in kinds:
            raise ValueError(f"{token.start}:{token.end}: unexpected {token.value}")
        return token

    def _expect(self, *kinds: int) -> _Token:
        token = self._expect_peek(*kinds)
        self.lexer.scan()
        return token

    def parse(self) -> list[Matcher]:
        state: Callable[[], object] | None = self._open_brace
        while state is not None:
            state = state()  # type: ignore[assignment]
        return self.matchers

    def _open_brace(self) -> object:
        token = self.lexer.peek()
        if token.kind == _EOF:
            return self._eof
        if token.kind == _OPEN:
            self.open_brace = True
            self.lexer.scan()
        token = self.lexer.peek()
        if token.kind in (_EOF, _CLOSE):
            return self._close_brace
        return self._matcher

    def _close_brace(self) -> object:
        if self.open_brace:
            try:
                self._expect(_CLOSE)
            except ValueError as err:
                raise ValueError(f"0:{self.lexer.pos}: {err}: expected close brace") from None
        else:
            try:
                self._expect(_CLOSE)
            except ValueError:
                return self._eof
            raise ValueError(f"0:{self.lexer.pos}: }}: expected opening brace")
        return self._eof

    def _operand(self, what: str) -> str:
        try:
            token = self._expect(_QUOTED, _UNQUOTED)
        except ValueError as err:
            raise ValueError(f"{err}: expected {what}") from None
        try:
            return token.unquote()
        except ValueError:
            raise ValueError(f"{token.start}:{token.end}: {token.value}: invalid input") from None

    def _matcher(self) -> object:
        name = self._operand("label name")
        try:
            op = self._expect(_OP).value
        except ValueError as err:
            raise ValueError(f"{err}: expected an operator such as '=', '!=', '=~' or '!~'") from None
        value = self._operand("label value")
        try:
            self.matchers.append(Matcher(name, op, value))
        except ValueError as err:
            raise ValueError(f"failed to create matcher: {err}") from None
        return self._end_of_matcher

    def _peek_next(self, expected: str, *kinds: int) -> _Token | None:
        """Peek the next token, which must be one of `kinds`; None at the end of the input."""
        try:
            return self._expect_peek(*kinds)
        except _EndOfInput:
            return None
        except ValueError as err:
            raise ValueError(f"{err}: expected {expected}") from None

    def _end_of_matcher(self) -> object:
        token = self._peek_next("a comma or close brace", _COMMA, _CLOSE)
        if token is None:
            return self._close_brace
        return self._comma if token.kind == _COMMA else self._close_brace

    def _comma(self) -> object:
        self._expect(_COMMA)
        token = self._peek_next("a matcher or close brace after comma", _CLOSE, _UNQUOTED, _QUOTED)
        if token is None or token.kind == _CLOSE:
            return self._close_brace
        return self._matcher

    def _eof(self) -> object:
        try:
            token = self.lexer.scan()
        except ValueError as err:
            raise ValueError(f"{err}: expected end of input") from None
        if token.kind != _EOF:
            raise ValueError(f"{token.start}:{token.end}: {token.value}: expected end of input")
        return None


def parse_matchers(text: str) -> list[Matcher]:
    """Matchers in the UTF-8 grammar `{? matcher (, matcher)* ,? }?`, in input order."""
    return _Parser(text).parse()


def parse_matcher(text: str) -> Matcher:
    """Exactly one matcher in the UTF-8 grammar."""
    found = parse_matchers(text)
    if len(found) == 1:
        return found[0]
    raise ValueError("no matchers" if not found else f"expected 1 matcher, found {len(found)}")
