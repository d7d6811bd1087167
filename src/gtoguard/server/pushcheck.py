"""A push's verdict: ``run_hook`` reads the pushed refs as git will land them, judges the
GTO tags and config changes among them (``registry/judge.py``) and says the verdict and the
receipt on stderr. Nothing here handles failure: ``failsafe.py`` wraps it.

No click here, and yaml/jsonschema only once there is GTO work to do.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, TextIO

from gtoguard.errors import EXIT_OK, EXIT_VIOLATIONS
from gtoguard.git.invoke import HELPER_PUSH
from gtoguard.model.refupdate import BRANCH_PREFIX, TAG_PREFIX, RefUpdate
from gtoguard.model.tagobject import HEAD_CAP
from gtoguard.policy import timebudget
from gtoguard.policy.report import summary_line, write_receipt, write_text
from gtoguard.policy.rules.violation import UNCHECKED, Violation

if TYPE_CHECKING:
    from gtoguard.git.branches import Branch
    from gtoguard.git.repo import Repo
    from gtoguard.registry.judge import Result


def on_gitlab(env: Mapping[str, str]) -> bool:
    """GitLab's hooks run with GL_ID: their messages take GitLab's error prefix."""
    return bool(env.get("GL_ID"))


class Decision:
    """What pre-receive decided, for the decision log: None while there was nothing to
    decide (no GTO tag, no config change)."""

    def __init__(self) -> None:
        self.updates: Sequence[RefUpdate] = ()
        self.verdict: str | None = None  # "accepted", "declined", "accepted-unchecked"
        self.violations: Sequence[Violation] = ()
        self.approved: Mapping[str, Sequence[str]] = {}  # ref -> who approved it

    def set(self, verdict: str, violations: Sequence[Violation]) -> None:
        self.verdict, self.violations = verdict, violations


def run_hook(
    hook: str,
    updates: Sequence[RefUpdate],
    remote: str | None,
    err: TextIO,
    env: Mapping[str, str],
    decision: Decision | None = None,
) -> int:
    from gtoguard.git.branches import config_changes, default_branch, remote_default_branch
    from gtoguard.git.objects import objects_of
    from gtoguard.git.repo import open_repo
    from gtoguard.policy.scope import gto_updates

    gitlab = on_gitlab(env)
    decision = decision or Decision()
    decision.updates = updates
    repo = open_repo(None)
    pushed = [u.ref for u in updates]
    if hook == "pre-receive":  # judge what git writes: an alias updates the ref it names
        updates = [_landing(repo, u, n) for n, u in enumerate(updates)]
    # pre-push: the remote's default branch as last fetched, never an unpushed commit
    branch = remote_default_branch(repo, remote) if remote else default_branch(repo)
    changes = config_changes(repo, updates, branch)
    # another namespace's refs, and refs that are neither branches nor tags
    elsewhere = any(not u.ref.startswith((BRANCH_PREFIX, TAG_PREFIX)) for u in updates)
    claims = branch.missing is not None and any(u.ref == branch.ref for u in updates)
    if (
        not changes
        and not elsewhere
        and not claims
        and not gto_updates(updates)
        and (not _tip_trouble(repo, updates, branch))
    ):
        # a plain tag name can still carry a GTO-named object, which is what gto reads
        plain = [u for u in updates if u.is_tag and not u.deleted]
        if not plain or not gto_updates(plain, objects_of(repo, plain, HEAD_CAP)):
            return EXIT_OK
    from gtoguard.registry import judge  # yaml and jsonschema come with it
    from gtoguard.registry.facts import Where

    if hook == "pre-receive":
        from gtoguard.server.landing import Landing

        landing = Landing.begin(repo, env)  # judged after every earlier push landed
        try:
            result, lands = _judge_as_it_lands(repo, updates, pushed, branch, env)
            result.notes[:0] = landing.notes  # a lease it took over says so
            if result.outcome.ok:
                result.notes += landing.keep(lands, branch, env)
        finally:
            landing.end()
    else:
        # the pushed tags already exist locally; the remote does not have them yet
        exclude = {u.tag_name for u in updates if u.is_tag}
        where = Where("client", env, remote)
        result = judge.run(
            repo,
            updates,
            branch,
            changes=changes,
            existing_exclude=exclude,
            where=where,
            receipt=True,
        )
    outcome = result.outcome
    decision.set("accepted" if outcome.ok else "declined", outcome.violations)
    decision.approved = outcome.approved
    if not outcome.violations and not outcome.checked:
        return EXIT_OK
    declined = sorted(outcome.declined_refs)
    checked = outcome.checked + sum(1 for r in declined if not r.startswith("refs/tags/"))
    summary = summary_line(
        outcome.violations, checked, declined, "push" if hook == "pre-receive" else "pre-push"
    )
    shown = outcome.violations
    if hook == "pre-push" and env.get(HELPER_PUSH) == "1":
        # the helper checked these very tags and printed its verdict and notes a moment
        # ago: say only what is new (a warning or a refusal it cannot have seen)
        shown = [v for v in shown if v.severity != UNCHECKED]
        if outcome.ok and not shown:
            return EXIT_OK
    write_text(err, shown, summary, result.notes, gitlab)
    if outcome.ok:
        write_receipt(
            err, result.receipt, "changed" if hook == "pre-receive" else "will change", gitlab
        )
    return EXIT_OK if outcome.ok else EXIT_VIOLATIONS


def _tip_trouble(repo: Repo, updates: Sequence[RefUpdate], branch: Branch) -> bool:
    """Whether a default-branch update brings a tip or a .gitattributes gto cannot read
    (``configchecks.tip_problems``, which the full check then reports)."""
    if not any(u.ref == branch.ref and not u.deleted for u in updates):
        return False
    from gtoguard.registry.configchecks import tip_problems

    return bool(tip_problems(repo, updates, branch))


def _landing(repo: Repo, update: RefUpdate, number: int = 0) -> RefUpdate:
    if number % 256 == 255:
        timebudget.spend("reading the pushed refs")
    ref = repo.landing_ref(update.ref)
    return update if ref == update.ref else RefUpdate(ref, update.old, update.new)


def _judge_as_it_lands(
    repo: Repo,
    updates: Sequence[RefUpdate],
    pushed: Sequence[str],
    branch: Branch,
    env: Mapping[str, str],
) -> tuple[Result, list[RefUpdate]]:
    """Judge the push as git will land it: without the branch updates git will refuse
    (by the names as ``pushed``), declined whole if git cannot store one of its GTO tags."""
    from gtoguard.git.branches import config_changes
    from gtoguard.registry import judge, tombstones
    from gtoguard.registry.facts import Where
    from gtoguard.server.gitrefusals import forecast

    found = forecast(repo, updates, pushed)
    lands = found.lands
    where = Where("server", env)
    result = judge.run(
        repo, lands, branch, changes=config_changes(repo, lands, branch), where=where, receipt=True
    )
    tombstones.keep(repo, result.deleted)  # before git may land them
    for violation in found.violations:
        result.outcome.add(violation)
    result.notes[:0] = found.notes()
    return result, lands
