"""Regexes with Go's RE2 syntax, compiled for Python: the regexes of label matchers (routes, inhibit
rules, silences, API filters) and of the templates' `match` and `reReplaceAll` are compiled by
`compile_regex`.

Go's RE2 syntax is followed as far as Python's `re` allows: the RE2-only spellings people use
(`\\z`, `[[:alpha:]]`, `\\Q...\\E`, `(?<name>...)`, flags in the middle of a pattern) are translated
and the Perl-only constructs RE2 refuses (look-around, back-references) are refused here too. Still
different: RE2's ungreedy flag `(?U)` and Unicode classes `\\pL` are refused, and `\\d`/`\\w` also
match non-ASCII digits and letters. A leaf: it imports nothing from alerter.
"""

from __future__ import annotations

import re

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
