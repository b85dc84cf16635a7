"""Acknowledged means kept (app/durability.py): the embedded write-ahead log replays every
acknowledged silence and notification-log write over the last snapshot, and on Redis a write
returns only once a replica holds it.

The write-ahead log runs on fakeredis, as in the embedded process; the replica tests run a real
redis-server master and replica (tests/support/redis_server.py), since only they replicate.
"""

from __future__ import annotations

import errno
import logging
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import fakeredis
import pytest
import redis

from app import backend, durability, metrics
from app.api.postable_silence import silence_from_api
from app.durability import ReplicaAcks, WriteAheadLog, WriteNotDurable
from app.nflog import NotificationLog
from app.redis_keys import Keys
from app.settings import Settings
from app.silence import SilenceStore
from app.timeutil import format_rfc3339
from tests.support.processes import wait_until
from tests.support.redis_server import RedisServer

NOW = 1_700_000_000.0
KEYS = Keys("t")


RETENTION = 120 * 3600.0  # Alertmanager's default --data.retention


def silence(name: str, starts: float = NOW) -> dict:
    return {
        "matchers": [{"name": "alertname", "value": name, "isRegex": False, "isEqual": True}],
        "startsAt": format_rfc3339(starts),
        "endsAt": format_rfc3339(starts + 3600),
        "createdBy": "ops",
        "comment": f"quiet {name}",
    }


def fresh() -> redis.Redis:
    return fakeredis.FakeRedis(server=fakeredis.FakeServer())


def state(client: redis.Redis) -> dict[str, dict[bytes, bytes]]:
    return {key: client.hgetall(key) for key in (KEYS.silences, KEYS.nflog)}


def log_notification(nflog: NotificationLog, gid: str, fingerprint: str) -> None:
    field = nflog.field(gid, "hook", "webhook", 0)
    [(verdict, lease)] = nflog.acquire_many([(field, "", frozenset([fingerprint]), frozenset())], ttl=15)
    assert verdict == "ok" and lease is not None
    assert nflog.commit(lease, frozenset([fingerprint]), frozenset(), NOW, repeat_interval=3600)


def segments(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.glob("alerter-wal-*.log"))


def test_every_acknowledged_write_is_replayed_onto_an_empty_server(tmp_path: Path) -> None:
    client = fresh()
    wal = WriteAheadLog.recover(tmp_path, client)
    silences = SilenceStore(client, KEYS, retention=3600, writer=wal)
    nflog = NotificationLog(client, KEYS, retention=3600, writer=wal)
    kept = silences.set(silence_from_api(silence("Kept"), RETENTION), NOW)
    expired = silences.set(silence_from_api(silence("Expired"), RETENTION), NOW)
    silences.expire(expired, NOW + 1)
    # An update that Alertmanager cannot make in place: the old one expires, a new id replaces it.
    replaced = silences.set(silence_from_api({**silence("Replaced"), "id": kept}, RETENTION), NOW + 2)
    log_notification(nflog, "g1", "fp1")
    log_notification(nflog, "g2", "fp2")

    restored = fresh()
    WriteAheadLog.recover(tmp_path, restored)  # as after a SIGKILL: no snapshot was taken

    assert state(restored) == state(client)
    assert {s.id: s.state(NOW + 3) for s in SilenceStore(restored, KEYS, retention=3600).all()} == {
        kept: "expired",
        expired: "expired",
        replaced: "active",
    }


def test_gc_deletions_replay_with_the_same_outcome(tmp_path: Path) -> None:
    client = fresh()
    wal = WriteAheadLog.recover(tmp_path, client)
    silences = SilenceStore(client, KEYS, retention=60, writer=wal)
    old = silences.set(silence_from_api(silence("Old"), RETENTION), NOW)
    silences.expire(old, NOW + 1)
    young = silences.set(silence_from_api(silence("Young"), RETENTION), NOW + 2)
    assert silences.gc(NOW + 1000) == 1

    restored = fresh()
    WriteAheadLog.recover(tmp_path, restored)
    assert [s.id for s in SilenceStore(restored, KEYS, retention=60).all()] == [young]


