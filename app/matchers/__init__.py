"""Label matchers (`=`, `!=`, `=~`, `!~`) as Alertmanager parses, prints and evaluates them.

Alertmanager has two matcher parsers and alerter has both, because an unchanged alertmanager.yml
must mean the same thing here:

* the classic parser (Alertmanager <= 0.26, `pkg/labels`), in `classic`: `name op value` with a
  Prometheus label name, an optionally double-quoted value and tolerant escaping;
* the UTF-8 parser (0.27+, `matcher/parse`), in `utf8`: names and values are either unquoted runs
  of non-reserved characters or Go double-quoted strings, so any UTF-8 label name can be written.

Alertmanager's default ("fallback") mode tries both: it uses the classic result whenever the
classic parser accepts the input, the UTF-8 result when only that parser accepts it, and reports
the classic parser's error when neither does. `--enable-feature=classic-mode` and
`utf8-strict-mode` pin one parser; `MODE_*` below select the same behaviours.

The Matcher type itself (evaluation, printing, ordering) is in `matcher`; its regexes are
compiled by `app.regex`, anchored at both ends as Alertmanager anchors them.
"""

from __future__ import annotations

from collections.abc import Callable

from app.matchers import classic, utf8
from app.matchers.matcher import OPS, Matcher, format_matchers, matches_all, sort_matchers

__all__ = [
    "MODES",
    "MODE_CLASSIC",
    "MODE_FALLBACK",
    "MODE_UTF8",
    "OPS",
    "Matcher",
    "format_matchers",
    "matches_all",
    "parse_matcher",
    "parse_matchers",
    "sort_matchers",
]

MODE_FALLBACK = "fallback"
MODE_CLASSIC = "classic"
MODE_UTF8 = "utf8"
MODES = (MODE_FALLBACK, MODE_CLASSIC, MODE_UTF8)


def _fallback(
    classic_parse: Callable[[str], object], utf8_parse: Callable[[str], object], text: str
) -> object:
    """Alertmanager's fallback rule: classic result if valid, else UTF-8 result, else classic error."""
    try:
        return classic_parse(text)
    except ValueError as classic_error:
        try:
            return utf8_parse(text)
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
        return classic.parse_matchers(text)
    if mode == MODE_UTF8:
        return utf8.parse_matchers(text)
    result = _fallback(classic.parse_matchers, utf8.parse_matchers, text)
    assert isinstance(result, list)
    return result


def parse_matcher(text: str, mode: str = MODE_FALLBACK) -> Matcher:
    """Parse exactly one matcher (`a="b"`, `a=b`, `"a b"!~"x|y"`); braces are refused."""
    _check_mode(mode)
    if mode == MODE_CLASSIC:
        return classic.parse_matcher(text)
    if text.startswith("{") or text.endswith("}"):
        raise ValueError(f"unexpected open or close brace: {text}")
    if mode == MODE_UTF8:
        return utf8.parse_matcher(text)
    result = _fallback(classic.parse_matcher, utf8.parse_matcher, text)
    assert isinstance(result, Matcher)
    return result
