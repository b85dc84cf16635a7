"""Script calls on many shards at once, the same way on a plain Redis and on a Redis Cluster.

In the cluster layout (app/redis_keys.py) a batch that touches groups of several shards costs one
script call per shard, each on keys of one slot. They go in one pipeline: redis-py's cluster
pipeline sends each node its calls together, so a batch costs one round trip per master however
many shards it touches. That pipeline refuses `Script` objects (redis-py blocks EVALSHA there),
hence the raw EVALSHA here, and a script a node does not know yet (a master added or promoted
since) is loaded on every master and run again.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import redis
from redis.commands.core import Script
from redis.exceptions import NoScriptError

# One script call: its KEYS and its ARGV.
Call = tuple[Sequence[Any], Sequence[Any]]


def run_script(client: redis.Redis, script: Script, calls: Sequence[Call]) -> list[Any]:
    """Run `script` once per call, in order, and return the replies; a single call runs as it
    always did, several share one pipelined round trip (per master, on a cluster). The first
    error a call met is raised once every call has run."""
    if len(calls) == 1:
        keys, args = calls[0]
        return [script(keys=keys, args=args)]
    if not calls:
        return []
    pipe = client.pipeline(transaction=False)
    for keys, args in calls:
        pipe.execute_command("EVALSHA", script.sha, len(keys), *keys, *args)
    replies = pipe.execute(raise_on_error=False)
    for i, reply in enumerate(replies):
        if isinstance(reply, NoScriptError):
            keys, args = calls[i]
            replies[i] = script(keys=keys, args=args)  # loads it, everywhere on a cluster
    for reply in replies:
        if isinstance(reply, Exception):
            raise reply
    return list(replies)
