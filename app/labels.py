"""Label sets: Alertmanager-compatible fingerprints and label-name validation.

The fingerprint must equal Alertmanager's so that an operator can compare alerts between
alerter and Alertmanager one by one: FNV-1a 64 over the labels sorted by name, each name and
value followed by the separator byte 0xff, printed as 16 lowercase hex digits.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

_FNV_OFFSET = 0xCBF29CE484222325
_FNV_PRIME = 0x100000001B3
_MASK = 0xFFFFFFFFFFFFFFFF
_SEP = 0xFF

CLASSIC_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


def fingerprint(labels: Mapping[str, str]) -> str:
    """Return Alertmanager's 16-hex-digit fingerprint of a label set."""
    h = _FNV_OFFSET
    for name in sorted(labels):
        for part in (name, labels[name]):
            for byte in part.encode():
                h = ((h ^ byte) * _FNV_PRIME) & _MASK
            h = ((h ^ _SEP) * _FNV_PRIME) & _MASK
    return f"{h:016x}"


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


def format_labels(labels: Mapping[str, str]) -> str:
    """Render labels as `{a="1", b="2"}` sorted by name, the form Alertmanager logs and keys use."""
    inner = ", ".join(f'{k}="{_escape(labels[k])}"' for k in sorted(labels))
    return "{" + inner + "}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
