"""Every Redis key alerter uses, in one place.

All keys sit under one prefix, `P` below (`--cluster.label`, or `alerter`), so clusters can share
a Redis. Python code takes key names from `Keys`; the Lua scripts in `app/redis_scripts.py` get
theirs in KEYS, or, where a script must name per-group keys for group ids it finds itself, the
keys' stems (`Keys.group_stem`, ...) in ARGV. Nothing else builds a key name.

key                  type        holds
-------------------  ----------  ---------------------------------------------------------------
P:alerts             hash        fingerprint -> "startsAt endsAt updatedAt timeout {json}"
                                 (Alert.encode): times as epoch seconds, timeout 0 or 1, then
                                 JSON {"l": labels, "a": annotations, "g": generatorURL}. The
                                 only copy of each alert. An alert last posted without startsAt
                                 and endsAt holds its JSON alone here ("{" first), and its times
                                 in P:alert-times: see there.
P:alert-times        hash        fingerprint -> "startsAt endsAt updatedAt timeout", the times of
                                 each alert whose P:alerts value is its JSON alone, and of no
                                 other (PUT_ALERTS keeps the two together). A re-send without
                                 times changes only these times and rewrites the JSON it came
                                 with, so PUT_ALERTS neither reads nor builds a whole value for
                                 it. The times, a space and the JSON are the alert's whole value
                                 (Alert.decode), as every reader puts them together.
P:groups             set         the id of every aggregation group (dispatcher.group_id, a hash
                                 of the route and the group key).
P:group:<gid>        hash        "meta": JSON {"key": group key, "route": route id, "receiver":
                                 receiver name, "labels": the group's labels}; "gi": the
                                 group_interval in seconds; "flushed": "0" until a timer first
                                 claims the group, then "1"; "muted": JSON list of the time
                                 intervals that muted the group at its last flush, absent when
                                 none (Alertmanager's group marker, the API's `mutedBy`); "rn":
                                 the retries scheduled since the group's last regular flush
                                 (absent: none), which sets the next retry's backoff.
P:gmembers:<gid>     set         the fingerprints of the group's alerts (their values are in
                                 P:alerts). A group keeps a resolved alert until its resolution
                                 is notified.
P:timers             sorted set  gid -> due time (epoch seconds): one member, so one pending
                                 timer, per group.
P:retries            sorted set  gid -> due time of the group's next retry (a flush that only
                                 re-sends what a retryable failure left unsent): one member
                                 per group, always before the group's next regular flush.
P:inflight:<gid>     string      "1" with a TTL of --cluster.peer-timeout: a flush job for the
                                 group is queued or running.
P:nflog              hash        "<gid>:<receiver>/<integration>/<index>" -> JSON {"f": firing
                                 fingerprints, "r": resolved fingerprints, "ts": time of the
                                 send, "x": expiry time} (nflog.Entry).
P:lease:<sha1>       string      the holder's token ("pid.random.counter") with a TTL of
                                 --cluster.peer-timeout: the right to send one content (the
                                 sha1 of the nflog field and the firing and resolved
                                 fingerprints) to one integration of one group.
P:silences           hash        silence id -> JSON {"id", "m": [[name, op, value], ...],
                                 "s": startsAt, "e": endsAt, "u": updatedAt, "by": createdBy,
                                 "c": comment, "a": annotations, only when there are some}
                                 (Silence.encode).
P:silences:version   string      a counter bumped (INCR) on every silence change; a process
                                 re-reads P:silences only when it moved.
P:peers              hash        process name ("host/role/address-or-pid") -> heartbeat
                                 JSON {"address", "role", "config": config hash, "ts": time}.
                                 A heartbeat older than --cluster.peer-timeout is a failed
                                 peer's; the sweep deletes it after --cluster.reconnect-timeout.
P:alertname-limit:<digest>
                     sorted set  with --alerts.per-alertname-limit, per alertname (the blake2b
                                 digest of its value): fingerprint -> endsAt of the alerts stored
                                 under it; expires after its last endsAt.
P:housekeeping       string      "1" with a TTL of the shortest of --cluster.pushpull-interval,
                                 --dispatch.maintenance-interval, --data.maintenance-interval and
                                 --alerts.gc-interval: the lock that lets one process per interval
                                 queue the sweep.
P:gc                 string      "1" with a TTL of --alerts.gc-interval: the lock that lets one
                                 sweep per interval drop resolved alerts.
P:maintenance        string      "1" with a TTL of --data.maintenance-interval: one sweep per
                                 interval collects silences and the notification log (and
                                 snapshots, embedded).
P:dispatch-maintenance
                     string      "1" with a TTL of --dispatch.maintenance-interval: one sweep per
                                 interval re-arms lost group timers.
P:dispatch-start     string      with --dispatch.start-delay, the start time (epoch seconds) of
                                 the first process against this Redis state (app.startdelay).

P:refused:<gid>      set         the nflog fields of the group's integrations whose last
                                 attempt failed for good (a permanent error), with a TTL of the
                                 group_interval: a retry of the group leaves them to its next
                                 regular flush, as Alertmanager retries only what may pass.
P:history:<gid>      list        the group's last delivery attempts, newest first, at most
                                 history.PER_GROUP: JSON {"t": time, "r": receiver, "i":
                                 integration, "n": its index, "o": "sent", "retrying" or
                                 "failed", "a": 1 for a flush's first attempt, 2 for a
                                 retry, "w": the sending process, "f" and "s": firing and
                                 resolved alerts in the message, "e": the error}
                                 (app/history.py). A gid is hex, never "index" or
                                 "groups" below.
P:history:index      sorted set  gid -> time of the group's latest attempt: the history list's
                                 order, and what the sweep drops after --data.retention.
P:history:groups     hash        gid -> JSON {"key", "receiver", "labels"}: the group as its
                                 latest attempt saw it (it outlives the group's own keys).

RQ keeps its own keys (`rq:*`, queue `alerter`) outside the prefix. The embedded mode's snapshot
(`backend.save_snapshot`) saves every hash, set, sorted set and list matching `Keys.everything`; the
strings (in-flight marks, leases, locks, the silences version) are left out. P:silences and
P:nflog change only through `app/durability.py`'s `Writer`, whose embedded write-ahead log records
each change of their fields between snapshots.

Redis Cluster layout (`Keys(prefix, cluster=True)`, chosen by app/backend.py when --redis.url is
a cluster node; docs/scaling.md): a cluster runs a script only on keys of one slot, so the keys
are spread over SHARDS logical shards by aggregation group, each shard's keys carrying a hash tag
that puts them in one slot: `P:{T}:alerts`, `P:{T}:alert-times`, `P:{T}:groups`, `P:{T}:timers`,
`P:{T}:retries`, `P:{T}:nflog`, `P:{T}:group:<gid>`, `P:{T}:gmembers:<gid>`,
`P:{T}:inflight:<gid>`, `P:{T}:refused:<gid>` and `P:{T}:lease:<sha1>`, T being the tag of
shard `shard_of(gid)` (`Keys.shard(gid)` names them). A shard's alerts hash (and its
alert-times) holds the alerts of the shard's groups, so an alert routed to groups of two shards
is stored in both. Everything else (silences, peers,
locks, the history) carries the tag `{global}`: one slot, so PUT_SILENCES and RECORD_ATTEMPTS
keep their several keys together. The plain layout above is unchanged by all this: an existing
deployment's state stays readable.
"""

