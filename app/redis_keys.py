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
                                 only copy of each alert.
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
"""

from __future__ import annotations


class Keys:
    """Redis key names under one prefix (`--cluster.label`), so clusters can share a Redis."""

    def __init__(self, prefix: str = "alerter") -> None:
        self.prefix = prefix
        self.alerts = f"{prefix}:alerts"
        self.groups = f"{prefix}:groups"
        self.timers = f"{prefix}:timers"
        self.retries = f"{prefix}:retries"
        self.nflog = f"{prefix}:nflog"
        self.silences = f"{prefix}:silences"
        self.silences_version = f"{prefix}:silences:version"
        self.peers = f"{prefix}:peers"
        self.housekeeping_lock = f"{prefix}:housekeeping"
        self.gc_lock = f"{prefix}:gc"
        self.maintenance_lock = f"{prefix}:maintenance"
        self.dispatch_maintenance_lock = f"{prefix}:dispatch-maintenance"
        self.dispatch_start = f"{prefix}:dispatch-start"
        self.history_index = f"{prefix}:history:index"
        self.history_groups = f"{prefix}:history:groups"
        # Per-group and per-lease keys are a stem followed by the id; scripts that name such keys
        # for ids they find themselves take the stem as an argument.
        self.group_stem = f"{prefix}:group:"
        self.members_stem = f"{prefix}:gmembers:"
        self.inflight_stem = f"{prefix}:inflight:"
        self.lease_stem = f"{prefix}:lease:"
        self.alertname_limit_stem = f"{prefix}:alertname-limit:"
        self.history_stem = f"{prefix}:history:"
        self.refused_stem = f"{prefix}:refused:"
        # A SCAN MATCH pattern for every key above.
        self.everything = f"{prefix}:*"

    def refused(self, gid: str) -> str:
        """The integrations of a group whose last attempt was refused for good (app.notify)."""
        return f"{self.refused_stem}{gid}"

    def group(self, gid: str) -> str:
        return f"{self.group_stem}{gid}"

    def members(self, gid: str) -> str:
        """The fingerprints of a group's alerts; the alerts themselves are only in `alerts`."""
        return f"{self.members_stem}{gid}"

    def inflight(self, gid: str) -> str:
        return f"{self.inflight_stem}{gid}"

    def lease(self, digest: str) -> str:
        """A lease's key (`digest`: the hash of what it sends); `lease("*")` is a SCAN MATCH
        pattern for every lease."""
        return f"{self.lease_stem}{digest}"

    def history(self, gid: str) -> str:
        """A group's delivery attempts (app/history.py)."""
        return f"{self.history_stem}{gid}"
