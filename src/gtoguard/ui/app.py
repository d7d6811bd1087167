"""The web application: Starlette routes over ``site`` (reading) and ``actions`` (writing).

Every request but the static files shows this run's secret (``access``: the cookie of
the printed URL, or a bearer header); only POST changes anything, and every POST from a
browser carries the page's CSRF token; the Host header must name the address the page
was bound to (no DNS rebinding). Pages are
rendered on the server (Jinja2, autoescaped); the little JavaScript there is only opens
the dialogs, posts them and refreshes the sections they change.
"""

from __future__ import annotations

import hmac
import json
import sys
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jinja2
import markupsafe
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from gtoguard.errors import CannotRun, UsageError, failure_reason
from gtoguard.model.printable import printable
from gtoguard.policy.report import failure_violations, severity_label, violation_json
from gtoguard.ui.access import Access, guard
from gtoguard.ui.actions import KINDS, perform
from gtoguard.ui.answers import Answer
from gtoguard.ui.site import Site

MAX_BODY = 128 * 1024
STATIC = {"ui.css": "text/css; charset=utf-8", "ui.js": "text/javascript; charset=utf-8"}
HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def _readable_time(value: str | None) -> str:
    """An ISO time as people read it, in its own zone: 2026-12-01 10:00:00 +01:00."""
    if not value:
        return ""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    offset = moment.strftime("%z")
    zone = "UTC" if offset in ("+0000", "") else f"{offset[:3]}:{offset[3:]}"
    return f"{moment.strftime('%Y-%m-%d %H:%M:%S')} {zone}"


def _epoch(value: int) -> str:
    return _readable_time(datetime.fromtimestamp(value, timezone.utc).isoformat())


def _one_line(value: Any) -> Any:
    """Every value a template prints, before HTML escaping (which leaves controls and
    bidi characters as they are): pushed text one line, its controls shown as escapes.
    Markup is the templates' own (a macro's output, ``lines``), already done."""
    if isinstance(value, str) and not isinstance(value, markupsafe.Markup):
        return printable(value)
    return value


def _lines(value: Any) -> markupsafe.Markup:
    """A text meant to span lines (a tag message, the server's lines): newlines and tabs
    stay, every other control is escaped; then HTML-escaped."""
    if isinstance(value, (list, tuple)):
        value = "\n".join(printable(str(item)) for item in value)
    return markupsafe.escape(printable(str(value), lines=True))


@jinja2.pass_eval_context
def _join(context: Any, value: Any, separator: str = "") -> str:
    """Jinja's join returns Markup, which ``finalize`` leaves alone: each item first."""
    joined: str = jinja2.filters.do_join(context, [_one_line(v) for v in value], separator)
    return joined


def templates() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("gtoguard.ui", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=_one_line,
    )
    env.filters["when"] = _readable_time
    env.filters["epoch"] = _epoch
    env.filters["lines"] = _lines
    env.filters["join"] = _join
    env.filters["label"] = severity_label
    return env


