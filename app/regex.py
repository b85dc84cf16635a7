"""Regexes as Go's regexp package reads and runs them: RE2, through the google-re2 binding.

Every regex alerter evaluates for an operator goes through here: label matchers (routes, inhibit
rules, silences, API filters), `match_re` in the config, the API's `receiver` filter
(`compile_anchored`), and the templates' `match` and `reReplaceAll` (`compile_regex`). RE2 is the
engine Go's regexp implements, so the syntax is Go's (`\\z`, `[[:alpha:]]`, `\\pL`, `\\Q...\\E`,
`(?U)`, flags anywhere; no look-around or back-references) and matching takes time linear in the
text: no pattern can make an evaluation backtrack for seconds, as `(a+)+$` does in Python's `re`.

A pattern RE2 refuses raises RegexError worded like Go's regexp/syntax errors:
"error parsing regexp: missing closing ): `^(?:(api|web)$`". A leaf: it imports nothing from
alerter.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import re2

# RE2's own default memory budget per regex, named here because it is a limit operators can meet:
# a pattern whose compiled program does not fit (`\pL{1000}`, an alternation of some 20,000 host
# names) is refused as "expression too large".
MAX_MEM = 8 << 20

_OPTIONS = re2.Options()
_OPTIONS.max_mem = MAX_MEM
_OPTIONS.log_errors = False  # a refused pattern is reported to the caller, not on stderr
_UNANCHORED = re2._Anchor.UNANCHORED
_NO_MATCH = (-1, -1)


class RegexError(ValueError, re.error):
    """A regex Go's regexp package refuses; also a re.error for callers that catch that."""

    def __init__(self, message: str) -> None:
        re.error.__init__(self, message)


# RE2's wording of a refusal (its RegexpStatus code texts) and Go's regexp/syntax wording of it.
_GO_ERRORS = (
    ("missing )", "missing closing )"),
    ("missing ]", "missing closing ]"),
    ("unexpected )", "unexpected )"),
    ("trailing \\", "trailing backslash at end of expression"),
    ("no argument for repetition operator", "missing argument to repetition operator"),
    ("bad repetition operator", "invalid nested repetition operator"),
    ("invalid repetition size", "invalid repeat count"),
    ("invalid perl operator", "invalid or unsupported Perl syntax"),
    ("invalid escape sequence", "invalid escape sequence"),
    ("invalid character class range", "invalid character class range"),
    ("invalid character class", "invalid character class"),
    ("invalid named capture group", "invalid named capture"),
    ("invalid UTF-8", "invalid UTF-8"),
)


def _go_error(message: str, expr: str) -> RegexError:
    """RegexError for RE2's `message` about `expr`, worded as Go words the same refusal."""
    if message.startswith("pattern too large"):
        return RegexError(f"error parsing regexp: expression too large: `{expr}`")
    for ours, go in _GO_ERRORS:
        if message == ours or message.startswith(f"{ours}: "):
            return RegexError(f"error parsing regexp: {go}: `{message[len(ours) + 2 :]}`")
    return RegexError(f"error parsing regexp: {message}: `{expr}`")


def _any_byte_escape(pattern: str) -> bool:
    """True when the pattern uses `\\C` (any byte): RE2 C++ has it, Go's regexp refuses it."""
    i = pattern.find("\\")
    while i >= 0:
        escaped = pattern[i + 1 : i + 2]
        if escaped == "C":
            return True
        if escaped == "Q":  # literal text up to \E
            end = pattern.find("\\E", i + 2)
            if end < 0:
                return False
            i = end
        i = pattern.find("\\", i + 2)
    return False


def _compile(expr: str) -> Any:
    if "\\C" in expr and _any_byte_escape(expr):
        raise RegexError("error parsing regexp: invalid escape sequence: `\\C`")
    try:
        return re2.compile(expr, _OPTIONS)
    except re2.error as err:
        raw = err.args[0] if err.args else ""
        message = raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)
        raise _go_error(message, expr) from None
    except UnicodeEncodeError:  # a lone surrogate: no UTF-8 spelling
        raise RegexError(f"error parsing regexp: invalid UTF-8: `{expr}`") from None


class Regex:
    """A compiled Go regexp: `search` is Go's MatchString, `replace_all` its ReplaceAllStringFunc."""

    __slots__ = ("_compiled", "_program")

    def __init__(self, expr: str) -> None:
        self._compiled = _compile(expr)
        # The binding's match objects cost microseconds that a yes/no answer does not need (a
        # matcher is evaluated for every alert and silence): its compiled RE2 object, the one its
        # own search runs, answers that directly.
        self._program = self._compiled._regexp

    def search(self, text: str) -> bool:
        """Go's MatchString: does the regex match anywhere in the text?"""
        data = text.encode()
        return self._program.Match(_UNANCHORED, data, 0, len(data))[0] != _NO_MATCH

    def find_all(self, text: str) -> Iterator[Any]:
        """The successive matches Go's ReplaceAll visits, as match objects (`group(n or name)`,
        `start()`, `end()`). An empty match right after another one is left out, as Go leaves it
        out; the binding's finditer yields it (and an empty match at the end of the text twice)."""
        last_end = 0
        for found in self._compiled.finditer(text):
            start, end = found.span()
            if start == end == last_end and start > 0:
                continue
            last_end = end
            yield found

    def replace_all(self, text: str, replacement: Callable[[Any], str]) -> str:
        """Go's ReplaceAllStringFunc, giving `replacement` the match object rather than its text so
        that it can expand `$1` as ReplaceAllString does."""
        out: list[str] = []
        copied = 0
        for found in self.find_all(text):
            out.append(text[copied : found.start()])
            out.append(replacement(found))
            copied = found.end()
        out.append(text[copied:])
        return "".join(out)


def compile_regex(pattern: str) -> Regex:
    """Go's regexp.Compile(pattern), unanchored: the templates' `match` and `reReplaceAll`.

    Raises RegexError worded like Go's error for the pattern: "error parsing regexp: ...".
    """
    return Regex(pattern)


def compile_anchored(pattern: str) -> Regex:
    """`^(?:pattern)$`, as Alertmanager compiles a matcher's value, `match_re` and the API's
    `receiver` filter; `search` then says whether a label value matches.

    Raises RegexError worded like Go's, which shows the anchored expression:
    "error parsing regexp: missing closing ): `^(?:(api|web)$`".
    """
    return Regex(f"^(?:{pattern})$")
