"""The two key layouts of app/redis_keys.py: the plain one keeps today's names (an existing
deployment's state stays readable), the cluster one keeps every script's keys in one slot."""

from __future__ import annotations

from collections import Counter

import pytest
from redis.crc import REDIS_CLUSTER_HASH_SLOTS, key_slot

from app.redis_keys import SHARDS, Keys, shard_of, shard_tags


def slot(key: str) -> int:
    return key_slot(key.encode())


def test_the_plain_layout_keeps_its_names() -> None:
    keys = Keys("P")
    assert keys.shard("g1") is keys and keys.shards() == (keys,)
    assert (keys.alerts, keys.groups, keys.timers, keys.retries, keys.nflog) == (
        "P:alerts",
        "P:groups",
        "P:timers",
        "P:retries",
        "P:nflog",
    )
    assert (keys.group("g1"), keys.members("g1"), keys.inflight("g1"), keys.refused("g1")) == (
        "P:group:g1",
        "P:gmembers:g1",
        "P:inflight:g1",
        "P:refused:g1",
    )
    assert (keys.lease("ab"), keys.silences, keys.silences_version, keys.history("g1")) == (
        "P:lease:ab",
        "P:silences",
        "P:silences:version",
        "P:history:g1",
    )
    assert (keys.lease_pattern, keys.inflight_pattern) == ("P:lease:*", "P:inflight:*")


def test_a_shard_keeps_every_key_of_its_groups_in_one_slot() -> None:
    keys = Keys("P", cluster=True)
    for gid in ("0123456789abcdef0123", "g1", "x"):
        shard = keys.shard(gid)
        names = [shard.alerts, shard.groups, shard.timers, shard.retries, shard.nflog, shard.lease("ab")]
        names += [keys.group(gid), keys.members(gid), keys.inflight(gid), keys.refused(gid)]
        assert len({slot(name) for name in names}) == 1, names
        assert keys.group(gid) == shard.group(gid) == f"{shard.group_stem}{gid}"


def test_the_global_keys_share_one_slot_of_their_own() -> None:
    keys = Keys("P", cluster=True)
    names = [keys.silences, keys.silences_version, keys.history_index, keys.history_groups, keys.history("g")]
    assert {slot(name) for name in names} == {slot("P:{global}:silences")}


def test_the_top_of_the_cluster_layout_names_no_shard_key() -> None:
    """Code that forgets to pick a shard fails loudly instead of writing to a slot no script reads."""
    with pytest.raises(AttributeError):
        _ = Keys("P", cluster=True).alerts


def test_the_shards_spread_evenly_over_equal_slot_ranges() -> None:
    """Shard n's tag lies in the n-th of SHARDS equal slot ranges, so the three equal ranges of a
    three-master `redis-cli --cluster create` get 21 or 22 shards each."""
    width = REDIS_CLUSTER_HASH_SLOTS // SHARDS
    assert [key_slot(tag.encode()) // width for tag in shard_tags()] == list(range(SHARDS))
    third = REDIS_CLUSTER_HASH_SLOTS / 3
    per_master = Counter(int(key_slot(tag.encode()) // third) for tag in shard_tags())
    assert sorted(per_master.values()) == [21, 21, 22]


def test_groups_spread_over_the_shards() -> None:
    counts = Counter(shard_of(f"{n:020x}") for n in range(6400))
    assert len(counts) == SHARDS and max(counts.values()) < 2 * min(counts.values())
