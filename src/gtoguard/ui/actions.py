"""The page's writes: a submitted form becomes the helper's ``Request``; the engine judges
the planned tags (the helper's plan: the dry run) before anything is written; an accepted
plan is written and, when the page has a remote, pushed with the registrations it relies
on, exactly as ``gtoguard assign ... --push`` does. One write at a time per repository, so
two clicks never plan the same counter. A form with ``check=1`` stops after the plan and
says its verdict: the same road as a submission up to the write, and nothing written."""

from __future__ import annotations

import contextlib
import fcntl
import shlex
from collections.abc import Iterator, Mapping
from pathlib import Path

from gtoguard.errors import CannotRun, UsageError
from gtoguard.git.repo import open_repo
from gtoguard.model.tagname import Action, is_valid_artifact, is_valid_name, is_valid_version
from gtoguard.policy.report import failure_violations, violation_json
from gtoguard.registry import planning, publishing
from gtoguard.registry.planning import Request
from gtoguard.ui.answers import Answer, Invalid, text
from gtoguard.ui.approving import approve, approved_object, ask, promote_requested
from gtoguard.ui.site import Site

KINDS = {
    "promote": Action.ASSIGN,
    "register": Action.REGISTER,
    "unassign": Action.UNASSIGN,
    "request": Action.ASSIGN,  # four eyes: the promotion kept aside for approvals
    "approve": Action.ASSIGN,  # an approval of a pending request (its object id)
}
BUMPS = ("patch", "minor", "major")
MAX_MESSAGE = 65_536  # the default tags.max_message: the engine judges the rest


def perform(site: Site, kind: str, form: Mapping[str, str]) -> Answer:
    """Carry out one form (``kind``: promote, register or unassign), or with ``check=1``
    only say what carrying it out would meet; never raises."""
    if site.read_only:
        return Answer(
            403,
            "read-only",
            f"{site.path} is a bare repository: the page only reads it",
            "run gtoguard ui in a clone to create tags",
        )
    try:
        request = request_from(kind, form)
        checking = _checking(form)
        wanted = approved_object(form) if kind == "approve" else None
    except Invalid as exc:
        return Answer(400, "invalid", exc.message, exc.hint)
    try:
        with one_at_a_time(site):
            if wanted is not None:
                return approve(site, wanted)
            if kind == "request":
                return ask(site, request)
            return _carry_out(site, request, checking)
    except UsageError as exc:
        return Answer(400, "invalid", exc.message, _for_the_page(exc.hint))
    except CannotRun as exc:
        found = failure_violations(exc, kind)
        if not getattr(exc, "problems", None):
            return Answer(500, "failed", exc.message, exc.hint, [violation_json(v) for v in found])
        # each problem is listed with its hint: the summary names the files, not the first
        # problem again
        files = ", ".join(dict.fromkeys(v.ref for v in found))
        return Answer(
            500,
            "failed",
            f"nothing was written: gtoguard cannot use {files}",
            None,
            [violation_json(v) for v in found],
        )


# what the helper's hints may name that the dialog has no field for
CLI_ONLY = ("--force", "--sign", "--simple", "--counter")


def _for_the_page(hint: str | None) -> str | None:
    """A hint the dialog can act on: one naming a command-line option it lacks is left
    out rather than shown as advice nobody on the page can take."""
    if hint is None or any(option in hint for option in CLI_ONLY):
        return None
    return hint


def request_from(kind: str, form: Mapping[str, str]) -> Request:
    """The helper's request for a form, every value checked by the tag grammar first."""
    action = KINDS[kind]
    artifact = _artifact(text(form, "artifact", "Artifact"))
    if kind == "approve":  # the request it approves names the rest
        return Request(action, artifact)
    message = _message(form.get("message", ""))
    if action is Action.REGISTER:
        version = text(form, "version", "Version", required=False)
        bump = text(form, "bump", "Bump", required=False)
        if bump and bump not in BUMPS:
            raise Invalid(f"Bump {bump!r} is none of {', '.join(BUMPS)}")
        if version and bump:
            raise Invalid("give a Version or a Bump, not both", "leave Version empty to bump")
        return Request(
            action,
            artifact,
            text(form, "commit", "Commit"),
            version=_version(version) if version else None,
            bump=bump or None,
            message=message,
        )
    version = _version(text(form, "version", "Version"))
    stage = _stage(text(form, "stage", "Stage"))
    return Request(action, artifact, None, version=version, stage=stage, message=message)


