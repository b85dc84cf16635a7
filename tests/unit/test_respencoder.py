"""alerter's command packer writes the bytes redis-py's own would, for every argument it meets."""

from __future__ import annotations

from typing import Any

import pytest
from redis.connection import HiredisRespSerializer

from app import backend
from app.respencoder import CommandPacker
from app.settings import Settings
from tests.support.redis_server import RedisServer

COMMANDS: list[tuple[Any, ...]] = [
    ("GET", "key"),
    (b"GET", b"key"),
    ("EVALSHA", "a" * 40, 2, "k1", "k2", "é", b"\x00\xff", 1.5, -3, 10**20),
    ("SET", "k", ""),
    # What hiredis does not take as it is goes to redis-py's serializer.
    ("SCRIPT LOAD", "return 1"),
    (b"CLIENT SETNAME", b"alerter"),
    ("SET", "k", memoryview(b"view")),
    ("SET", "k", bytearray(b"array")),
]


def _test_id(args: tuple[Any, ...]) -> str:
    """The command as an id that is the same in every process: a memoryview's repr is its
    address, which made pytest-xdist's workers collect different tests and refuse to run."""
    return repr(tuple(bytes(a) if isinstance(a, memoryview) else a for a in args))


@pytest.mark.parametrize("args", COMMANDS, ids=_test_id)
def test_packs_as_redis_py_does(args: tuple[Any, ...]) -> None:
    assert b"".join(CommandPacker().pack(*args)) == b"".join(HiredisRespSerializer().pack(*args))


def test_an_argument_neither_takes_is_refused_as_redis_py_refuses_it() -> None:
    with pytest.raises(Exception) as ours:
        CommandPacker().pack("SET", "k", object())
    with pytest.raises(Exception) as theirs:
        HiredisRespSerializer().pack("SET", "k", object())
    assert type(ours.value) is type(theirs.value)


def test_alerters_clients_pack_with_it(redis_server: RedisServer) -> None:
    client = backend.connect(Settings(redis_url=redis_server.url))
    client.set("packed", memoryview(b"value"))
    client.execute_command("CLIENT SETNAME", "packer-test")
    assert client.get("packed") == b"value"
    assert client.client_getname() in ("packer-test", b"packer-test")
    connection = client.connection_pool.get_connection()
    try:
        assert isinstance(connection._command_packer, CommandPacker)
    finally:
        client.connection_pool.release(connection)
