"""Bind the page's socket (so a taken port or a bad address is a clear error, said before
anything starts) and serve the app on it with uvicorn until interrupted."""

from __future__ import annotations

import errno
import ipaddress
import secrets
import socket
from collections.abc import Callable

import uvicorn

from ..errors import CannotRun, UsageError
from .app import create_app
from .site import Site

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def allowed_hosts(host: str) -> list[str]:
    """The Host headers the page answers to: its loopback names, and the address it was
    bound to; any, when bound to every address (0.0.0.0 or ::)."""
    bare = host.strip("[]")
    if bare in ("0.0.0.0", "::", ""):
        return ["*"]
    names = [*LOOPBACK_NAMES, "[::1]"] if is_loopback(bare) else [bare]
    return names + ([f"[{bare}]"] if ":" in bare else [])


def bind(host: str, port: int) -> socket.socket:
    bare = host.strip("[]")
    try:
        infos = socket.getaddrinfo(bare, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise UsageError(f"--host {host!r} is not an address here ({exc.strerror})",
                         "give an address of this machine, such as 127.0.0.1") from None  # fmt: skip
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise CannotRun(f"port {port} on {host} is in use",
                            "pass another --port (--port 0 picks a free one)") from None  # fmt: skip
        if exc.errno in (errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT):
            raise UsageError(f"--host {host!r} is not an address of this machine",
                             "give an address of this machine, such as 127.0.0.1") from None  # fmt: skip
        raise CannotRun(f"cannot listen on {host}:{port}: {exc.strerror}",
                        "pass another --port or --host") from None  # fmt: skip
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/"


def serve(path: str, remote: str | None, read_only: bool, host: str, port: int,
          ready: Callable[[str], None]) -> None:  # fmt: skip
    """Serve the page until interrupted; ``ready(url)`` once the socket listens."""
    sock = bind(host, port)
    site = Site(path, remote, read_only, secrets.token_urlsafe(32))
    app = create_app(site, allowed_hosts(host))
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off",
                            server_header=False)  # fmt: skip
    ready(url_of(sock))
    uvicorn.Server(config).run(sockets=[sock])