def test_a_snapshot_drops_the_log_it_covers_and_later_writes_are_replayed_over_it(tmp_path: Path) -> None:
    settings = Settings(storage_path=str(tmp_path))
    client = fresh()
    wal = backend.restore_state(client, settings)
    silences = SilenceStore(client, KEYS, retention=3600, writer=wal)
    nflog = NotificationLog(client, KEYS, retention=3600, writer=wal)
    before = silences.set(silence_from_api(silence("Before"), RETENTION), NOW)
    log_notification(nflog, "g1", "fp1")
    first = segments(tmp_path)

    backend.save_snapshot(client, KEYS, settings, wal)
    after = silences.set(silence_from_api(silence("After"), RETENTION), NOW)
    log_notification(nflog, "g2", "fp2")

    # The segment that held the writes before the snapshot is gone; one segment is left.
    assert not set(first) & set(segments(tmp_path))
    assert len(segments(tmp_path)) == 1
    restored = fresh()
    backend.restore_state(restored, settings)
    assert state(restored) == state(client)
    assert {s.id for s in SilenceStore(restored, KEYS, retention=3600).all()} == {before, after}


def test_writes_during_a_snapshot_are_neither_lost_nor_reordered(tmp_path: Path) -> None:
    """Writers keep updating the same silences while snapshots are taken: the restored state is
    the state at the end, whichever side of a snapshot each write fell on."""
    settings = Settings(storage_path=str(tmp_path))
    client = fresh()
    wal = backend.restore_state(client, settings)
    silences = SilenceStore(client, KEYS, retention=3600, writer=wal)
    names = [f"S{i}" for i in range(4)]
    ids = [silences.set(silence_from_api(silence(name), RETENTION), NOW) for name in names]
    stop = threading.Event()
    errors: list[BaseException] = []

    def update(sid: str, name: str) -> None:
        """Update in place (same matchers and start), a new comment each time."""
        try:
            n = 0
            while not stop.is_set() or n < 20:
                n += 1
                silences.set(
                    silence_from_api({**silence(name), "id": sid, "comment": f"update {n}"}, RETENTION), NOW
                )
        except BaseException as err:  # reported by the main thread
            errors.append(err)

    threads = [threading.Thread(target=update, args=pair) for pair in zip(ids, names, strict=True)]
    for t in threads:
        t.start()
    for _ in range(5):
        backend.save_snapshot(client, KEYS, settings, wal)
    stop.set()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors

    restored = fresh()
    backend.restore_state(restored, settings)
    assert state(restored) == state(client)


def test_a_write_cut_short_by_a_crash_is_dropped_and_the_rest_replayed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    client = fresh()
    wal = WriteAheadLog.recover(tmp_path, client)
    kept = SilenceStore(client, KEYS, retention=3600, writer=wal).set(
        silence_from_api(silence("Kept"), RETENTION), NOW
    )
    [segment] = tmp_path.glob("alerter-wal-*.log")
    with segment.open("ab") as f:
        f.write(b'[["set","t:silences","cut')  # no newline: the crash came mid-write

    restored = fresh()
    with caplog.at_level(logging.WARNING):
        WriteAheadLog.recover(tmp_path, restored)
    assert list(restored.hkeys(KEYS.silences)) == [kept.encode()]
    assert "dropping a write cut short by a crash" in caplog.text


def test_a_damaged_log_stops_the_start_with_a_message_naming_the_file(tmp_path: Path) -> None:
    WriteAheadLog.recover(tmp_path, fresh())
    [segment] = tmp_path.glob("alerter-wal-*.log")
    segment.write_bytes(b'[["set","t:silences","a","b"]]\nnot json\n')
    with pytest.raises(RuntimeError, match=rf"cannot replay {segment}, line 2: .*move the file away"):
        WriteAheadLog.recover(tmp_path, fresh())


