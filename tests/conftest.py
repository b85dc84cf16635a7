"""Fixtures every test directory can use; tests/e2e and others add their own conftest files.

Nothing here skips: a test that needs a server the machine lacks fails with the package to
install (scripts/test installs them all), so a green run always means the tests ran.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.support import processes
from tests.support.ports import free_port as _free_port
from tests.support.redis_server import RedisServer

# Directories in the order their tests start: the slowest (HA failovers and crashes, real
# Prometheus and Alertmanager, a few at 20-45 s each) first, so that the run's last minutes go to
# short unit tests spread over every xdist process instead of one process finishing a failover
# test while the others sit idle (the order within a directory is kept).
_FIRST = ("tests/ha/", "tests/interop/", "tests/e2e/", "tests/ui/")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        path = item.nodeid
        return next((i for i, prefix in enumerate(_FIRST) if path.startswith(prefix)), len(_FIRST))

    items.sort(key=rank)


@pytest.fixture(scope="session", autouse=True)
def _cleanup_processes() -> Iterator[None]:
    """Kill whatever a test started and left running, when the session ends or is terminated:
    a leftover server would hold its port and its Redis state into the next run."""
    processes.install_cleanup_handlers()
    yield
    processes.cleanup_all()


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    """A fresh, empty, private redis-server for this test only (never the machine's 6379)."""
    server = RedisServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def free_port() -> Callable[[], int]:
    """The free_port function itself, so `port = free_port()` reads the same in a test using the
    fixture as in support code importing the function."""
    return _free_port