def _checking(form: Mapping[str, str]) -> bool:
    """``check=1``: say the plan's verdict and write nothing."""
    value = form.get("check", "").strip()
    if value not in ("", "0", "1"):
        raise Invalid(
            f"check {value[:20]!r} is neither 1 nor 0",
            "send check=1 to ask for the verdict only, or leave check out",
        )
    return value == "1"


def _artifact(value: str) -> str:
    if not is_valid_artifact(value):
        raise Invalid(
            f"invalid artifact name {value!r}: letters, digits, '_', '-' and '/' "
            "only, starting and ending with a letter or digit (optionally 'dir:' "
            "first)",
            "for example: churn or models/cv:segmenter",
        )
    return value


def _version(value: str) -> str:
    if not is_valid_version(value):
        raise Invalid(
            f"Version {value!r} is not a version GTO accepts",
            "versions are semver with a lower-case v: v1.2.3, v2.0.0-rc.1",
        )
    return value


def _stage(value: str) -> str:
    if not is_valid_name(value):
        raise Invalid(
            f"Stage {value!r} is not a stage name GTO accepts: letters, digits, '_', "
            "'-' and '/' only, starting and ending with a letter or digit",
            "for example: prod or eu/staging",
        )
    return value


def _message(value: str) -> str | None:
    text = value.replace("\r\n", "\n").strip()  # browsers send a textarea's lines with CRLF
    if "\0" in text or len(text.encode("utf-8")) > MAX_MESSAGE:
        raise Invalid("Message holds a NUL character or is over 64 KiB", "shorten the message")
    return text or None  # empty: gto's default message


@contextlib.contextmanager
def one_at_a_time(site: Site) -> Iterator[None]:
    """Hold the page's write lock of the repository (a file lock, so two pages on one
    clone take turns too) from the plan until the push is answered: the next request
    plans on the tags this one made, never the same counter."""
    folder = Path(open_repo(site.path).path) / "gtoguard-cache"
    folder.mkdir(exist_ok=True)
    with open(folder / "ui.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _carry_out(site: Site, request: Request, checking: bool = False) -> Answer:
    repo, branch = site.open()
    found = planning.plan(repo, request, branch, site.remote)
    if any(
        v.rule == "approvals-missing" and v.severity == "error" for v in found.outcome.violations
    ):
        requested = promote_requested(site, found, checking)
        if requested is not None:
            return requested
    names = [new.name for new in found.tags]
    violations = [violation_json(v) for v in found.outcome.violations]
    declined = len(found.outcome.declined_refs)
    noun = "tag" if len(names) == 1 else "tags"
    if checking:  # the plan is all a check asks for: the verdict, with nothing written
        said = (
            f"{', '.join(names)} would be accepted"
            if found.outcome.ok
            else f"{declined} of {len(names)} new {noun} would be declined"
        )
        return Answer(
            200,
            "checked",
            f"{said}; nothing was written (a check)",
            None,
            violations,
            names,
            [],
            found.notes,
            "accepted" if found.outcome.ok else "declined",
            found.outcome.passed,
        )
    if not found.outcome.ok:
        return Answer(
            422,
            "refused",
            f"{declined} of {len(names)} new {noun} would be declined; nothing was written",
            None,
            violations,
            names,
            [],
            found.notes,
        )
    written = publishing.write(repo, found.tags, sign=False)
    made = ", ".join(names)
    if site.remote is None:
        return Answer(
            201,
            "written",
            f"created {made}; this repository has no remote, so nothing was pushed",
            None,
            violations,
            names,
            [],
            found.notes,
        )
    carried = publishing.relied_on(repo, [new for new, _ in written], site.remote)
    result = publishing.push(repo, site.remote, written, carried)
    notes = found.notes + (
        [
            f"pushed with {', '.join(carried)}, which {site.remote} did not "
            "have and the new tags rely on"
        ]
        if carried
        else []
    )
    if result.accepted:
        return Answer(
            201,
            "accepted",
            f"created {made} and pushed to {site.remote}",
            None,
            violations,
            names,
            result.remote_lines,
            notes,
        )
    if result.declined:
        return Answer(
            409,
            "declined",
            f"{site.remote} declined the push ({result.reason}); "
            "the new tags were removed here too",
            "fix what the server says below and try again",
            violations,
            names,
            result.remote_lines,
            notes,
        )
    quoted = " ".join(shlex.quote(name) for name in names)
    return Answer(
        502,
        "unpushed",
        f"created {made}, but could not push to {site.remote}: {result.reason}",
        f"the tags stay here; push them later with: git push {site.remote} {quoted}",
        violations,
        names,
        result.remote_lines,
        notes,
    )