def test_a_failed_append_refuses_the_write_and_leaves_no_half_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A disk that fills up mid-line: the caller is told the write is not durable, the half
    line is cut off, and the log stays replayable once space is back."""
    client = fresh()
    wal = WriteAheadLog.recover(tmp_path, client)
    silences = SilenceStore(client, KEYS, retention=3600, writer=wal)
    first = silences.set(silence_from_api(silence("First"), RETENTION), NOW)
    real_write = os.write
    calls = []

    def disk_full(fd: int, data: bytes | memoryview) -> int:
        calls.append(len(data))
        if len(calls) == 1:
            return real_write(fd, bytes(data)[:10])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(durability.os, "write", disk_full)
    with pytest.raises(WriteNotDurable, match=r"could not be saved under --storage\.path"):
        silences.set(silence_from_api(silence("Refused"), RETENTION), NOW)
    monkeypatch.setattr(durability.os, "write", real_write)
    third = silences.set(silence_from_api(silence("Third"), RETENTION), NOW)

    restored = fresh()
    WriteAheadLog.recover(tmp_path, restored)
    assert {s.id for s in SilenceStore(restored, KEYS, retention=3600).all()} == {first, third}


# ---------------------------------------------------------------------------------------------
# Redis: a replica's acknowledgement


@pytest.fixture
def replicated() -> Iterator[tuple[RedisServer, RedisServer]]:
    master = RedisServer().start()
    replica = RedisServer(replicaof=master).start()
    try:
        replica.wait_synced()
        yield master, replica
    finally:
        replica.stop()
        master.stop()


def test_a_silence_write_returns_only_once_the_replica_holds_it(
    replicated: tuple[RedisServer, RedisServer],
) -> None:
    master, replica = replicated
    client = master.client()
    acks = ReplicaAcks(client, timeout=30)
    silences = SilenceStore(client, KEYS, retention=3600, writer=acks)
    # Online once it has acknowledged recently (a loaded machine can delay that): only then does
    # a write wait for it.
    wait_until(lambda: acks.online_replicas() == 1, 10, message="the replica never came online")
    replica.process.pause()  # replication stalls, as behind a slow link
    answered: list[str] = []
    body = silence_from_api(silence("Q", starts=time.time()), RETENTION)
    writer = threading.Thread(target=lambda: answered.append(silences.set(body)))
    try:
        writer.start()
        sid = wait_until(
            lambda: client.hkeys(KEYS.silences), 10, message="the silence never reached the master"
        )
        # Applied on the master, not yet on the replica: the write has not returned.
        assert not answered
    finally:
        replica.process.resume()
    writer.join(timeout=30)
    assert answered == [sid[0].decode()]
    assert replica.client().hkeys(KEYS.silences) == sid


def test_a_replica_that_does_not_confirm_in_time_gets_a_warning_and_the_write_is_kept(
    replicated: tuple[RedisServer, RedisServer], caplog: pytest.LogCaptureFixture
) -> None:
    master, replica = replicated
    client = master.client()
    acks = ReplicaAcks(client, timeout=0.2, recheck=0)
    nflog = NotificationLog(client, KEYS, retention=3600, writer=acks)
    timeouts = metrics.replica_ack_timeouts._value.get()
    # The replica counts as online only once it has acknowledged recently (a loaded machine can
    # delay that past the lag limit), so the write below is one that waits for it.
    wait_until(lambda: acks.online_replicas() == 1, 10, message="the replica never came online")
    replica.process.pause()
    try:
        with caplog.at_level(logging.WARNING):
            log_notification(nflog, "g1", "fp1")
    finally:
        replica.process.resume()
    assert client.hlen(KEYS.nflog) == 1
    assert metrics.replica_ack_timeouts._value.get() == timeouts + 1
    assert "no replica confirmed a write within --cluster.probe-timeout" in caplog.text


def test_a_master_without_replicas_is_never_sent_wait(redis_server: RedisServer) -> None:
    client = redis_server.client()
    nflog = NotificationLog(client, KEYS, retention=3600, writer=ReplicaAcks(client, timeout=5))
    log_notification(nflog, "g1", "fp1")
    assert client.hlen(KEYS.nflog) == 1
    assert "cmdstat_wait" not in client.info("commandstats")


def test_a_master_that_never_ran_the_script_writes_at_once(
    replicated: tuple[RedisServer, RedisServer],
) -> None:
    """Regression: a master promoted by a failover knows none of the scripts. The pipeline once
    sent EVALSHA, which failed with NOSCRIPT while the WAIT behind it blocked for the whole
    timeout, so the write landed only after it, on a retry."""
    master, replica = replicated
    client = master.client()
    acks = ReplicaAcks(client, timeout=30)
    silences = SilenceStore(client, KEYS, retention=3600, writer=acks)
    # As in the tests above: a write waits for the replica only once it counts as online, which a
    # loaded machine can delay past the end of its sync (CI once wrote before that, unreplicated).
    wait_until(lambda: acks.online_replicas() == 1, 10, message="the replica never came online")
    client.script_flush()
    replica.process.pause()
    answered: list[str] = []
    body = silence_from_api(silence("Q", starts=time.time()), RETENTION)
    writer = threading.Thread(target=lambda: answered.append(silences.set(body)))
    try:
        writer.start()
        # On the master before any replica could confirm it: the script ran first in the pipeline.
        wait_until(lambda: client.hkeys(KEYS.silences), 10, message="no silence on the master")
    finally:
        replica.process.resume()
    writer.join(timeout=30)
    assert replica.client().hkeys(KEYS.silences) == [answered[0].encode()]