def create_app(site: Site, hosts: list[str], access: Access) -> Starlette:  # noqa: C901 (every route is a closure over the one site it serves)
    """The page over ``site``, for the holders of ``access`` only; ``hosts``: the Host
    header values it answers to."""
    env = templates()

    def forbidden(wants_json: bool) -> tuple[int, str, str]:
        summary = (
            "this page belongs to the user who started gtoguard ui: open the address "
            "it printed (with ?token=...)"
        )
        hint = (
            f"that user finds the address in {access.file}; scripts send "
            "'Authorization: Bearer TOKEN'"
        )
        if wants_json:
            document = Answer(403, "forbidden", summary, hint).document()
            return 403, "application/json", json.dumps(document)
        html = env.get_template("forbidden.html").render(summary=summary, hint=hint)
        return 403, "text/html; charset=utf-8", html

    def page(request: Request, name: str, status: int = 200, **context: Any) -> Response:
        html = env.get_template(name).render(site=site, token=site.token, status=status, **context)
        return HTMLResponse(html, status, headers=HEADERS)

    def failure(request: Request, exc: CannotRun) -> Response:
        status = 404 if isinstance(exc, UsageError) else 500
        lines = [violation_json(v) for v in failure_violations(exc, "ui")]
        return page(request, "error.html", status, message=exc.message, hint=exc.hint,
                    violations=lines if getattr(exc, "problems", None) else [])  # fmt: skip

    def reading(render: Callable[[Request], Response]) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            try:
                return await run_in_threadpool(render, request)
            except CannotRun as exc:
                return failure(request, exc)
            except Exception as exc:  # one line, as the CLI says it: never a traceback
                return failure(request, internal_error(exc))

        return endpoint

    def dashboard(request: Request) -> Response:
        waiting = _pending(site, None)  # fetched first: History reads the approvals it brings
        board = site.dashboard()
        return page(
            request,
            "dashboard.html",
            board=board,
            **waiting,
            q=request.query_params.get("q", "").strip(),
            show_deprecated=request.query_params.get("deprecated") == "1",
            commits=site.commits(),
            allowed=board.allowed,
            known=board.stages,
        )

    def named(request: Request) -> str:
        """The artifact a path names. Starlette's route pattern ends in ``$``, which also
        matches before a final newline: ``/models/churn%0a`` would serve churn."""
        name: str = request.path_params["name"]
        if "\n" in request.scope["path"]:
            raise UsageError("no such page", "go back to the models: /")
        return name

    def model(request: Request) -> Response:
        waiting = _pending(site, named(request))
        found = site.model(named(request))
        return page(request, "model.html", model=found, commits=found.commits, **waiting,
                    allowed=found.allowed, known=[h.stage for h in found.stages])  # fmt: skip

    def violations(request: Request) -> Response:
        findings, notes = site.audit()
        return page(request, "violations.html", findings=findings, notes=notes)

    def versions(request: Request) -> Response:
        found = site.model(named(request))
        document = {
            "name": found.name,
            "versions": found.promotable,
            "allowed": found.allowed,
            "stages": [h.stage for h in found.stages],
        }
        return JSONResponse(document, headers=HEADERS)

    def static(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in STATIC:
            return Response("not found", 404, media_type="text/plain")
        body = resources.files("gtoguard.ui").joinpath("static").joinpath(name).read_bytes()
        return Response(body, 200, headers=HEADERS, media_type=STATIC[name])

    async def act(request: Request) -> Response:
        kind = request.path_params["kind"]
        wants_json = "application/json" in request.headers.get("accept", "")
        form: dict[str, str] = {}
        answer = _cross_site(request)
        if answer is None:
            form, answer = await _form(request)
        if answer is None and not getattr(request.state, "bearer", False):
            answer = _token(request, form, site.token)
        if answer is None and kind not in KINDS:
            answer = Answer(
                404,
                "invalid",
                f"no action {kind!r}",
                "promote, register, unassign, request or approve",
            )
        if answer is None:
            try:
                answer = await run_in_threadpool(perform, site, kind, form)
            except Exception as exc:
                error = internal_error(exc)
                answer = Answer(500, "failed", error.message, error.hint)
        if wants_json:
            return JSONResponse(answer.document(), answer.status, headers=HEADERS)
        back = f"/models/{form['artifact']}" if form.get("artifact") else "/"
        return page(request, "result.html", answer.status, answer=answer, back=back)

    routes = [
        Route("/", reading(dashboard)),
        Route("/violations", reading(violations)),
        Route("/models/{name:path}", reading(model)),
        Route("/api/models/{name:path}", reading(versions)),
        Route("/static/{name}", reading(static)),
        Route("/actions/{kind}", act, methods=["POST"]),
    ]
    # the Host check first (a rebound name learns nothing, not even the refusal page)
    return Starlette(routes=routes, middleware=[
        Middleware(TrustedHostMiddleware, allowed_hosts=hosts),
        Middleware(guard, access=access, forbidden=forbidden),
    ])  # fmt: skip


def _pending(site: Site, name: str | None) -> dict[str, Any]:
    """The Pending panel's data: the requests, and why none could be read, if so."""
    rows, unreachable = site.pending(name)
    return {"pending": rows, "unreachable": unreachable}


def internal_error(exc: Exception) -> CannotRun:
    """gtoguard itself failed: said on the page and on stderr in one line, as the CLI
    says it (``commands.base``)."""
    reason = failure_reason(exc)
    sys.stderr.write(f"gtoguard: error: internal error: {printable(reason)}\n")
    return CannotRun(f"internal error: {reason}", "please report this line")


def _cross_site(request: Request) -> Answer | None:
    """A browser names the page that sends a request: it must be this one."""
    origin = request.headers.get("origin")
    if origin is not None and urlsplit(origin).netloc != request.headers.get("host"):
        return Answer(
            403,
            "invalid",
            f"refused a request from another site ({origin}): nothing was written",
            "use the page itself",
        )
    return None


def _token(request: Request, form: dict[str, str], token: str) -> Answer | None:
    """The page's CSRF token, in the X-CSRF-Token header (the page's script) or the csrf
    field (the form itself)."""
    sent = request.headers.get("x-csrf-token", form.get("csrf", ""))
    if hmac.compare_digest(sent.encode("utf-8", "replace"), token.encode()):
        return None
    return Answer(
        403,
        "invalid",
        "missing or wrong CSRF token: nothing was written",
        "reload the page (a restarted gtoguard ui has a new token) and try again",
    )


async def _form(request: Request) -> tuple[dict[str, str], Answer | None]:
    """The urlencoded form of a POST (as a browser sends it), one value per field."""
    kind = request.headers.get("content-type", "").split(";")[0].strip()
    if kind != "application/x-www-form-urlencoded":
        return {}, Answer(
            415,
            "invalid",
            f"a form is sent as application/x-www-form-urlencoded, not {kind or 'nothing'}",
            None,
        )
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            return {}, Answer(413, "invalid", "the form is larger than 128 KiB", None)
    try:
        fields = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=20)
    except (UnicodeDecodeError, ValueError):
        return {}, Answer(400, "invalid", "the form is not valid UTF-8 url-encoded text", None)
    if any(len(values) > 1 for values in fields.values()):
        return {}, Answer(400, "invalid", "a field was sent twice", None)
    return {key: values[0] for key, values in fields.items()}, None
