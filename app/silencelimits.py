"""--silences.max-silences, --silences.max-silence-size-bytes and --log.silences: what an
operator limits and logs about silences, applied where a silence is written (app.silence).

The size limit counts what Alertmanager counts: the bytes of the silence as it stores it, a
protobuf `MeshSilence` (the silence and its expiry, endsAt + --data.retention), computed here
from the same fields without a protobuf library. The encoding is Alertmanager 0.34's (the
matchers in one matcher set). Timestamps are encoded to the nanosecond there and to the
microsecond here, so a limit right at a silence's size may let one byte decide differently.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import UTC, datetime

from app.silence import Silence, SilenceError

log = logging.getLogger("alerter.silences")

# silencepb.Matcher.Type by alerter's operator.
_MATCHER_TYPES = {"=": 0, "=~": 1, "!=": 2, "!~": 3}


def _varint(n: int) -> int:
    """Bytes of a protobuf varint (a negative int64 takes ten)."""
    if n < 0:
        return 10
    size = 1
    while n >= 0x80:
        n >>= 7
        size += 1
    return size


def _embedded(payload: int) -> int:
    """Bytes of a length-delimited field of `payload` bytes (every field number here is below
    16, so its tag is one byte)."""
    return 1 + _varint(payload) + payload


def _string(text: str) -> int:
    """A proto3 string field: left out when empty."""
    return _embedded(len(text.encode())) if text else 0


def _timestamp(seconds: float) -> int:
    """A google.protobuf.Timestamp field (always present: Alertmanager sets every one)."""
    whole = math.floor(seconds)
    nanos = round((seconds - whole) * 1e6) * 1000
    if nanos == 1_000_000_000:
        whole, nanos = whole + 1, 0
    return _embedded((1 + _varint(whole) if whole else 0) + (1 + _varint(nanos) if nanos else 0))


def _map_entry(key: str, value: str) -> int:
    """One entry of a proto3 map<string, string>: a message whose key and value are both
    written, empty or not (protobuf-go encodes a map entry's fields without omitting zeros)."""
    return _embedded(_embedded(len(key.encode())) + _embedded(len(value.encode())))


def stored_size(silence: Silence, retention: float) -> int:
    """proto.Size of the MeshSilence Alertmanager would store for `silence` (its annotations,
    field 10 of silencepb.Silence since 0.32, included)."""
    matchers = sum(
        _embedded(
            (1 + _varint(_MATCHER_TYPES[m.op]) if _MATCHER_TYPES[m.op] else 0)
            + _string(m.name)
            + _string(m.value)
        )
        for m in silence.matchers
    )
    body = (
        _string(silence.id)
        + _timestamp(silence.starts_at)
        + _timestamp(silence.ends_at)
        + _timestamp(silence.updated_at)
        + _string(silence.created_by)
        + _string(silence.comment)
        + _embedded(matchers)  # matcher_sets: one set holding every matcher
        + sum(_map_entry(k, v) for k, v in silence.annotations.items())
    )
    return _embedded(body) + _timestamp(silence.ends_at + retention)


def _rfc3339_seconds(ts: float) -> str:
    """Go's time.RFC3339 of a UTC time: whole seconds, as --log.silences prints them."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class SilenceLimits:
    """The limits (0 or less: none) and whether changes are logged, from the flags."""

    max_silences: int = 0
    max_size_bytes: int = 0
    log_changes: bool = False

    def check_count(self, stored: int) -> None:
        """Before a silence is added to the `stored` ones (expired ones count until collected)."""
        if 0 < self.max_silences < stored + 1:
            raise SilenceError(f"exceeded maximum number of silences: {stored} (limit: {self.max_silences})")

    def check_size(self, silence: Silence, retention: float) -> None:
        size = stored_size(silence, retention) if self.max_size_bytes > 0 else 0
        if size > self.max_size_bytes > 0:
            raise SilenceError(
                f"silence exceeded maximum size: {size} bytes (limit: {self.max_size_bytes} bytes)"
            )

    def changed(self, what: str, silence: Silence) -> None:
        """Log a change ("create silence", "update silence", "expire silence") with the fields
        Alertmanager's --log.silences logs."""
        if not self.log_changes:
            return
        fields = {
            "Id": silence.id,
            "CreatedBy": silence.created_by,
            "Comment": silence.comment,
            "StartsAt": _rfc3339_seconds(silence.starts_at),
            "EndsAt": _rfc3339_seconds(silence.ends_at),
            "Matchers": ",".join(f"{m.name}{m.op}{m.value}" for m in silence.matchers),
        }
        log.info(what, extra={"fields": fields})
