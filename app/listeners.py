"""Where the web server listens: every --web.listen-address, or with --web.systemd-socket the
sockets systemd passed by socket activation, as the exporter toolkit's ListenAndServe does.

systemd hands a socket-activated service its listening sockets as file descriptors 3, 4, ...,
with LISTEN_FDS (how many) and LISTEN_PID (the process they are for) in its environment.
"""

from __future__ import annotations

import os
import socket
from typing import Any

from werkzeug.serving import BaseWSGIServer, make_server

from app.settings import split_address

SD_LISTEN_FDS_START = 3
_SYSTEMD_VARIABLES = ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES")


def systemd_fds() -> list[int]:
    """The listening sockets systemd passed to this process; OSError (naming the flag) when
    there are none, as the toolkit refuses to start then, or when one cannot be served.

    The variables stay in the environment: under `alerter web` gunicorn's master reads them
    itself (it adopts the sockets when LISTEN_PID is its own pid, which it is) and then removes
    them.
    """
    count = os.environ.get("LISTEN_FDS", "")
    if os.environ.get("LISTEN_PID") != str(os.getpid()) or not count.isdigit() or int(count) < 1:
        raise OSError("--web.systemd-socket: no socket activation file descriptors found")
    fds = list(range(SD_LISTEN_FDS_START, SD_LISTEN_FDS_START + int(count)))
    for fd in fds:
        _describe(fd)
    return fds


def ignore_systemd_sockets() -> None:
    """Without --web.systemd-socket Alertmanager listens on --web.listen-address even when
    systemd passed it sockets; gunicorn would adopt them by itself, so their variables go."""
    for name in _SYSTEMD_VARIABLES:
        os.environ.pop(name, None)


def _describe(fd: int) -> tuple[socket.AddressFamily, Any]:
    """The address family and address of the listening stream socket `fd`; OSError if it is
    not one (Go's net.FileListener refuses such a descriptor too)."""
    try:
        probe = socket.socket(fileno=os.dup(fd))
    except OSError as err:
        raise OSError(f"--web.systemd-socket: file descriptor {fd} is not a socket ({err})") from None
    with probe:
        if probe.type != socket.SOCK_STREAM or not probe.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN):
            raise OSError(f"--web.systemd-socket: file descriptor {fd} is not a listening stream socket")
        return probe.family, probe.getsockname()


def wsgi_servers(
    addresses: list[str], systemd: bool, app: Any, ssl_context: Any = None
) -> list[BaseWSGIServer]:
    """Threaded werkzeug servers of `app`: one per --web.listen-address, or one per systemd
    socket (werkzeug serves a descriptor it is given, whatever its family)."""
    if not systemd:
        return [
            make_server(*split_address(address), app, threaded=True, ssl_context=ssl_context)
            for address in addresses
        ]
    servers = []
    for fd in systemd_fds():
        family, name = _describe(fd)
        host = {socket.AF_UNIX: f"unix://{name}", socket.AF_INET6: "::"}.get(family, "0.0.0.0")
        servers.append(make_server(host, 0, app, threaded=True, ssl_context=ssl_context, fd=fd))
    return servers
