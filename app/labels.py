"""Label sets: Alertmanager-compatible fingerprints and label-name validation.

The fingerprint must equal Alertmanager's so that an operator can compare alerts between
alerter and Alertmanager one by one: FNV-1a 64 over the labels sorted by name, each name and
value followed by the separator byte 0xff, printed as 16 lowercase hex digits.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from operator import itemgetter
from typing import Any

from fnv_c.ext._fnv import lib as _fnv

from app.memo import FirstUseCache

# fnv-c's C function itself: its Python wrapper only re-checks the argument's type, which cost a
# third of the hash on this path.
_fnv1a_64 = _fnv.fnv1a_64

# The separator byte 0xff as a str, two ways. Latin-1 encodes U+00FF as that byte, which for
# ASCII names and values gives the UTF-8 bytes the hash wants; surrogateescape encodes the lone
# surrogate U+DCFF as that byte whatever the text (JSON decoders refuse lone surrogates, so a label
# can never contain it itself).
_LATIN1_SEP = "\xff"
_SURROGATE_SEP = "\udcff"


# How the hashed text of a label set is built, for the sets whose names come in one order: two
# %-templates of the sorted names with their separators, U+00FF (None when a name is not ASCII)
# and U+DCFF (for any names and values), and what takes the values in that order (a tuple, or a
# one-label set's value). A plain tuple: the fingerprint unpacks it for every alert.
_Layout = tuple[str | None, str, Callable[[Mapping[str, str]], Any]]

# Layouts by the label names in a set's own order (defined below, after _layout). Label sets share
# a handful of name lists, so this stays small; it starts afresh past LAYOUTS_SIZE entries: a
# sender inventing label names then costs a layout per alert, not unbounded memory.
LAYOUTS_SIZE = 4096

CLASSIC_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


def fingerprint(labels: Mapping[str, str]) -> str:
    """Return Alertmanager's 16-hex-digit fingerprint of a label set.

    The hash runs in C (fnv-c): every ingested alert is fingerprinted, and a Python byte loop
    cost four times as much. The hashed text is put together by the layout of the set's names
    (_LAYOUTS): the values taken in sorted order by one itemgetter call and put into a template,
    where sorting the items, flattening them and joining them cost half of the fingerprint. A
    set of ASCII values (nearly every one) is then encoded as latin-1, one byte a character, not
    joined around a surrogate (two bytes a character) and encoded with surrogateescape: 11,500
    instructions a fingerprint of bench/inprocess's 4-label sets against 15,900 (callgrind).
    """
    latin1, surrogates, sorted_values = _LAYOUTS[tuple(labels)]
    values = sorted_values(labels)
    # "".join takes a one-label set's value character by character: the same text.
    if latin1 is not None and "".join(values).isascii():
        data = (latin1 % values).encode("latin-1")
    else:
        data = (surrogates % values).encode("utf-8", "surrogateescape")
    # to_bytes().hex() is zero-padded lowercase hex, as the format spec `016x`, in fewer steps.
    return _fnv1a_64(data, len(data)).to_bytes(8, "big").hex()


def _layout(names: tuple[str, ...]) -> _Layout:
    """The layout of label sets with these names in this order (see _LAYOUTS).

    Names sort as their UTF-8 bytes do, as Go sorts them; a `%` in a name is escaped for the
    templates. No labels are no text, and `tuple` gives their no values.
    """
    ordered = sorted(names)
    escaped = [name.replace("%", "%%") for name in ordered]
    return (
        "".join([f"{name}{_LATIN1_SEP}%s{_LATIN1_SEP}" for name in escaped])
        if all(map(str.isascii, names))
        else None,
        "".join([f"{name}{_SURROGATE_SEP}%s{_SURROGATE_SEP}" for name in escaped]),
        itemgetter(*ordered) if ordered else tuple,
    )


_LAYOUTS: FirstUseCache[tuple[str, ...], _Layout] = FirstUseCache(_layout, LAYOUTS_SIZE)


def label_name_error(name: str, classic: bool = False) -> str | None:
    """Say what is wrong with a label name, or None when it is valid.

    Current Alertmanager accepts any non-empty UTF-8 name; `classic` restricts names to the
    pre-0.28 pattern, as Alertmanager's `--enable-feature=classic-mode` does.
    """
    if not name:
        return "empty label name"
    if classic and not CLASSIC_LABEL_NAME.match(name):
        return f'invalid label name "{name}"'
    return None
