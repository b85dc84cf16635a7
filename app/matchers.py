"""Label matchers (`=`, `!=`, `=~`, `!~`) as Alertmanager parses, prints and evaluates them.

Alertmanager has two matcher parsers and alerter has both, because an unchanged alertmanager.yml
must mean the same thing here:

* the classic parser (Alertmanager <= 0.26, `pkg/labels`): `name op value` with a Prometheus label
  name, an optionally double-quoted value and tolerant escaping;
* the UTF-8 parser (0.27+, `matcher/parse`): names and values are either unquoted runs of
  non-reserved characters or Go double-quoted strings, so any UTF-8 label name can be written.

Alertmanager's default ("fallback") mode tries both: it uses the classic result whenever the
classic parser accepts the input, the UTF-8 result when only that parser accepts it, and reports
the classic parser's error when neither does. `--enable-feature=classic-mode` and
`utf8-strict-mode` pin one parser; `MODE_*` below select the same behaviours.

Regexes are anchored at both ends and follow Go's RE2 syntax as far as Python's `re` allows: the
RE2-only spellings people use (`\\z`, `[[:alpha:]]`, `\\Q...\\E`, `(?<name>...)`, flags in the
middle of a pattern) are translated and the Perl-only constructs RE2 refuses (look-around,
back-references) are refused here too. Still different: RE2's ungreedy flag `(?U)` and Unicode
classes `\\pL` are refused, and `\\d`/`\\w` also match non-ASCII digits and letters.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

OPS = ("=", "!=", "=~", "!~")

MODE_FALLBACK = "fallback"
MODE_CLASSIC = "classic"
MODE_UTF8 = "utf8"
MODES = (MODE_FALLBACK, MODE_CLASSIC, MODE_UTF8)

_RESERVED = frozenset("{}!=~,\\\"'`")
_POSIX_CLASSES = {
    "alnum": "0-9A-Za-z",
    "alpha": "A-Za-z",
    "ascii": "\\x00-\\x7f",
    "blank": "\\t ",
    "cntrl": "\\x00-\\x1f\\x7f",
    "digit": "0-9",
    "graph": "!-~",
    "lower": "a-z",
    "print": " -~",
    "punct": "!-/:-@\\[-`{-~",
    "space": "\\t\\n\\v\\f\\r ",
    "upper": "A-Z",
    "word": "0-9A-Za-z_",
    "xdigit": "0-9A-Fa-f",
}
_PERL_ONLY = ("(?=", "(?!", "(?<=", "(?<!")
_FLAG_GROUP = re.compile(r"\(\?([a-zA-Z-]+)\)")


# --- Go string quoting --------------------------------------------------------------------------

_GO_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v"}


def go_quote(text: str) -> str:
    """Quote like Go's strconv.Quote (`%q`), which Alertmanager uses in keys and error messages."""
    if text.isprintable() and '"' not in text and "\\" not in text:
        return f'"{text}"'  # the common case, without the per-character walk
    out = ['"']
    for ch in text:
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ch.isprintable():
            out.append(ch)
        elif ch in _GO_ESCAPES:
            out.append(_GO_ESCAPES[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) < 0x10000:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    out.append('"')
    return "".join(out)


_UNQUOTE_SIMPLE = {"a": 7, "b": 8, "f": 12, "n": 10, "r": 13, "t": 9, "v": 11, "\\": 92, '"': 34}


def _unquote_escape(body: str, i: int, out: bytearray) -> int:
    """Decode the escape starting at body[i] (just after the backslash); return the next index."""
    ch = body[i : i + 1]
    if ch in _UNQUOTE_SIMPLE:
        out.append(_UNQUOTE_SIMPLE[ch])
        return i + 1
    width = {"x": 2, "u": 4, "U": 8}.get(ch)
    if width:
        digits = body[i + 1 : i + 1 + width]
        if len(digits) != width or not all(c in "0123456789abcdefABCDEF" for c in digits):
            raise ValueError("invalid syntax")
        value = int(digits, 16)
        if ch == "x":
            out.append(value)
        elif value > 0x10FFFF or 0xD800 <= value <= 0xDFFF:
            raise ValueError("invalid syntax")
        else:
            out += chr(value).encode()
        return i + 1 + width
    digits = body[i : i + 3]
    if len(digits) == 3 and all(c in "01234567" for c in digits) and int(digits, 8) <= 255:
        out.append(int(digits, 8))
        return i + 3
    raise ValueError("invalid syntax")


def go_unquote(text: str) -> str:
    """Undo a Go double-quoted string literal (strconv.Unquote); ValueError when it is not one."""
    if len(text) < 2 or text[0] != '"' or text[-1] != '"':
        raise ValueError("invalid syntax")
    body = text[1:-1]
    if "\\" not in body:
        if '"' in body or "\n" in body:
            raise ValueError("invalid syntax")
        return body
    out = bytearray()
    i = 0
    while i < len(body):
        ch = body[i]
        if ch == "\\":
            i = _unquote_escape(body, i + 1, out)
            continue
        if ch in ('"', "\n"):
            raise ValueError("invalid syntax")
        out += ch.encode()
        i += 1
    try:
        return out.decode()
    except UnicodeDecodeError:
        raise ValueError("quoted string contains invalid UTF-8 code points") from None


# --- Regexes ------------------------------------------------------------------------------------


def _translate_class(pattern: str, i: int, out: list[str]) -> int:
    """Copy a bracket expression starting at pattern[i] == '[', translating POSIX classes."""
    out.append("[")
    i += 1
    if pattern[i : i + 1] == "^":
        out.append("^")
        i += 1
    if pattern[i : i + 1] == "]":
        out.append("\\]")
        i += 1
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            out.append(pattern[i : i + 2])
            i += 2
        elif pattern.startswith("[:", i) and ":]" in pattern[i + 2 :]:
            end = pattern.index(":]", i + 2)
            name = pattern[i + 2 : end]
            if name not in _POSIX_CLASSES:
                raise ValueError(f"invalid character class range: `{pattern[i : end + 2]}`")
            out.append(_POSIX_CLASSES[name])
            i = end + 2
        else:
            out.append(ch)
            i += 1
            if ch == "]":
                return i
    return i


def _go_regex_to_python(pattern: str) -> str:
    """Translate the RE2 spellings Python lacks and refuse what RE2 refuses.

    RE2 lets a flag group such as `(?i)` appear anywhere and apply to the rest of the enclosing
    group; Python only accepts global flags at the very start, so they become scoped groups
    `(?i:...)` closed at the next `|` or where the enclosing group closes (and reopened after a
    `|`, since RE2 flags carry over to later alternatives).
    """
    out: list[str] = []
    pending: list[list[str]] = [[]]  # flags of the scoped groups open, per enclosing group
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if pattern.startswith("\\Q", i):
            # RE2's literal text: \Q...\E (or to the end of the pattern).
            end = pattern.find("\\E", i + 2)
            end = len(pattern) if end < 0 else end
            out.append(re.escape(pattern[i + 2 : end]))
            i = end + 2
        elif ch == "\\":
            nxt = pattern[i + 1 : i + 2]
            if nxt.isdigit() and nxt != "0":
                raise ValueError(f"invalid escape sequence: `\\{nxt}`")
            out.append("\\Z" if nxt == "z" else pattern[i : i + 2])
            i += 2
        elif ch == "[":
            i = _translate_class(pattern, i, out)
        elif ch == ")" and len(pending) > 1:
            out.append(")" * len(pending.pop()) + ")")
            i += 1
        elif ch == "|" and pending[-1]:
            flags = pending[-1]
            out.append(")" * len(flags) + "|" + "".join(f"(?{f}:" for f in flags))
            i += 1
        elif (group := _FLAG_GROUP.match(pattern, i)) is not None:
            out.append(f"(?{group.group(1)}:")
            pending[-1].append(group.group(1))
            i = group.end()
        elif ch == "(":
            pending.append([])
            i = _translate_group_start(pattern, i, out)
        else:
            out.append(ch)
            i += 1
    out.append(")" * len(pending[0]))
    return "".join(out)


def _translate_group_start(pattern: str, i: int, out: list[str]) -> int:
    """Handle `(`: refuse look-around, accept RE2's `(?<name>` as Python's `(?P<name>`."""
    perl = next((p for p in _PERL_ONLY if pattern.startswith(p, i)), None)
    if perl:
        raise ValueError(f"invalid or unsupported Perl syntax: `{perl[:3]}`")
    if pattern.startswith("(?<", i):
        out.append("(?P<")
        return i + 3
    out.append("(")
    return i + 1


class RegexError(ValueError, re.error):
    """A regex Go's regexp package refuses; also a re.error for callers that catch that."""

    def __init__(self, message: str) -> None:
        re.error.__init__(self, message)


# Python's wording of the syntax errors people make, and Go's regexp wording for them.
_GO_REGEX_ERRORS = (
    ("missing ), unterminated subpattern", "missing closing )"),
    ("unterminated character set", "missing closing ]"),
    ("unbalanced parenthesis", "unexpected )"),
    ("nothing to repeat", "missing argument to repetition operator"),
    ("multiple repeat", "invalid nested repetition operator"),
    ("bad escape", "invalid escape sequence"),
)


def compile_regex(value: str) -> re.Pattern[str]:
    """Compile a matcher regex (RE2 syntax) for full-string matching, as Alertmanager anchors it.

    Raises RegexError (a ValueError) worded like Go's regexp package, which shows the anchored
    expression: "error parsing regexp: missing closing ): `^(?:(api|web)$`".
    """
    try:
        return re.compile(f"(?:{_go_regex_to_python(value)})")
    except (re.error, ValueError, OverflowError) as err:
        message = str(err.msg if isinstance(err, re.error) else err)
        for python, go in _GO_REGEX_ERRORS:
            if message.startswith(python):
                message = f"{go}: `^(?:{value})$`"
                break
        raise RegexError(f"error parsing regexp: {message}") from None


# --- Matcher ------------------------------------------------------------------------------------


def _is_reserved(ch: str) -> bool:
    return ch.isspace() or ch in _RESERVED


@dataclass(frozen=True)
class Matcher:
    """One matcher. An absent label matches as the empty string, as in Alertmanager."""

    name: str
    op: str
    value: str
    _regex: re.Pattern[str] | None = field(default=None, compare=False, repr=False, hash=False)

    def __post_init__(self) -> None:
        if self.op not in OPS:
            raise ValueError(f"unknown matcher operator {self.op!r}")
        if self.op in ("=~", "!~"):
            # Alertmanager anchors regexes at both ends: fullmatch does the same.
            object.__setattr__(self, "_regex", compile_regex(self.value))

    def matches(self, value: str) -> bool:
        if self.op == "=":
            return value == self.value
        if self.op == "!=":
            return value != self.value
        assert self._regex is not None
        found = self._regex.fullmatch(value) is not None
        return found if self.op == "=~" else not found

    def __str__(self) -> str:
        """Alertmanager's form: `name="value"`, or both parts Go-quoted when the name needs it."""
        if any(_is_reserved(ch) for ch in self.name):
            return f"{go_quote(self.name)}{self.op}{go_quote(self.value)}"
        escaped = self.value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')
        return f'{self.name}{self.op}"{escaped}"'

    def sort_key(self) -> tuple[str, str, int]:
        """Alertmanager's matcher order: name, then value, then operator (=, !=, =~, !~)."""
        return (self.name, self.value, OPS.index(self.op))


def matches_all(matchers: list[Matcher], labels: Mapping[str, str]) -> bool:
    """True when every matcher matches the label set (an empty list matches everything)."""
    return all(m.matches(labels.get(m.name, "")) for m in matchers)


def sort_matchers(matchers: Iterable[Matcher]) -> list[Matcher]:
    """Sort as Alertmanager does before printing or keying a matcher set."""
    return sorted(matchers, key=Matcher.sort_key)


def format_matchers(matchers: Iterable[Matcher]) -> str:
    """`{a="1",b=~"x"}`: Alertmanager's Matchers.String(), used in route keys and ids."""
    return "{" + ",".join(str(m) for m in matchers) + "}"


def _new_matcher(op: str, name: str, value: str) -> Matcher:
    return Matcher(name, op, value)


# --- Classic parser (pkg/labels) -----------------------------------------------------------------

_CLASSIC_RE = re.compile(
    r"^[ \t\n\f\r]*([a-zA-Z_:][a-zA-Z0-9_:]*)[ \t\n\f\r]*(=~|=|!=|!~)[ \t\n\f\r]*(.*?)[ \t\n\f\r]*\Z",
    re.DOTALL,
)


def _classic_unescape(raw: str) -> str:
    """Apply the classic parser's OpenMetrics-style unescaping to a matcher value."""
    quoted = raw.startswith('"')
    body = raw[1:] if quoted else raw
    out: list[str] = []
    escaped = False
    for i, ch in enumerate(body):
        if escaped:
            escaped = False
            out.append({"n": "\n", '"': '"', "\\": "\\"}.get(ch, "\\" + ch))
        elif ch == "\\" and i < len(body) - 1:
            escaped = True
        elif ch == '"':
            if not quoted or i < len(body) - 1:
                raise ValueError(f"matcher value contains unescaped double quote: {raw}")
            quoted = False
        else:
            out.append(ch)
    if quoted:
        raise ValueError(f"matcher value contains unescaped double quote: {raw}")
    return "".join(out)


def _classic_matcher(text: str) -> Matcher:
    found = _CLASSIC_RE.match(text)
    if not found:
        raise ValueError(f"bad matcher format: {text}")
    name, op, raw = found.groups()
    return _new_matcher(op, name, _classic_unescape(raw))


def _classic_split(text: str) -> list[str]:
    """Split on commas outside double quotes, the classic parser's tokenisation."""
    text = text.removeprefix("{").removesuffix("}")
    tokens: list[str] = []
    token: list[str] = []
    inside_quotes = escaped = False
    for ch in text:
        if ch == "," and not inside_quotes:
            tokens.append("".join(token))
            token = []
            continue
        if ch == '"':
            if escaped:
                escaped = False
            else:
                inside_quotes = not inside_quotes
        elif ch == "\\":
            escaped = not escaped
        elif ch != ",":
            escaped = False
        token.append(ch)
    last = "".join(token).strip()
    if last:
        tokens.append(last)
    return tokens


def _classic_matchers(text: str) -> list[Matcher]:
    return [_classic_matcher(token) for token in _classic_split(text)]


# --- UTF-8 parser (matcher/parse) ----------------------------------------------------------------

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
        while self.pos < len(self.text) and not _is_reserved(self.text[self.pos]):
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
            if not _is_reserved(ch):
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
            self.matchers.append(_new_matcher(op, name, value))
        except ValueError as err:
            raise ValueError(f"failed to create matcher: {err}") from None
        return self._end_of_matcher

    def _end_of_matcher(self) -> object:
        try:
            token = self._expect_peek(_COMMA, _CLOSE)
        except _EndOfInput:
            return self._close_brace
        except ValueError as err:
            raise ValueError(f"{err}: expected a comma or close brace") from None
        return self._comma if token.kind == _COMMA else self._close_brace

    def _comma(self) -> object:
        self._expect(_COMMA)
        try:
            token = self._expect_peek(_CLOSE, _UNQUOTED, _QUOTED)
        except _EndOfInput:
            return self._close_brace
        except ValueError as err:
            raise ValueError(f"{err}: expected a matcher or close brace after comma") from None
        return self._close_brace if token.kind == _CLOSE else self._matcher

    def _eof(self) -> object:
        try:
            token = self.lexer.scan()
        except ValueError as err:
            raise ValueError(f"{err}: expected end of input") from None
        if token.kind != _EOF:
            raise ValueError(f"{token.start}:{token.end}: {token.value}: expected end of input")
        return None


def _utf8_matchers(text: str) -> list[Matcher]:
    return _Parser(text).parse()


def _utf8_matcher(text: str) -> Matcher:
    found = _utf8_matchers(text)
    if len(found) == 1:
        return found[0]
    raise ValueError("no matchers" if not found else f"expected 1 matcher, found {len(found)}")


# --- Public parsing API --------------------------------------------------------------------------


def _fallback(classic: Callable[[str], object], utf8: Callable[[str], object], text: str) -> object:
    """Alertmanager's fallback rule: classic result if valid, else UTF-8 result, else classic error."""
    try:
        return classic(text)
    except ValueError as classic_error:
        try:
            return utf8(text)
        except ValueError:
            raise classic_error from None


def _check_mode(mode: str) -> None:
    if mode not in MODES:
        raise ValueError(f"unknown matcher parsing mode {mode!r}")


def parse_matchers(text: str, mode: str = MODE_FALLBACK) -> list[Matcher]:
    """Parse `{a="b", c=~"d"}` (braces optional) into matchers, in input order.

    Raises ValueError with the message Alertmanager gives for the same input in the same mode.
    """
    _check_mode(mode)
    if mode == MODE_CLASSIC:
        return _classic_matchers(text)
    if mode == MODE_UTF8:
        return _utf8_matchers(text)
    result = _fallback(_classic_matchers, _utf8_matchers, text)
    assert isinstance(result, list)
    return result


def parse_matcher(text: str, mode: str = MODE_FALLBACK) -> Matcher:
    """Parse exactly one matcher (`a="b"`, `a=b`, `"a b"!~"x|y"`); braces are refused."""
    _check_mode(mode)
    if mode == MODE_CLASSIC:
        return _classic_matcher(text)
    if text.startswith("{") or text.endswith("}"):
        raise ValueError(f"unexpected open or close brace: {text}")
    if mode == MODE_UTF8:
        return _utf8_matcher(text)
    result = _fallback(_classic_matcher, _utf8_matcher, text)
    assert isinstance(result, Matcher)
    return result
