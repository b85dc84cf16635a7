"""How alerter's Redis clients turn a command into RESP bytes: straight through hiredis.

redis-py's hiredis serializer copies every command's arguments through a Python generator (to
turn bytearrays and memoryviews into bytes) before hiredis packs them. alerter's arguments are
str, bytes, int and float, which hiredis packs as they are, and its script calls carry hundreds
of them (a flush batch's commits, an ingest batch's alerts): the generator cost 0.17 us an
argument on the 2-core machine kind, 45 us against 19 us for a call of 160 arguments, and with
the rest of the serializer about 4 % of a worker's samples (py-spy, bench/notify). The bytes
written are the same: the fast path calls the same hiredis function with the same arguments, and
whatever it does not take (a multi-word command name, a bytearray, a memoryview) goes to
redis-py's own serializer, so the client behaves exactly as before.
"""

from __future__ import annotations

from typing import Any

import hiredis
from redis.connection import HiredisRespSerializer


class CommandPacker:
    """A redis-py command packer (the connections' `command_packer`)."""

    __slots__ = ("_general",)

    def __init__(self) -> None:
        self._general = HiredisRespSerializer()

    def pack(self, *args: Any) -> list[bytes]:
        name = args[0]
        # redis-py splits a command name of several words ("CLIENT SETNAME") into arguments.
        if (b" " if name.__class__ is bytes else " ") not in name:
            try:
                return [hiredis.pack_command(args)]
            except TypeError:
                pass  # an argument hiredis does not take as it is: redis-py converts it
        return self._general.pack(*args)
