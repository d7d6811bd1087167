"""Four eyes: request, approve, approvals, withdraw (docs/policy.md, "Approvals")."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from gtoguard.commands.base import error, exits, main, push_option, say
from gtoguard.errors import UsageError
from gtoguard.model.printable import short

_AS = click.option(
    "--as",
    "user",
    metavar="NAME",
    help="Your name on the server (REMOTE_USER, GL_USERNAME …); default: git config gtoguard.user.",
)
_REMOTE = click.option("--remote", default="origin", show_default=True, help="The server's remote.")
_REPO = click.option("--repo", default=".", show_default=True, help="The clone to work in.")


def _push(handle: Any, remote: str, refs: list[str], what: str) -> bool:
    from gtoguard.registry.asking import push_own

    ok, lines = push_own(handle, remote, refs)
    for line in lines:
        say(line, err=True)
    if not ok:
        error(f"{remote} declined the {what}", "fix what the lines above say and try again")
    return ok


@main.command()
@click.argument("name")
@click.argument("ref", required=False)
@click.option("--stage", required=True, help="The stage the promotion is to.")
@click.option("--version", "version", metavar="V", help="The registered version to promote.")
@click.option("-m", "--message", help="The promotion tag's message (default: gto's).")
@click.option("--sign", is_flag=True, help="Sign the promotion tag (git tag -s).")
@click.option("--force", is_flag=True, help="Request it even if the version holds the stage.")
@push_option("Push the request to REMOTE (origin) at once.")
@_AS
@_REPO
@exits
def request(name: str, ref: str | None, stage: str, **opts: Any) -> int:
    """Ask for the approvals a promotion of NAME to a stage needs.

    Makes the promotion tag object now (NAME#STAGE#N, as gtoguard assign would) and
    keeps it under refs/gtoguard/requests/, out of every gto reader's sight. Approvers
    approve that very object; gtoguard assign --push then pushes it, never a new one.

    \b
    Example:
      gtoguard request churn --version v1.3.0 --stage prod --push
    """
    from gtoguard.git.repo import open_repo
    from gtoguard.model.approvalrefs import request_ref
    from gtoguard.model.tagname import Action
    from gtoguard.policy.report import write_text
    from gtoguard.registry import asking, planning

    push, repo = opts["push"], opts["repo"]
    handle = open_repo(repo)
    me = asking.whoami(handle, opts["user"])
    wanted = planning.Request(
        Action.ASSIGN,
        name,
        ref,
        version=opts["version"],
        stage=stage,
        message=opts["message"],
        force=opts["force"],
    )
    made = asking.request_promotion(handle, wanted, push or "origin", me, opts["sign"], bool(push))
    write_text(sys.stderr, made.plan.outcome.violations, None, made.plan.notes)
    if made.oid is None:
        error("the promotion itself would be declined; nothing was written", None)
        return 1
    new = made.plan.tags[0]
    say(f"Requested {new.name} (object {short(made.oid)}): {name} → {stage}")
    for line in made.lines:
        say(line, err=True)
    if made.pushed is None:
        say(f"To send it, run:\n    git push origin {request_ref(made.oid, me)}")
        return 0
    if not made.pushed:
        error(f"{push} declined the request", "fix what the lines above say and try again")
        return 1
    say(f"Pushed to {push}; approvers run:\n    gtoguard approve {name} --stage {stage} --push")
    return 0


@main.command()
@click.argument("name")
@click.argument("request_name", metavar="[REQUEST]", required=False)
@click.option("--stage", required=True, help="The stage of the promotion to approve.")
@click.option(
    "--version", "version", metavar="V", help="The version it promotes (to choose among several)."
)
@click.option("-m", "--message", help="The approval's message.")
@click.option(
    "--sign", is_flag=True, help="Sign the approval (git tag -s): needed where CI verifies it."
)
@push_option("Push the approval to REMOTE (origin) at once.")
@_AS
@_REPO
@exits
def approve(name: str, request_name: str | None, stage: str, **opts: Any) -> int:
    """Approve a pending request to promote NAME to a stage.

    The approval is a tag object of the requested object itself, kept under
    refs/gtoguard/approvals/: it counts for that object only. REQUEST is the
    promotion tag's name or its object id, when several are pending.

    \b
    Example:
      gtoguard approve churn --stage prod --push
    """
    from gtoguard.git.repo import open_repo
    from gtoguard.model.approvalrefs import approval_ref
    from gtoguard.registry import asking

    push, repo = opts["push"], opts["repo"]
    handle = open_repo(repo)
    me = asking.whoami(handle, opts["user"])
    remote = push or "origin"
    items = asking.pending(handle, asking.fetch_own(handle, remote), name)
    commit = _version_commit(handle, name, opts["version"]) if opts["version"] else None
    item = asking.find_request(items, stage, request_name, commit)
    ok, lines = asking.give_approval(handle, item, me, opts["sign"], opts["message"], push)
    say(f"Approved {item.name} (object {short(item.oid)}) as {me}")
    for line in lines:
        say(line, err=True)
    if ok is None:
        say(f"To send it, run:\n    git push {remote} {approval_ref(item.oid, me)}")
        return 0
    if not ok:
        error(f"{remote} declined the approval", "fix what the lines above say and try again")
        return 1
    say(f"Pushed to {remote}")
    return 0


def _version_commit(handle: Any, name: str, version: str) -> str:
    from gtoguard.git.tagrefs import tag_names, tags_of
    from gtoguard.registry.tagstate import registry_of

    registry = registry_of(tags_of(handle, {name}, tag_names(handle, {name})), {name})
    commits = registry.artifact(name).commits_of(version)
    if not commits:
        raise UsageError(
            f"{name} has no version {version} here",
            f"fetch the tags: git fetch --tags; gtoguard show {name}",
        )
    return str(commits[-1])


@main.command()
@click.argument("name", required=False)
@click.option("--json", "as_json", is_flag=True, help="As JSON: one object per request.")
@click.option(
    "--prune",
    is_flag=True,
    help="On the server (a bare repository): delete the requests and approvals whose "
    "promotion has landed, that no request holds any more, or that are past max_age.",
)
@_REMOTE
@_REPO
@exits
def approvals(name: str | None, as_json: bool, prune: bool, remote: str, repo: str) -> int:
    """The pending requests on the server: who requested, who approved, what is missing.

    In a clone, fetches refs/gtoguard/ from the remote first; in the server's bare
    repository, reads its own. Exit 0 whatever is pending.
    """
    from gtoguard.git.repo import open_repo
    from gtoguard.registry import asking, planning
    from gtoguard.registry.rulefiles import load_settings

    handle = open_repo(repo)
    where: str | None = None if handle.bare else remote
    if prune:
        if not handle.bare:
            raise UsageError(
                "--prune is the server's cleanup", "run it in the server's bare repository"
            )
        gone = asking.prune(
            handle, load_settings(handle, planning.config_branch(handle, None)).policy
        )
        say(f"pruned {len(gone)} ref(s)" + "".join(f"\n  {ref}" for ref in gone))
        return 0
    policy = load_settings(handle, planning.config_branch(handle, None, where)).policy
    rows = asking.pending_rows(handle, where, policy, name)
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return 0
    if not rows:
        say(
            f"no pending requests on {where or 'this repository'}"
            + (f" for {name}" if name else "")
        )
    for row in rows:
        approved = ", ".join(row["approved_by"]) or "nobody yet"
        missing = (
            f"{row['still_needed']} more from {row['from']}" if row["still_needed"] else "enough"
        )
        say(
            f"{row['request']} ({short(row['object'])}): {row['artifact']} {row['version']} → "
            f"{row['stage']}, requested by {', '.join(row['requested_by'])}\n"
            f"  approved by: {approved}; needs: {missing}"
        )
    return 0


@main.command()
@click.argument("request_name", metavar="REQUEST")
@_AS
@_REMOTE
@_REPO
@exits
def withdraw(request_name: str, user: str | None, remote: str, repo: str) -> int:
    """Withdraw your request (its tag name or object id): its approvals count no more."""
    from gtoguard.git.repo import open_repo
    from gtoguard.model.approvalrefs import request_ref
    from gtoguard.registry import asking

    handle = open_repo(repo)
    me = asking.whoami(handle, user)
    items = asking.pending(handle, asking.fetch_own(handle, remote))
    item = asking.find_request(items, "", request_name, None)
    if me not in item.requesters:
        raise UsageError(
            f"{item.name} was requested by {', '.join(item.requesters)}, not you ({me})"
        )
    if not _push(handle, remote, [":" + request_ref(item.oid, me)], "withdrawal"):
        return 1
    handle.git("update-ref", "-d", handle.full(request_ref(item.oid, me)))
    say(f"Withdrew {item.name} (object {short(item.oid)})")
    return 0


def promote_requested(handle: Any, found: Any, remote: str, dry_run: bool) -> int | None:
    """``gtoguard assign`` to a stage that asks for approvals: the pending request for
    the same version and stage is what gets pushed, judged first as the server will
    judge it. None when there is no such request (assign says what is missing)."""
    from gtoguard.policy.report import write_text
    from gtoguard.registry import asking

    item = asking.matching_request(handle, remote, found.tags[-1])
    if item is None:
        return None
    say(f"Using the request {item.name} (object {short(item.oid)}), which approvers approved")
    result = asking.judge_requested(handle, item, remote)
    outcome = result.outcome
    summary = None if outcome.ok else "the request would be declined; nothing was pushed"
    write_text(sys.stderr, outcome.violations, summary, result.notes)
    if dry_run:
        verdict = "accepted" if outcome.ok else "declined"
        say(f"{item.name}\n  object:  {item.oid}\n  verdict: {verdict}")
    if dry_run or not outcome.ok:
        return 0 if outcome.ok else 1
    ok, lines, reason = asking.land_requested(handle, item, remote)
    for line in lines:
        say(line, err=True)
    if ok:
        say(f"Pushed to {remote}: the server accepted {item.name}")
        return 0
    error(f"{remote} declined the push ({reason})", "fix what the lines above say")
    return 1
