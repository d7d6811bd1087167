"""Bind the page's socket (so a taken port or a bad address is a clear error, said before
anything starts) and serve the app on it with uvicorn until interrupted."""

from __future__ import annotations

import errno
import ipaddress
import os
import secrets
import signal
import socket
from collections.abc import Callable

import uvicorn

from gtoguard.errors import CannotRun, UsageError
from gtoguard.ui.access import Access, remove_private, secret_dir, write_private
from gtoguard.ui.app import create_app
from gtoguard.ui.site import Site

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def allowed_hosts(host: str, extra: tuple[str, ...] = ()) -> list[str]:
    """The Host headers the page answers to: its loopback names, the address it was bound
    to, and ``extra`` (``--allow-host``). Bound to every address (0.0.0.0 or ::), this
    machine's names and addresses instead of the address: never any name, which would let
    a page elsewhere reach this one through DNS rebinding and push tags."""
    bare = host.strip("[]")
    names = [*LOOPBACK_NAMES, "[::1]"]
    if bare in ("0.0.0.0", "::", ""):
        names += [bare or "0.0.0.0", *machine_names()]
    elif not is_loopback(bare):
        names = [bare]
    names += [name.strip("[]") for name in extra]
    return sorted({*names, *(f"[{n}]" for n in names if ":" in n and not n.startswith("["))})


def machine_names() -> list[str]:
    """This machine's host names and the addresses they resolve to."""
    found = set()
    for name in {socket.gethostname(), socket.getfqdn()}:
        if not name:
            continue
        found.add(name)
        try:
            infos = socket.getaddrinfo(name, None)
        except OSError:
            continue
        found.update(str(info[4][0]) for info in infos)
    return sorted(found)


def bind(host: str, port: int) -> socket.socket:
    bare = host.strip("[]")
    try:
        infos = socket.getaddrinfo(bare, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise UsageError(
            f"--host {host!r} is not an address here ({exc.strerror})",
            "give an address of this machine, such as 127.0.0.1",
        ) from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise CannotRun(
                f"port {port} on {host} is in use",
                "pass another --port (--port 0 picks a free one)",
            ) from None
        if exc.errno in (errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT):
            raise UsageError(
                f"--host {host!r} is not an address of this machine",
                "give an address of this machine, such as 127.0.0.1",
            ) from None
        raise CannotRun(
            f"cannot listen on {host}:{port}: {exc.strerror}", "pass another --port or --host"
        ) from None
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/"


def serve(
    path: str,
    remote: str | None,
    read_only: bool,
    host: str,
    port: int,
    ready: Callable[[str, Access], None],
    extra_hosts: tuple[str, ...] = (),
) -> None:
    """Serve the page until interrupted; ``ready(url, access)`` once the socket listens
    and the URL with this run's secret (``url?token=SECRET``) is in ``access.file``."""
    # SIGTERM as an exception (uvicorn, once stopped gracefully, raises it again), so
    # that the secret's file is removed on the way out, whenever it comes
    signal.signal(signal.SIGTERM, _terminated)
    sock = bind(host, port)
    url = url_of(sock)
    bound = sock.getsockname()[1]
    secret = secrets.token_urlsafe(32)
    entry = f"{url}?token={secret}"
    access = Access(
        secret,
        f"gtoguard-ui-{bound}",
        write_private(secret_dir(os.environ), f"ui-{bound}.url", entry + "\n"),
    )
    try:
        site = Site(path, remote, read_only, secrets.token_urlsafe(32))
        app = create_app(site, allowed_hosts(host, extra_hosts), access)
        config = uvicorn.Config(
            app, log_level="warning", access_log=False, lifespan="off", server_header=False
        )
        ready(entry, access)
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        remove_private(access.file, entry + "\n")


def _terminated(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)
