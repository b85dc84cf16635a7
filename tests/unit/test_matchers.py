"""Matcher parsing in Alertmanager's three modes, printing, ordering and evaluation."""

from __future__ import annotations

import re

import pytest

from app.matchers import (
    MODE_CLASSIC,
    MODE_UTF8,
    Matcher,
    format_matchers,
    matches_all,
    parse_matcher,
    parse_matchers,
    sort_matchers,
)


def triples(matchers: list[Matcher]) -> list[tuple[str, str, str]]:
    return [(m.name, m.op, m.value) for m in matchers]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('a="b"', [("a", "=", "b")]),
        ("a=b", [("a", "=", "b")]),
        ('a!~"x|y"', [("a", "!~", "x|y")]),
        ("a =~ x.*", [("a", "=~", "x.*")]),
        ('{a="b", c=~"d"}', [("a", "=", "b"), ("c", "=~", "d")]),
        ("foo=bar,dings!=bums", [("foo", "=", "bar"), ("dings", "!=", "bums")]),
        ('{foo = "bar", dings != "bums", }', [("foo", "=", "bar"), ("dings", "!=", "bums")]),
        ('quote="She said: \\"Hi, ladies!\\""', [("quote", "=", 'She said: "Hi, ladies!"')]),
        ('msg="a, b"', [("msg", "=", "a, b")]),
        ('nl="line1\\nline2"', [("nl", "=", "line1\nline2")]),
        ("a=", [("a", "=", "")]),
        ("", []),
        ("{}", []),
    ],
)
def test_classic_and_quoted_forms(text: str, expected: list[tuple[str, str, str]]) -> None:
    assert triples(parse_matchers(text)) == expected


def test_utf8_label_names_need_quotes_and_the_utf8_parser() -> None:
    assert triples(parse_matchers('{"service.name"="checkout", "a b"!~"x"}')) == [
        ("service.name", "=", "checkout"),
        ("a b", "!~", "x"),
    ]
    assert parse_matcher('"http.status"=~"5.."').name == "http.status"
    with pytest.raises(ValueError, match=re.escape('bad matcher format: "service.name"="x"')):
        parse_matchers('"service.name"="x"', MODE_CLASSIC)


def test_fallback_prefers_the_classic_reading_when_both_parse() -> None:
    # The UTF-8 parser refuses the unquoted space; the classic one reads it as part of the value.
    assert triples(parse_matchers("a=b c")) == [("a", "=", "b c")]
    with pytest.raises(ValueError, match="4:5: unexpected c: expected a comma or close brace"):
        parse_matchers("a=b c", MODE_UTF8)


@pytest.mark.parametrize(
    ("text", "mode", "message"),
    [
        ("a!b", "fallback", "bad matcher format: a!b"),
        ('a="b', "fallback", 'matcher value contains unescaped double quote: "b'),
        ('a="b"c"', "classic", 'matcher value contains unescaped double quote: "b"c"'),
        ("=b", "fallback", "bad matcher format: =b"),
        ("a=b,,c=d", "fallback", "bad matcher format: "),
        ("a=~(", "fallback", "error parsing regexp: missing closing ): `^(?:()$`"),
        ("a!b", "utf8", "1:2: !: expected one of '=~': expected an operator such as '=', '!=', '=~' or '!~'"),
        ('a="b', "utf8", '2:4: "b: missing end ": expected label value'),
        ("{a=b", "utf8", "0:4: end of input: expected close brace"),
        ("a=b}", "utf8", "0:4: }: expected opening brace"),
        ("=b", "utf8", "0:1: unexpected =: expected label name"),
        ("a=", "utf8", "end of input: expected label value"),
        ('"a\\q"=b', "utf8", '0:5: "a\\q": invalid input'),
        ("a=~(", "utf8", "failed to create matcher: error parsing regexp: missing closing ): `^(?:()$`"),
    ],
)
def test_parse_errors_are_worded_like_alertmanager(text: str, mode: str, message: str) -> None:
    with pytest.raises(ValueError) as err:
        parse_matchers(text, mode)
    assert str(err.value) == message


def test_parse_matcher_wants_exactly_one_and_no_braces() -> None:
    assert triples([parse_matcher("severity=critical")]) == [("severity", "=", "critical")]
    with pytest.raises(ValueError, match="unexpected open or close brace"):
        parse_matcher('{a="b"}')
    with pytest.raises(ValueError, match="expected 1 matcher, found 2"):
        parse_matcher('"a.b"="1", "c.d"="2"', MODE_UTF8)
    with pytest.raises(ValueError, match=re.escape('bad matcher format: "a.b"="1", "c.d"="2"')):
        parse_matcher('"a.b"="1", "c.d"="2"')  # both parsers fail: the classic error is reported
    with pytest.raises(ValueError, match="unknown matcher parsing mode"):
        parse_matcher("a=b", mode="lenient")


