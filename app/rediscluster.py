"""Script calls on many shards at once, the same way on a plain Redis and on a Redis Cluster.

In the cluster layout (app/redis_keys.py) a batch that touches groups of several shards costs one
script call per shard, each on keys of one slot. They go in one pipeline: redis-py's cluster
pipeline sends each node its calls together, so a batch costs one round trip per master however
many shards it touches. That pipeline refuses `Script` objects (redis-py blocks EVALSHA there),
hence the raw EVALSHA here, and a script a node does not know yet (a master added or promoted
since) is loaded on every master and run again.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import redis
from redis.cluster import RedisCluster
from redis.commands.core import Script
from redis.exceptions import NoScriptError

log = logging.getLogger(__name__)

# One script call: its KEYS and its ARGV.
Call = tuple[Sequence[Any], Sequence[Any]]


class _DirectScript(Script):
    """A script called as `EVALSHA` straight on its client. redis-py's `Script.__call__` copies
    the keys and arguments into a new tuple, imports `Pipeline` and checks the client against it
    (a typing Protocol check) at every call: about 26,000 instructions a call (callgrind, a
    25-argument call in a loop, 232,000 against 206,000), and a worker makes one for each batch
    of leases, of commits, of claims and of groups it loads, a batch being a few notifications in
    a real deployment. The same command goes out on the same client, its retries and failover
    handling included; a server that does not know the script yet (a restart, a failover) answers
    NOSCRIPT, and redis-py's own path then loads it (one more round trip, that once)."""

    def __call__(
        self, keys: list[Any] | None = None, args: list[Any] | None = None, client: Any = None
    ) -> Any:
        if client is not None or not keys:
            return super().__call__(keys, args, client)
        try:
            return self.registered_client.execute_command(
                "EVALSHA", self.sha, len(keys), *keys, *(args or ())
            )
        except NoScriptError:
            return super().__call__(keys, args)


def register(client: redis.Redis, text: str) -> Script:
    """`client.register_script(text)`, called the cheaper way (`_DirectScript`): every script
    alerter runs is registered here."""
    return _DirectScript(client, text)


def run_script(
    client: redis.Redis, script: Script, calls: Sequence[Call], partial: bool = False
) -> list[Any]:
    """Run `script` once per call, in order, and return the replies; a single call runs as it
    always did, several share one pipelined round trip (per master, on a cluster). The first
    error a call met is raised once every call has run.

    With `partial` (the timer loop's claims, whose successes must be queued whatever another
    shard met), a failed call is logged and its reply is None; only when every call failed is
    the error raised, so that a Redis that is down is still waited out as one.
    """
    if len(calls) == 1:
        keys, args = calls[0]
        return [script(keys=keys, args=args)]
    if not calls:
        return []
    pipe = client.pipeline(transaction=False)
    # Routed by hand on a cluster: redis-py's cluster pipeline would ask the server for each
    # EVALSHA's keys (COMMAND GETKEYS, one round trip a call, one after another) to route it. A
    # call the slot map sent to the wrong node comes back MOVED or ASK and is sent again.
    cluster = isinstance(client, RedisCluster)
    for keys, args in calls:
        options = {"target_nodes": client.get_node_from_key(keys[0])} if cluster else {}
        pipe.execute_command("EVALSHA", script.sha, len(keys), *keys, *args, **options)
    replies = pipe.execute(raise_on_error=False)
    for i, reply in enumerate(replies):
        if isinstance(reply, NoScriptError):
            keys, args = calls[i]
            try:
                replies[i] = script(keys=keys, args=args)  # loads it, everywhere on a cluster
            except redis.RedisError as err:
                replies[i] = err
    failed = [reply for reply in replies if isinstance(reply, Exception)]
    if failed and (not partial or len(failed) == len(replies)):
        raise failed[0]
    for i, reply in enumerate(replies):
        if isinstance(reply, Exception):
            log.warning(
                "a script call on one shard failed; the others went through",
                extra={"fields": {"keys": str(calls[i][0][0]), "err": str(reply)}},
            )
            replies[i] = None
    return list(replies)