from __future__ import annotations

import zlib
from functools import cache

from redis.crc import REDIS_CLUSTER_HASH_SLOTS, key_slot

# The logical shards of the cluster layout. Fixed: a group's shard is part of its keys' names, so
# another count would lose every group. 64 leaves 16 shards a master up to 4 masters (Redis moves
# slots between masters; alerter never re-hashes).
SHARDS = 64


def shard_of(gid: str) -> int:
    """The shard of a group (crc32 of its id: any string works, a group id is hex)."""
    return zlib.crc32(gid.encode()) % SHARDS


@cache
def shard_tags() -> tuple[str, ...]:
    """Each shard's hash tag, chosen so that shard n's slot lies in the n-th of SHARDS equal slot
    ranges: `redis-cli --cluster create` gives each master a contiguous range, so the shards
    spread over the masters as evenly as the slots do. Deterministic (CRC16 of fixed strings)."""
    width = REDIS_CLUSTER_HASH_SLOTS // SHARDS
    tags = []
    for n in range(SHARDS):
        k = 0
        while key_slot(f"{n}.{k}".encode()) // width != n:
            k += 1
        tags.append(f"{n}.{k}")
    return tuple(tags)


class Keys:
    """Redis key names under one prefix (`--cluster.label`), so clusters can share a Redis.

    The names of a group's keys (and of the alerts, timers, retries and log they live with) come
    from `shard(gid)`, every shard's from `shards()`: in the plain layout both are this object
    itself, in the cluster layout the Keys of a shard. A cluster layout's own object has no
    per-shard names at all, so code that forgets to pick a shard fails loudly instead of writing
    keys another slot's script cannot see.
    """

    # Per-shard names (absent from a cluster layout's top object).
    alerts: str
    alert_times: str
    groups: str
    timers: str
    retries: str
    nflog: str
    group_stem: str
    members_stem: str
    inflight_stem: str
    lease_stem: str
    refused_stem: str

    def __init__(self, prefix: str = "alerter", cluster: bool = False) -> None:
        self.prefix = prefix
        self.cluster = cluster
        common = f"{prefix}:{{global}}" if cluster else prefix
        self.silences = f"{common}:silences"
        self.silences_version = f"{common}:silences:version"
        self.peers = f"{common}:peers"
        self.housekeeping_lock = f"{common}:housekeeping"
        self.gc_lock = f"{common}:gc"
        self.maintenance_lock = f"{common}:maintenance"
        self.dispatch_maintenance_lock = f"{common}:dispatch-maintenance"
        self.dispatch_start = f"{common}:dispatch-start"
        self.history_index = f"{common}:history:index"
        self.history_groups = f"{common}:history:groups"
        # Per-group and per-lease keys are a stem followed by the id; scripts that name such keys
        # for ids they find themselves take the stem as an argument.
        self.alertname_limit_stem = f"{common}:alertname-limit:"
        self.history_stem = f"{common}:history:"
        # SCAN MATCH patterns: every key above; every in-flight mark and every lease, in every
        # shard (Redis' glob takes braces as they are).
        self.everything = f"{prefix}:*"
        shards = f"{prefix}:{{*}}" if cluster else prefix
        self.inflight_pattern = f"{shards}:inflight:*"
        self.lease_pattern = f"{shards}:lease:*"
        self._shards: tuple[Keys, ...]
        if cluster:
            self._shards = tuple(self._tagged(f"{prefix}:{{{tag}}}") for tag in shard_tags())
            for shard in self._shards:
                shard._shards = self._shards
        else:
            self._name_shard(prefix)
            self._shards = (self,)

    def _tagged(self, base: str) -> Keys:
        """A copy of these keys whose per-shard names start with `base` (a shard's tag)."""
        shard = object.__new__(Keys)
        shard.__dict__.update(self.__dict__)
        shard._name_shard(base)
        return shard

    def _name_shard(self, base: str) -> None:
        self.alerts = f"{base}:alerts"
        self.alert_times = f"{base}:alert-times"
        self.groups = f"{base}:groups"
        self.timers = f"{base}:timers"
        self.retries = f"{base}:retries"
        self.nflog = f"{base}:nflog"
        self.group_stem = f"{base}:group:"
        self.members_stem = f"{base}:gmembers:"
        self.inflight_stem = f"{base}:inflight:"
        self.lease_stem = f"{base}:lease:"
        self.refused_stem = f"{base}:refused:"

    def shard(self, gid: str) -> Keys:
        """The keys of the shard that holds group `gid` (the plain layout: these keys)."""
        return self._shards[shard_of(gid)] if self.cluster else self

    def shards(self) -> tuple[Keys, ...]:
        """Every shard's keys, for what reads or sweeps them all (the plain layout: these keys)."""
        return self._shards

    def by_shard(self, gids: list[str]) -> dict[Keys, list[str]]:
        """`gids` split by shard, each shard's in their given order (one entry in the plain
        layout), so that a batch costs one script call per shard it touches."""
        out: dict[Keys, list[str]] = {}
        for gid in gids:
            out.setdefault(self.shard(gid), []).append(gid)
        return out

    def refused(self, gid: str) -> str:
        """The integrations of a group whose last attempt was refused for good (app.notify)."""
        return f"{self.shard(gid).refused_stem}{gid}"

    # A group's own keys are in its shard whichever Keys names them.
    def group(self, gid: str) -> str:
        return f"{self.shard(gid).group_stem}{gid}"

    def members(self, gid: str) -> str:
        """The fingerprints of a group's alerts; the alerts themselves are only in `alerts`."""
        return f"{self.shard(gid).members_stem}{gid}"

    def inflight(self, gid: str) -> str:
        return f"{self.shard(gid).inflight_stem}{gid}"

    def lease(self, digest: str) -> str:
        """A lease's key (`digest`: the hash of what it sends)."""
        return f"{self.lease_stem}{digest}"

    def history(self, gid: str) -> str:
        """A group's delivery attempts (app/history.py)."""
        return f"{self.history_stem}{gid}"
