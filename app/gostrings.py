"""Go's string literals, as strconv writes and reads them: `go_quote` (strconv.Quote, `%q`) and
`go_unquote` (strconv.Unquote of a double-quoted literal).

Alertmanager prints quoted names and values in its error messages and keys, its UTF-8 matcher
syntax and Go templates use Go's double-quoted literals, so their wording must match to the byte.
A leaf: it imports nothing from alerter.
"""

from __future__ import annotations

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