@pytest.mark.parametrize(
    ("matcher", "text"),
    [
        (Matcher("severity", "=", "page"), 'severity="page"'),
        (Matcher("a", "!~", "x|y"), 'a!~"x|y"'),
        (Matcher("msg", "=", 'say "hi"\n\\'), 'msg="say \\"hi\\"\\n\\\\"'),
        (Matcher("service.name", "=", "x"), 'service.name="x"'),
        (Matcher("a b", "=~", "é\t"), '"a b"=~"é\\t"'),
    ],
)
def test_str_is_alertmanagers_form(matcher: Matcher, text: str) -> None:
    assert str(matcher) == text
    assert parse_matcher(text) == matcher


def test_sorting_and_set_formatting_follow_alertmanager() -> None:
    found = sort_matchers(parse_matchers('b="1", a=~"x", a="x", a!="x", a="w"'))
    assert format_matchers(found) == '{a="w",a="x",a!="x",a=~"x",b="1"}'
    assert format_matchers([]) == "{}"


def test_regexes_are_anchored_and_absent_labels_match_as_empty() -> None:
    m = parse_matcher('job=~"node|api"')
    assert m.matches("node") and m.matches("api")
    assert not m.matches("node-exporter") and not m.matches("xnode")
    assert matches_all([parse_matcher('team!="db"')], {"alertname": "X"})
    assert matches_all([parse_matcher('team=~"|db"')], {})
    assert not matches_all([parse_matcher('team=~".+"')], {})


def test_regex_follows_go_rather_than_python() -> None:
    assert not parse_matcher('a=~"b.c"').matches("b\nc")  # `.` does not match a newline in RE2
    assert not parse_matcher('a=~"ok"').matches("ok\n")  # `$` does not stop before a final newline
    assert parse_matcher('a=~"(?i)warn|crit"').matches("CRIT")  # flags apply to every alternative
    assert parse_matcher('a=~"x(?i)y"').matches("xY")
    assert parse_matcher('a=~"[[:digit:]]+"').matches("42")
    assert parse_matcher('a=~"(?<n>a)b"').matches("ab")
    assert parse_matcher('a=~"x\\\\Q.*\\\\E"').matches("x.*")  # RE2's \Q...\E literal text
    # \Q without \E runs to the end of Alertmanager's anchored `^(?:x\Q.*)$`, so its `)` too.
    with pytest.raises(ValueError, match=re.escape("missing closing ): `^(?:x\\Q.*)$`")):
        parse_matcher('a=~"x\\\\Q.*"')
    with pytest.raises(ValueError, match="invalid or unsupported Perl syntax"):
        parse_matcher('a=~"(?=x)"')
    with pytest.raises(ValueError, match="invalid escape sequence"):
        parse_matcher('a=~"(a)\\\\1"')


def test_regex_runs_on_re2_in_linear_time() -> None:
    # `(a+)+$` backtracks for minutes in Python's re on this text; RE2 answers at once.
    text = "a" * 28 + "b"
    assert not parse_matcher('a=~"(a+)+$"').matches(text)
    assert parse_matcher('a=~"(a+)+$"').matches("a" * 28)
    assert parse_matcher('a=~"x(a+)+y"').matches("x" + "a" * 28 + "y")


def test_regex_limits_and_syntax_are_re2s() -> None:
    # Nested repetition counts multiply past RE2's (and Go's) limit of 1000.
    with pytest.raises(ValueError, match=re.escape("error parsing regexp: invalid repeat count: `{1000}`")):
        parse_matcher('a=~"((a{1000}){1000}){1000}"')
    with pytest.raises(re.error):  # still a re.error, as callers catching that expect
        Matcher("a", "=~", "a{1001}")
    assert parse_matcher('a=~"\\\\pL+"').matches("héllo")  # Unicode classes
    assert parse_matcher('a=~"(?U)a+"').matches("aaa")  # RE2's ungreedy flag
    assert parse_matcher('a=~"ok\\\\z"').matches("ok")
    for pattern, message in [
        ("\\\\Z", "invalid escape sequence: `\\Z`"),
        ("\\\\C", "invalid escape sequence: `\\C`"),  # RE2 C++ has it; Go's regexp does not
        ("a**", "invalid nested repetition operator: `**`"),
        ("*", "missing argument to repetition operator: `*`"),
        ("[z-a]", "invalid character class range: `z-a`"),
    ]:
        with pytest.raises(ValueError, match=re.escape(f"error parsing regexp: {message}")):
            parse_matcher(f'a=~"{pattern}"')
    assert parse_matcher('a=~"x\\\\Q\\\\C\\\\E"').matches("x\\C")  # literal text, not the escape
