"""Label-set fingerprints: Alertmanager's FNV-1a 64, checked against a plain-Python reference."""

from __future__ import annotations

import random

import pytest

from app import labels as labels_module
from app.labels import fingerprint
from app.memo import FirstUseCache

FNV_OFFSET, FNV_PRIME = 0xCBF29CE484222325, 0x100000001B3


def reference(labels: dict[str, str]) -> str:
    """Alertmanager's definition spelled out: names sorted, each name and value as UTF-8 followed
    by the byte 0xff, FNV-1a 64 over the bytes, 16 lowercase hex digits."""
    h = FNV_OFFSET
    for name in sorted(labels):
        for byte in name.encode() + b"\xff" + labels[name].encode() + b"\xff":
            h = ((h ^ byte) * FNV_PRIME) % 2**64
    return f"{h:016x}"


@pytest.mark.parametrize(
    "labels",
    [
        {},
        {"alertname": "DiskFull"},
        {"severity": "warning", "alertname": "BenchAlert0001", "job": "node", "instance": "h:9100"},
        {"zone": "café", "名前": "値", "empty-ish": " "},
        {"a": "\x00", "b": "\n"},
        # U+00FF is the latin-1 separator's character: in a value, a name, or both.
        {"alertname": "ÿ", "job": "node"},
        {"ÿ": "x", "job": "ÿÿ"},
        {"job": "a\xffb", "alertname": "\xff"},
        # Latin-1 but not ASCII, beyond latin-1, outside the BMP: UTF-8 of two, three, four bytes.
        {"alertname": "Café", "instance": "h:9100"},
        {"alertname": "X", "zone": "東京"},
        {"alertname": "X", "emoji": "🔥"},
        {"café": "ascii", "b": "c"},
        # A % in a name or a value is text, not a format.
        {"100%": "x", "b": "%s"},
        {"a": "%%", "b%s": "%(a)s", "%": "%d"},
        # One label (the value is no tuple), names given out of order, names that sort by code
        # point ("B" < "_" < "a").
        {"only": "one"},
        {"severity": "warning", "alertname": "A", "job": "node", "instance": "h:9100"},
        {"a": "1", "_": "2", "B": "3"},
    ],
)
def test_fingerprint_is_alertmanagers(labels: dict[str, str]) -> None:
    assert fingerprint(labels) == reference(labels)


def test_fingerprint_of_no_labels_is_the_fnv_offset_basis() -> None:
    assert fingerprint({}) == "cbf29ce484222325"


# Characters from every UTF-8 length and those the fingerprint treats specially: the latin-1
# separator U+00FF, the % of its templates, the JSON-only control characters.
_ALPHABET = "abcXYZ_09:-. %s\x00\x7f\x80éÿĀ東🔥"


def _random_text(rng: random.Random) -> str:
    return "".join(rng.choices(_ALPHABET, k=rng.randint(1, 8)))


def test_fingerprint_matches_the_reference_for_random_label_sets() -> None:
    rng = random.Random(20240607)
    for _ in range(3000):
        names = {_random_text(rng) for _ in range(rng.randint(0, 6))}
        labels = {name: _random_text(rng) for name in names}
        assert fingerprint(labels) == reference(labels), labels
        # The same set in another order has the same fingerprint (a layout of its own).
        shuffled = list(labels.items())
        rng.shuffle(shuffled)
        assert fingerprint(dict(shuffled)) == reference(labels), labels


def test_fingerprint_layouts_start_afresh_when_full(monkeypatch: pytest.MonkeyPatch) -> None:
    """A sender inventing label names fills the layouts; they are cleared, not grown."""
    monkeypatch.setattr(labels_module, "_LAYOUTS", FirstUseCache(labels_module._layout, 3))
    for i in range(10):
        labels = {f"name{i}": "v", "job": "ÿ"}
        assert fingerprint(labels) == reference(labels)
        assert 1 <= len(labels_module._LAYOUTS) <= 3
