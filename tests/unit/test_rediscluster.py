"""run_script: one script on many shards in one round trip, and what a failed call does."""

from __future__ import annotations

import fakeredis
import pytest
import redis

from app.rediscluster import run_script

# Sets KEYS[1] to ARGV[1], and fails for the key "bad" (after nothing was written).
SET_OR_FAIL = """
if KEYS[1] == 'bad' then return redis.error_reply('refused') end
redis.call('SET', KEYS[1], ARGV[1])
return ARGV[1]
"""


@pytest.fixture
def client() -> redis.Redis:
    return fakeredis.FakeRedis(server=fakeredis.FakeServer())


def test_calls_run_in_order_and_a_script_the_server_lacks_is_loaded(client: redis.Redis) -> None:
    script = client.register_script(SET_OR_FAIL)
    assert not client.script_exists(script.sha)[0]  # a pipelined EVALSHA meets NoScriptError first
    assert run_script(client, script, [(["a"], ["1"]), (["b"], ["2"])]) == [b"1", b"2"]
    assert client.mget("a", "b") == [b"1", b"2"]


def test_a_failed_call_raises_once_every_call_has_run(client: redis.Redis) -> None:
    script = client.register_script(SET_OR_FAIL)
    with pytest.raises(redis.ResponseError, match="refused"):
        run_script(client, script, [(["a"], ["1"]), (["bad"], ["2"]), (["c"], ["3"])])
    assert client.mget("a", "c") == [b"1", b"3"]


def test_partial_gives_none_for_a_failed_call_and_raises_only_when_all_failed(client: redis.Redis) -> None:
    script = client.register_script(SET_OR_FAIL)
    assert run_script(client, script, [(["a"], ["1"]), (["bad"], ["2"])], partial=True) == [b"1", None]
    with pytest.raises(redis.ResponseError, match="refused"):
        run_script(client, script, [(["bad"], ["1"]), (["bad"], ["2"])], partial=True)
    with pytest.raises(redis.ResponseError, match="refused"):
        run_script(client, script, [(["bad"], ["1"])], partial=True)  # the plain layout's one call
