"""Free TCP ports on 127.0.0.1 for the servers that tests and benchmarks (bench/) start.

Never a port the machine's own services may use: Redis and Sentinel (6379, 26379, where a test
must never flush someone's data) and Alertmanager (9093, 9094).
"""

from __future__ import annotations

import os
import random
import socket
import threading
from pathlib import Path

HOST = "127.0.0.1"
RESERVED_PORTS = frozenset({6379, 26379, 9093, 9094})  # the machine's own Redis, Sentinel, Alertmanager
_HANDED_OUT: set[int] = set()
_PORT_LOCK = threading.Lock()


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def worker_slice(low: int, high: int) -> tuple[int, int]:
    """This pytest-xdist worker's slice of [low, high), the whole range outside xdist.

    Each worker remembers only the ports it handed out, so two workers drawing from one range
    could both pick a port that is still free when each checks it, and the second server to
    bind it fails ("Address already in use": a CI run lost a test to that). Disjoint slices
    leave the workers nothing to share."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if count <= 1 or not worker.startswith("gw") or not worker[2:].isdigit():
        return low, high
    size = (high - low) // count
    start = low + int(worker[2:]) % count * size
    return start, start + size


def _bindable(port: int) -> bool:
    # No SO_REUSEADDR: a port with anything on it (a listener, even a TIME_WAIT) is refused.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """A TCP port free on 127.0.0.1, never a reserved one, not handed out before in this run.

    Ports come from below the kernel's ephemeral range: an ephemeral port can be taken at any
    moment by an outgoing connection (a replica connecting to its master, say), which would make
    a later `restart()` on the same port fail. Each pytest-xdist worker draws from its own slice
    of that range; randomised, so that test runs on the same machine rarely collide.
    """
    low_ephemeral, _ = _ephemeral_range()
    low, high = worker_slice(10000, min(low_ephemeral, 65536))
    with _PORT_LOCK:
        if high - low > 1000:
            for _ in range(1000):
                port = random.randrange(low, high)
                if port in RESERVED_PORTS or port in _HANDED_OUT:
                    continue
                if _bindable(port):
                    _HANDED_OUT.add(port)
                    return port
        for _ in range(100):  # fall back to the kernel's choice
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                sock.bind((HOST, 0))
                port = int(sock.getsockname()[1])
            if port not in RESERVED_PORTS and port not in _HANDED_OUT:
                _HANDED_OUT.add(port)
                return port
    raise RuntimeError("no free TCP port found on 127.0.0.1")
