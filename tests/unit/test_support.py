"""The test support code does what the HA tests rely on it for.

If a "killed" Redis still answered, or a "stopped" gunicorn left workers serving, the failover
and crash tests built on these helpers would pass for the wrong reason; these tests pin down
the real outcomes.
"""

from __future__ import annotations

import signal
import socket
import sys
import time
from pathlib import Path

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from tests.support import processes
from tests.support.ports import free_port, worker_slice
from tests.support.processes import ManagedProcess, alerter_command, require_binary, wait_until
from tests.support.redis_server import RedisHACluster, RedisServer, SentinelServer


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def process_state(pid: int) -> str:
    """The one-letter state from /proc (R, S, T for stopped, Z...)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat.rsplit(")", 1)[1].split()[0]


def pid_alive(pid: int) -> bool:
    try:
        return process_state(pid) not in ("Z", "X")
    except FileNotFoundError:
        return False


# -- free_port -------------------------------------------------------------------------------


def test_free_port_is_bindable_distinct_and_never_6379() -> None:
    ports = [free_port() for _ in range(50)]
    assert len(set(ports)) == len(ports)
    assert 6379 not in ports and 26379 not in ports
    for port in ports[:5]:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))


def test_each_xdist_worker_draws_ports_from_its_own_slice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", "3")
    slices = []
    for worker in ("gw0", "gw1", "gw2"):
        monkeypatch.setenv("PYTEST_XDIST_WORKER", worker)
        slices.append(worker_slice(10000, 32768))
    assert slices == [(10000, 17589), (17589, 25178), (25178, 32767)]
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw1")
    assert all(17589 <= free_port() < 25178 for _ in range(20))
    monkeypatch.delenv("PYTEST_XDIST_WORKER")
    assert worker_slice(10000, 32768) == (10000, 32768)  # outside xdist (bench/): the whole range


def test_free_port_fixture_is_the_function(free_port: object) -> None:
    assert callable(free_port)
    assert isinstance(free_port(), int)


# -- wait_until ------------------------------------------------------------------------------


def test_wait_until_returns_the_truthy_value() -> None:
    calls = iter([0, None, "", "ready"])
    assert wait_until(lambda: next(calls), timeout=2, interval=0.01) == "ready"


def test_wait_until_raises_after_its_deadline_with_the_message() -> None:
    start = time.monotonic()
    with pytest.raises(AssertionError, match="the moon never rose"):
        wait_until(lambda: False, timeout=0.3, interval=0.01, message="the moon never rose")
    elapsed = time.monotonic() - start
    assert 0.3 <= elapsed < 2


def test_wait_until_swallows_only_the_listed_exceptions() -> None:
    def boom() -> bool:
        raise ConnectionError("refused")

    with pytest.raises(AssertionError, match="refused"):
        wait_until(boom, timeout=0.2, interval=0.01, ignore=(ConnectionError,))
    with pytest.raises(ConnectionError):
        wait_until(boom, timeout=0.2, interval=0.01)


# -- require_binary / alerter_command --------------------------------------------------------


def test_require_binary_returns_an_absolute_path() -> None:
    path = require_binary("sh", "dash")
    assert Path(path).is_absolute() and Path(path).exists()


def test_require_binary_fails_naming_the_package() -> None:
    with pytest.raises(pytest.fail.Exception, match="install Debian package no-such-pkg"):
        require_binary("no-such-binary-alerter", "no-such-pkg")


def test_redis_server_without_the_binary_fails_instead_of_skipping(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(pytest.fail.Exception, match=r"redis-server.*scripts/test"):
        RedisServer().start()


def test_alerter_command_runs_this_checkout_from_this_interpreter() -> None:
    argv = alerter_command("web", "--log.level=debug")
    assert argv == [sys.executable, "-m", "app.cli", "web", "--log.level=debug"]


# -- ManagedProcess --------------------------------------------------------------------------


def test_managed_process_logs_stdout_and_stderr_and_env() -> None:
    code = "import os, sys; print('out', os.environ['PROBE']); print('err', file=sys.stderr)"
    with ManagedProcess(python(code), env={"PROBE": "42"}) as proc:
        assert proc.wait(timeout=10) == 0
        text = proc.log_text()
    assert "out 42" in text and "err" in text


def test_managed_process_env_none_removes_a_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", "redis://elsewhere:6379/0")
    code = "import os; print('url=' + os.environ.get('REDIS_URL', 'unset'))"
    with ManagedProcess(python(code), env={"REDIS_URL": None}) as proc:
        proc.wait(timeout=10)
        assert "url=unset" in proc.log_text()


def test_pause_freezes_and_resume_continues() -> None:
    with ManagedProcess(python("import time; time.sleep(60)")) as proc:
        proc.pause()
        wait_until(lambda: process_state(proc.pid) == "T", 5, message="not stopped")
        proc.resume()
        wait_until(lambda: process_state(proc.pid) in ("S", "R"), 5, message="not resumed")


def test_kill_reaches_the_children_it_forked() -> None:
    """gunicorn's case: SIGKILL to the master alone would leave its workers serving."""
    code = (
        "import subprocess, sys, time\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        "print('child', child.pid, flush=True)\n"
        "time.sleep(60)\n"
    )
    proc = ManagedProcess(python(code))
    line = wait_until(
        lambda: next((ln for ln in proc.log_text().splitlines() if ln.startswith("child ")), None),
        10,
        message="the child pid was not printed",
    )
    child_pid = int(line.split()[1])
    assert pid_alive(child_pid)
    proc.kill()
    assert not proc.is_running() and proc.returncode == -signal.SIGKILL
    wait_until(lambda: not pid_alive(child_pid), 5, message="the grandchild survived the kill")


