"""Real child processes for tests: alerter itself, redis-server, Prometheus, amtool.

alerter's promises (one notification per group, survival of a killed worker, failover) only
mean something when checked against real processes that can be killed, frozen and restarted, so
the tests start them for real. This module makes that safe to do in bulk:

- every child runs in its own process group, so a kill also reaches what it forked (gunicorn's
  workers); a SIGKILLed gunicorn master would otherwise leave its workers serving the port;
- every child is tracked and killed at the end of the session (pytest fixture finalizer, atexit
  and SIGTERM), even when a test fails half-way, so a red run never leaves servers behind that
  break the next one;
- output goes to a log file that tests can read and print when something goes wrong.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import gc
import itertools
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any, TypeVar

import pytest
import requests

T = TypeVar("T")

REPO_ROOT = Path(__file__).resolve().parents[2]

_LIVE: set[ManagedProcess] = set()
_LIVE_LOCK = threading.Lock()
_COUNTER = itertools.count(1)
_BASE_DIR: Path | None = None


def session_dir() -> Path:
    """One temp dir per test session for logs and server data, removed at exit.

    Set ALERTER_TEST_KEEP=1 to keep it (its path is printed) when chasing a failure.
    """
    global _BASE_DIR
    if _BASE_DIR is None:
        _BASE_DIR = Path(tempfile.mkdtemp(prefix="alerter-tests-"))
        if os.environ.get("ALERTER_TEST_KEEP"):
            print(f"alerter test logs kept in {_BASE_DIR}", file=sys.stderr)
    return _BASE_DIR


def require_binary(name: str, package: str) -> str:
    """The absolute path of `name`, or a test failure naming the Debian package to install.

    A missing server must fail the run, not skip it: a skipped HA test reads as green in CI
    while proving nothing. scripts/test installs every package the tests need.
    """
    path = shutil.which(name)
    if path is None:
        pytest.fail(
            f"{name} not found on PATH: install Debian package {package} (scripts/test does this)",
            pytrace=False,
        )
    return os.path.abspath(path)


def wait_until(
    predicate: Callable[[], T],
    timeout: float,
    interval: float = 0.05,
    message: str = "condition not met",
    ignore: tuple[type[BaseException], ...] = (),
) -> T:
    """Poll `predicate` until it returns something truthy and return that value.

    Tests wait on conditions rather than sleeping fixed times: fast when the system is fast,
    tolerant when the machine is loaded. After `timeout` seconds it raises AssertionError with
    `message` (plus the last exception when one of `ignore` was swallowed), so a test states
    what it was waiting for.
    """
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    while True:
        try:
            value = predicate()
        except ignore as err:
            last_error = err
        else:
            if value:
                return value
        if time.monotonic() >= deadline:
            detail = f" (last error: {last_error!r})" if last_error is not None else ""
            raise AssertionError(f"{message} after {timeout:g}s{detail}")
        time.sleep(interval)


def holds(predicate: Callable[[], bool], seconds: float, message: str | Callable[[], str]) -> None:
    """Assert that a condition stays true for a whole window (a negative check: "nothing more
    arrives"); fails as soon as it turns false. `message` may be a callable, built only when the
    condition breaks, so the failure shows what broke it."""
    deadline = time.monotonic() + seconds
    while True:
        if not predicate():
            raise AssertionError(message() if callable(message) else message)
        if time.monotonic() >= deadline:
            return
        time.sleep(0.05)


def wait_for_records(
    cond: threading.Condition,
    records: list[T],
    count: int,
    timeout: float,
    what: str,
    detail: Callable[[], str] | None = None,
) -> list[T]:
    """Block until `records` (appended to under `cond`, which is then notified) holds at least
    `count` items and return a copy; at the deadline fail the test, saying how many `what`
    arrived (and `detail()`, when given): the recording servers' `wait_for`."""
    deadline = time.monotonic() + timeout
    with cond:
        while len(records) < count:
            left = deadline - time.monotonic()
            if left <= 0:
                got = f"expected {count} {what} within {timeout}s, got {len(records)}"
                raise AssertionError(f"{got}: {detail()}" if detail is not None else got)
            cond.wait(left)
        return list(records)


def run_amtool(url: str, *args: str, context: Callable[[], str] | None = None) -> str:
    """Run Debian's amtool against the Alertmanager API at `url` and return what it printed; it
    must exit 0, else the test fails with amtool's output (and `context()`, when given)."""
    binary = require_binary("amtool", "prometheus-alertmanager")
    done = subprocess.run(
        [binary, f"--alertmanager.url={url}", *args],
        capture_output=True,
        text=True,
        timeout=30,
    )
    if done.returncode != 0:
        failure = f"amtool {' '.join(args)} exited {done.returncode}: {done.stderr}{done.stdout}"
        raise AssertionError(f"{failure}\n{context()}" if context is not None else failure)
    return done.stdout


def alerter_command(*args: str) -> list[str]:
    """argv that runs alerter from the interpreter running the tests.

    Not the `alerter` console script on PATH: that may belong to another install, and the tests
    must exercise the code of this checkout in this venv.
    """
    return [sys.executable, "-m", "app.cli", *args]


def _libc_prctl() -> Callable[..., int] | None:
    try:
        return ctypes.CDLL(None, use_errno=True).prctl  # type: ignore[no-any-return]
    except (OSError, AttributeError):
        return None


_PRCTL = _libc_prctl() if sys.platform.startswith("linux") else None
_PR_SET_PDEATHSIG = 1


class ManagedProcess:
    """A child process with its output in a log file; started by the constructor.

    `env` entries are added to (None: removed from) this process's environment.
    PYTHONUNBUFFERED is set so that log_text() shows Python children's output as it happens.
    """

    def __init__(
        self,
        argv: Sequence[str],
        env: Mapping[str, str | None] | None = None,
        cwd: str | os.PathLike[str] | None = None,
        log_path: str | os.PathLike[str] | None = None,
        name: str | None = None,
    ) -> None:
        self.argv = [str(a) for a in argv]
        self.name = name or Path(self.argv[0]).name
        if log_path is None:
            log_path = session_dir() / "logs" / f"{next(_COUNTER):03d}-{self.name}.log"
        self.log_path = Path(log_path)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        full_env = dict(os.environ)
        full_env["PYTHONUNBUFFERED"] = "1"
        for key, value in (env or {}).items():
            if value is None:
                full_env.pop(key, None)
            else:
                full_env[key] = value
        self.env = full_env
        self.cwd = Path(cwd) if cwd is not None else REPO_ROOT
        # Only the child's output goes in the log (not the command line, which would match a
        # test's search of the log for a string that is merely an argument).
        with open(self.log_path, "ab") as log:
            self.popen = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=full_env,
                cwd=self.cwd,
                # Own process group: signals reach the children it forks (gunicorn workers).
                start_new_session=True,
                preexec_fn=self._child_setup(),
            )
        with _LIVE_LOCK:
            _LIVE.add(self)

    @staticmethod
    def _child_setup() -> Callable[[], None] | None:
        """Linux: have the kernel SIGKILL the child if the test run itself is SIGKILLed (where
        no cleanup code runs). Only from the main thread: the signal fires when the *thread*
        that forked exits, and a helper thread may end long before the test does."""
        if _PRCTL is None or threading.current_thread() is not threading.main_thread():
            return None
        prctl = _PRCTL
        parent = os.getpid()

        def setup() -> None:
            prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
            if os.getppid() != parent:  # the parent died before prctl took effect
                os._exit(1)

        return setup

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def command_line(self) -> str:
        return shlex.join(self.argv)

    @property
    def returncode(self) -> int | None:
        return self.popen.poll()

    def is_running(self) -> bool:
        return self.popen.poll() is None

    def log_text(self) -> str:
        """Everything the process printed so far (stdout and stderr interleaved)."""
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def wait_http(self, url: str, timeout: float, **request_options: Any) -> requests.Response:
        """Wait until a GET of `url` answers 2xx; fail at once, with the log, if the process
        exits first (a config error should not cost the whole timeout). `request_options` go to
        requests (auth, verify, cert) for servers behind a web configuration."""
        deadline = time.monotonic() + timeout
        last = "no answer yet"
        while True:
            if not self.is_running():
                raise AssertionError(
                    f"{self.name} exited with code {self.returncode} before {url} answered\n"
                    f"command: {self.command_line}\n{self.log_tail()}"
                )
            try:
                response = requests.get(url, timeout=1.0, **request_options)
            except requests.RequestException as err:
                last = repr(err)
            else:
                if 200 <= response.status_code < 300:
                    return response
                last = f"HTTP {response.status_code}: {response.text[:200]}"
            if time.monotonic() >= deadline:
                raise AssertionError(
                    f"{self.name}: {url} did not answer 2xx within {timeout:g}s ({last})\n"
                    f"command: {self.command_line}\n{self.log_tail()}"
                )
            time.sleep(0.05)

    def signal_group(self, sig: int) -> None:
        """Send `sig` to the whole process group (the child and everything it forked)."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, sig)

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Signal the whole group; with SIGKILL, also reap the child so its port is free."""
        self.signal_group(sig)
        if sig == signal.SIGKILL:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout=10)
            self._forget()

    def pause(self) -> None:
        """SIGSTOP the group: the process keeps its sockets but answers nothing, like a hung
        node (what a peer timeout or lease expiry must cope with)."""
        self.signal_group(signal.SIGSTOP)

    def resume(self) -> None:
        self.signal_group(signal.SIGCONT)

    def wait(self, timeout: float | None = None) -> int:
        return self.popen.wait(timeout=timeout)

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM the child (a graceful shutdown, which gunicorn passes to its workers), then
        SIGKILL the whole group after `timeout`; leftovers of the group are killed either way."""
        if self.is_running():
            # Connections the test left to the garbage collector (requests' failed attempts sit
            # in reference cycles) close first: gunicorn's graceful stop lingers 2 s on each
            # kept-alive connection still open.
            gc.collect()
            # A paused process cannot act on SIGTERM until continued.
            self.signal_group(signal.SIGCONT)
            with contextlib.suppress(ProcessLookupError):
                self.popen.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout=timeout)
        self.signal_group(signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=10)
        self._forget()
        return self.popen.returncode

    def _forget(self) -> None:
        with _LIVE_LOCK:
            _LIVE.discard(self)

    def __enter__(self) -> ManagedProcess:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.is_running() else f"exited {self.returncode}"
        return f"<ManagedProcess {self.name} pid={self.pid} {state}>"


def live_processes() -> list[ManagedProcess]:
    """The processes started and not yet stopped or killed."""
    with _LIVE_LOCK:
        return list(_LIVE)


def cleanup_all() -> None:
    """Kill every process this session started and has not stopped (and their groups)."""
    for proc in live_processes():
        proc.signal_group(signal.SIGKILL)
    for proc in live_processes():
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.popen.wait(timeout=5)
        proc._forget()


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    cleanup_all()
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGTERM)


def install_cleanup_handlers() -> None:
    """Also clean up when the test run is terminated (a CI timeout sends SIGTERM, which skips
    atexit). Leaves a SIGTERM handler someone else installed alone."""
    if threading.current_thread() is threading.main_thread() and (
        signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None)
    ):
        signal.signal(signal.SIGTERM, _on_sigterm)


def _at_exit() -> None:
    """Kill the children before removing the dir they write to."""
    cleanup_all()
    if _BASE_DIR is not None and not os.environ.get("ALERTER_TEST_KEEP"):
        shutil.rmtree(_BASE_DIR, ignore_errors=True)


atexit.register(_at_exit)
