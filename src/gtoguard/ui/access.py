"""Who may use the page: whoever holds this run's secret, as Jupyter does it.

A TCP port on loopback is open to every user of the machine, and the page creates and
pushes tags with its owner's git credentials: a Host check and a CSRF token keep other
web sites out, not another local user, who can read the page (and its CSRF token) like
any browser. So every request but the static files (which carry nothing) must show the
secret: as the cookie a browser gets when it opens the printed URL once, or as
``Authorization: Bearer SECRET`` (scripts). The URL is printed at start and written to a
file only the owner can read (``secret_file``).
"""

from __future__ import annotations

import hmac
import html
import os
import stat
import tempfile
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from dataclasses import dataclass
from http.cookies import CookieError, SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

from gtoguard.errors import CannotRun

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

PUBLIC = "/static/"  # the stylesheet and the script: the same for everyone, no data


@dataclass(frozen=True)
class Access:
    """This run's secret, the cookie that carries it (named after the port: a browser
    sends a host's cookies to every port of it) and the file that holds the URL."""

    secret: str
    cookie: str
    file: Path


def secret_dir(env: Mapping[str, str]) -> Path:
    """Where the URL with the secret is written: ``$XDG_RUNTIME_DIR/gtoguard`` (per user,
    0700, gone at logout: the place for a secret of one run), else the user's cache
    (``$XDG_CACHE_HOME`` or ``~/.cache``)/gtoguard. Never the repository's git directory:
    it may be shared with other users, or not writable (a served bare repository)."""
    runtime = env.get("XDG_RUNTIME_DIR", "")
    if runtime and os.path.isabs(runtime) and _private(Path(runtime)):
        return Path(runtime) / "gtoguard"
    cache = env.get("XDG_CACHE_HOME", "")
    base = Path(cache) if cache and os.path.isabs(cache) else Path.home() / ".cache"
    return base / "gtoguard"


def _private(folder: Path) -> bool:
    """A directory of this user's that no one else may enter or list."""
    try:
        found = folder.lstat()
    except OSError:
        return False
    return (
        stat.S_ISDIR(found.st_mode) and found.st_uid == os.geteuid() and not found.st_mode & 0o077
    )


def write_private(folder: Path, name: str, text: str) -> Path:
    """``text`` into ``folder/name``, readable by this user alone (0600 in a 0700
    directory of theirs), written whole (a reader never sees half a URL)."""
    hint = "set XDG_RUNTIME_DIR to a directory only you can read, and start it again"
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        if folder.lstat().st_uid != os.geteuid() or not folder.is_dir() or folder.is_symlink():
            raise CannotRun(
                f"{folder} is not a directory of yours: the page's secret cannot be kept there",
                hint,
            )
        os.chmod(folder, 0o700)
        fd, temporary = tempfile.mkstemp(dir=folder, prefix=f".{name}.")  # mode 0600
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(temporary, folder / name)
    except OSError as exc:
        raise CannotRun(
            f"cannot write the page's secret to {folder}: {exc.strerror or exc}", hint
        ) from None
    return folder / name


def remove_private(path: Path, text: str) -> None:
    """Remove ``path`` if it still holds ``text`` (another run on the port may have
    written it since)."""
    try:
        if path.read_text(encoding="utf-8") == text:
            path.unlink()
    except OSError:
        pass


def same(sent: str, secret: str) -> bool:
    """Compared in constant time: the answer's timing tells nothing of the secret."""
    return hmac.compare_digest(sent.encode("utf-8", "replace"), secret.encode("utf-8"))


def guard(
    app: ASGIApp, access: Access, forbidden: Callable[[bool], tuple[int, str, str]]
) -> ASGIApp:
    """``app`` for the holders of ``access.secret`` only. ``forbidden(wants_json)``: the
    status, media type and body of a refusal. A GET whose query carries ``token=SECRET``
    sets the cookie and is sent on to the same address without the token (so it stays
    out of the history and of bookmarks). A request with the bearer header is marked
    (``scope["state"]["bearer"]``): no browser sends that header on its own, so it needs
    no CSRF token."""

    async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(PUBLIC):
            return await app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        bearer = headers.get("authorization", "")
        if bearer.lower().startswith("bearer ") and same(bearer[7:].strip(), access.secret):
            scope.setdefault("state", {})["bearer"] = True
            return await app(scope, receive, send)
        query = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        sent = [value for key, value in query if key == "token"]
        if scope["method"] in ("GET", "HEAD") and sent:  # the printed address: a wrong token
            if len(sent) == 1 and same(sent[0], access.secret):  # is refused, cookie or not
                return await _enter(scope, send, access, [(k, v) for k, v in query if k != "token"])
        elif same(_cookie(headers.get("cookie", ""), access.cookie), access.secret):
            return await app(scope, receive, send)
        status, media, body = forbidden("application/json" in headers.get("accept", ""))
        await _answer(send, status, [(b"content-type", media.encode())], body.encode())

    return guarded


def _cookie(header: str, name: str) -> str:
    cookies: SimpleCookie = SimpleCookie()
    try:
        cookies.load(header)
    except CookieError:
        return ""
    found = cookies.get(name)
    return found.value if found is not None else ""


async def _enter(scope: Scope, send: Send, access: Access, query: list[tuple[str, str]]) -> None:
    """Set the cookie and send the browser on to the address without the token, by a
    page that refreshes to it: a browser sends a SameSite=Strict cookie on a redirect
    only when what started the navigation was this site, and the printed address is
    opened from elsewhere (a terminal, the file ``--open`` writes, a chat), whereas the
    refresh is this page's own navigation."""
    where = "/" + quote(scope["path"], safe="/:@!$&'()*+,;=-._~").lstrip("/")
    if query:
        where += "?" + urlencode(query)
    cookie = f"{access.cookie}={access.secret}; Path=/; HttpOnly; SameSite=Strict"
    shown = html.escape(where)
    body = (
        f'<!doctype html>\n<meta charset="utf-8"><meta http-equiv="refresh" content="0;url='
        f'{shown}">\n<title>gtoguard registry</title><p><a href="{shown}">Go on to the '
        "registry page</a></p>\n"
    )
    headers = [
        (b"set-cookie", cookie.encode("ascii")),
        (b"content-type", b"text/html; charset=utf-8"),
    ]
    await _answer(send, 200, headers, body.encode("ascii"))


async def _answer(send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    common = [
        (b"cache-control", b"no-store"),
        (b"referrer-policy", b"no-referrer"),
        (b"content-security-policy", b"default-src 'self'; frame-ancestors 'none'"),
        (b"x-content-type-options", b"nosniff"),
        (b"content-length", str(len(body)).encode()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers + common})
    await send({"type": "http.response.body", "body": body})