def test_stop_escalates_to_sigkill_when_sigterm_is_ignored() -> None:
    code = (
        "import signal, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "print('ready', flush=True)\n"
        "time.sleep(60)\n"
    )
    proc = ManagedProcess(python(code))
    wait_until(lambda: "ready" in proc.log_text(), 10, message="not ready")
    start = time.monotonic()
    assert proc.stop(timeout=0.5) == -signal.SIGKILL
    assert time.monotonic() - start < 5


def test_stop_of_a_paused_process_is_graceful() -> None:
    proc = ManagedProcess(python("import time; time.sleep(60)"))
    proc.pause()
    assert proc.stop(timeout=5) == -signal.SIGTERM


def test_wait_http_waits_for_a_2xx() -> None:
    port = free_port()
    code = (
        "import http.server, time\n"
        "time.sleep(0.3)\n"
        "handler = http.server.SimpleHTTPRequestHandler\n"
        f"http.server.HTTPServer(('127.0.0.1', {port}), handler).serve_forever()\n"
    )
    with ManagedProcess(python(code), cwd=Path(__file__).parent) as proc:
        response = proc.wait_http(f"http://127.0.0.1:{port}/", timeout=10)
        assert response.status_code == 200


def test_wait_http_fails_fast_with_the_log_when_the_process_dies() -> None:
    proc = ManagedProcess(python("import sys; print('bad config: nope'); sys.exit(3)"))
    start = time.monotonic()
    with pytest.raises(AssertionError, match=r"(?s)exited with code 3.*bad config: nope"):
        proc.wait_http(f"http://127.0.0.1:{free_port()}/", timeout=30)
    assert time.monotonic() - start < 10


def test_cleanup_all_kills_what_tests_left_running() -> None:
    proc = ManagedProcess(python("import time; time.sleep(60)"))
    assert proc in processes.live_processes()
    processes.cleanup_all()
    assert not proc.is_running()
    assert proc not in processes.live_processes()


# -- RedisServer -----------------------------------------------------------------------------


def test_redis_server_fixture_is_private_and_answers(redis_server: RedisServer) -> None:
    assert redis_server.port != 6379
    assert redis_server.url == f"redis://127.0.0.1:{redis_server.port}/0"
    client = redis_server.client()
    assert client.ping()
    assert client.dbsize() == 0
    client.set("k", "v")
    assert redis.Redis.from_url(redis_server.url).get("k") == b"v"
    config = client.config_get("save")
    assert config["save"] == ""
    assert client.config_get("appendonly")["appendonly"] == "no"


def test_kill_makes_redis_unreachable_and_restart_brings_it_back_empty() -> None:
    with RedisServer() as server:
        port = server.port
        server.client().set("k", "v")
        server.kill()
        assert not server.running
        with pytest.raises(redis.ConnectionError):
            server.client(retry=Retry(NoBackoff(), 0)).ping()
        server.restart()
        assert server.port == port
        assert server.client().ping()
        assert server.client().get("k") is None  # nothing persisted: a crash loses the data
    assert not server.ping()


def test_stop_and_restart_a_running_server() -> None:
    server = RedisServer()
    server.start()
    try:
        server.restart()
        assert server.ping()
        server.stop()
        assert not server.ping()
        server.stop()  # twice is fine
    finally:
        server.stop()


def test_replicaof_copies_the_master() -> None:
    with RedisServer() as master, RedisServer(replicaof=master) as replica:
        replica.wait_synced()
        master.client().set("k", "v")
        wait_until(lambda: replica.client().get("k") == b"v", 5, message="not replicated")
        assert replica.role() == "slave" and master.role() == "master"


# -- Sentinels -------------------------------------------------------------------------------


def test_sentinel_names_the_master_it_monitors() -> None:
    with RedisServer() as master, SentinelServer("svc", master.port, quorum=1) as sentinel:
        assert sentinel.port not in (6379, 26379)
        assert sentinel.client().info("server")["redis_mode"] == "sentinel"
        assert sentinel.master_addr() == ("127.0.0.1", master.port)
        state = sentinel.master_state()
        assert int(state["quorum"]) == 1
        assert int(state["down-after-milliseconds"]) == 1000


def test_ha_cluster_fails_over_after_the_master_is_killed() -> None:
    with RedisHACluster(down_after_ms=1000) as cluster:
        assert len(cluster.sentinel_addrs) == 3
        assert cluster.cluster_peers == [f"127.0.0.1:{p}" for _, p in cluster.sentinel_addrs]
        first = cluster.master_port()
        old_master = cluster.master
        assert old_master.port == first and old_master.role() == "master"
        client = cluster.master_client(socket_timeout=2)
        client.set("before", "1")
        replica = next(s for s in cluster.servers if s.port != first)
        wait_until(lambda: replica.client().get("before") == b"1", 5, message="not replicated")

        start = time.monotonic()
        cluster.kill_master()
        new = cluster.wait_failover(timeout=30)
        assert new == replica.port != first
        assert time.monotonic() - start < 30
        assert cluster.master_port() == new
        # The Sentinel-following client lands on the promoted replica, data included.
        fresh = cluster.master_client(socket_timeout=2)
        assert fresh.get("before") == b"1"
        fresh.set("after", "1")
