"""Auditing: check, prune (reading, ``show``, is in show.py)."""

from __future__ import annotations

import sys

import click

from gtoguard.commands.base import error, exits, main, say
from gtoguard.errors import UsageError
from gtoguard.model.printable import printable


@main.command()
@click.argument("tags", nargs=-1)
@click.option("--all", "everything", is_flag=True, help="Replay and check every GTO tag.")
@click.option(
    "--unpushed",
    metavar="REMOTE",
    help="Check the local GTO tags REMOTE does not have (what a push would send).",
)
@click.option("--json", "as_json", is_flag=True, help='{"ok", "checked", "violations"} on stdout.')
@click.option(
    "--branch", metavar="BRANCH", help="Read .gto and the policy from BRANCH (in CI: origin/main)."
)
@click.option(
    "--pushed-at",
    "pushed_at",
    metavar="TIME",
    help="When TAG was pushed (ISO 8601 or seconds since the epoch; in CI from the push "
    "event): judge it as it arrived, against every other tag, with tagger-time against TIME.",
)
@click.option("--repo", default=".", show_default=True, help="Repository to check.")
@exits
def check(
    tags: tuple[str, ...],
    everything: bool,
    unpushed: str | None,
    as_json: bool,
    branch: str | None,
    pushed_at: str | None,
    repo: str,
) -> int:
    """Check existing tags by the rules; exit 1 when a violation is an error.

    TAG...: each tag at its tagger date, against the tags before it (gto's order) and by
    the rules of that time; with --pushed-at, as it arrived at TIME (freeze windows and
    max_age judged at TIME) -- in CI, the tag that triggered the job. --all: replay the
    whole history and report every violation (an audit).

    \b
    Example (CI, on a clone with all tags and branches):
      gtoguard check "$GITHUB_REF_NAME" --branch origin/main
    """
    from gtoguard.git.repo import open_repo
    from gtoguard.policy.report import dumps, summary_line, violation_json, write_text
    from gtoguard.registry import auditing, planning

    if sum((bool(tags), everything, unpushed is not None)) != 1:
        raise UsageError("give TAG..., --all or --unpushed REMOTE", "gtoguard check 'churn#prod#3'")
    arrival = None if pushed_at is None else _epoch(pushed_at)
    if arrival is not None and not tags:
        raise UsageError("--pushed-at goes with TAG...", "gtoguard check TAG --pushed-at TIME")
    handle = open_repo(repo)
    if unpushed is not None:
        tags = tuple(auditing.unpushed_tags(handle, unpushed))
    result = auditing.audit(
        handle,
        planning.config_branch(handle, branch, unpushed),
        None if everything else list(tags),
        arrival,
    )
    outcome = result.outcome
    if as_json:
        click.echo(
            dumps(
                {
                    "ok": outcome.ok,
                    "checked": outcome.checked,
                    "violations": [violation_json(v) for v in outcome.violations],
                }
            )
        )
    else:
        summary = summary_line(
            outcome.violations, outcome.checked, sorted(outcome.declined_refs), "check"
        )
        write_text(sys.stdout, outcome.violations, summary, result.notes)
    return 0 if outcome.ok else 1


@main.command()
@click.option(
    "--made-after",
    "made_after",
    metavar="TIME",
    required=True,
    help="Only tags whose tagger date is after TIME (ISO 8601 or epoch seconds).",
)
@click.option("--remote", default="origin", show_default=True, help="Where to delete them.")
@click.option("--branch", metavar="BRANCH", help="Read .gto and the policy from BRANCH.")
@click.option("--dry-run", is_flag=True, help="Say what would be deleted; delete nothing.")
@click.option("--repo", default=".", show_default=True, help="Repository to audit.")
@exits
def prune(made_after: str, remote: str, branch: str | None, dry_run: bool, repo: str) -> int:
    """Delete the GTO tags an audit finds violating, made after TIME.

    The backstop for hosts without hooks: a tag that went past CI (GitHub starts no
    workflow for a push of more than three tags) is removed from REMOTE and here. Tags
    made before TIME, tags that pass, and lightweight tags (no date) are never touched.
    Exit 0 when nothing violating is left, 1 when some is (named), 3 if deleting fails.

    \b
    Example (a scheduled CI job):
      gtoguard prune --made-after 2026-12-01T00:00:00Z --branch origin/main
    """
    from gtoguard.git.repo import open_repo
    from gtoguard.git.tagwriting import delete_tag
    from gtoguard.policy.report import summary_line, write_text
    from gtoguard.registry import auditing, planning, publishing

    cutoff = _epoch(made_after, "--made-after")
    handle = open_repo(repo)
    config = planning.config_branch(handle, branch, remote)
    result = auditing.audit(handle, config, None)
    doomed, kept = auditing.prunable(handle, result.outcome, cutoff, config)
    for name, why in kept:
        say(f"kept {printable(name)}: {printable(why)}")
    if not doomed:
        write_text(
            sys.stdout,
            result.outcome.violations,
            summary_line(
                result.outcome.violations,
                result.outcome.checked,
                sorted(result.outcome.declined_refs),
                "check",
            ),
            result.notes,
        )
        return 0 if result.outcome.ok else 1
    for name in doomed:
        say(f"{'would delete' if dry_run else 'deleting'} {printable(name)}")
    if dry_run:
        return 1
    done = handle.git("push", "--atomic", "--porcelain", "--", remote,
                      *[f":refs/tags/{name}" for name in doomed])  # fmt: skip
    if done.returncode != 0:
        import os

        reason, said = publishing.push_failure(done)
        for line in said:  # the server's hooks, in their own words
            say(printable(line), err=True)
        access = (
            "check the job's push access (contents: write / a project token)"
            if os.environ.get("CI")
            else f"check that you may delete tags there: git push --dry-run {remote} :refs/tags/NAME"
        )
        error(f"could not delete them from {remote}: {reason}", access)
        return 3
    for name in doomed:
        oid = handle.ref_target(f"refs/tags/{name}")
        if oid is not None:
            delete_tag(handle, name, oid)
    say(f"deleted {len(doomed)} tag(s) from {printable(remote)} and here")
    return 1 if kept else 0


def _epoch(text: str, option: str = "--pushed-at") -> int:
    """Seconds since the epoch from ``1796104937`` or ISO 8601 (``2026-12-01T06:00:00Z``,
    GitHub's pushed_at; ``2026-12-01T06:00:00.123+00:00``, GitLab's CI_PIPELINE_CREATED_AT)."""
    from gtoguard.policy.clock import NoZone, parse_time

    try:
        return parse_time(text)
    except NoZone:
        raise UsageError(
            f"{option} {text!r} has no time zone", "add one: 2026-12-01T06:00:00Z"
        ) from None
    except ValueError:
        raise UsageError(
            f"{option} {text!r} is not a time",
            "give ISO 8601 with a zone (2026-12-01T06:00:00Z) or epoch seconds",
        ) from None
