"""Label-set fingerprints: Alertmanager's FNV-1a 64, checked against a plain-Python reference."""

from __future__ import annotations

import pytest

from app.labels import fingerprint

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
    ],
)
def test_fingerprint_is_alertmanagers(labels: dict[str, str]) -> None:
    assert fingerprint(labels) == reference(labels)


def test_fingerprint_of_no_labels_is_the_fnv_offset_basis() -> None:
    assert fingerprint({}) == "cbf29ce484222325"
