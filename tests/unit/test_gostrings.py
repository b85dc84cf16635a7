"""Go's string quoting (strconv.Quote and Unquote)."""

from __future__ import annotations

import pytest

from app.gostrings import go_quote, go_unquote


def test_go_quoting_round_trips() -> None:
    for text in ["plain", 'q"uote', "back\\slash", "tab\tnl\n", "\x00\x7f", "ü €", "\u200b"]:
        assert go_unquote(go_quote(text)) == text
    assert go_quote("é\x01\u200b") == '"é\\x01\\u200b"'
    assert go_unquote('"\\x41\\101\\u00e9\\U0001F600"') == "AAé😀"
    for bad in ['"open', '"a"b"', "'a'", '"\\q"']:
        with pytest.raises(ValueError):
            go_unquote(bad)
