"""One meaning everywhere (issue 30, item 5): every surface that gives a verdict on a GTO
tag gives the same verdict and the same rule ids on the same facts, except where it
cannot know a fact, and those differences are the ones ``BLIND`` lists, asserted.

Hypothesis draws a repository policy (``.gtoguard.yaml`` on main before the sequence, or
none: any mix of ``mode: warn``, ``stages.prod.from: [staging]`` with ``rollback`` true or
false, ``stages.prod.pushers`` ``[alice]`` or ``['@leads']``, ``stages.staging.message``,
``versions.increasing``, ``tags.counter: required``, ``stages.prod.soak: {staging: 1d}``,
``stages.prod.requires: {files: [card.md]}`` (every other new commit holds one),
``stages.prod.approvals`` from carol, whom nobody asks), sometimes a server policy of the same
kinds (``git config gtoguard.policy``), and 3-8 steps. Each step makes ONE new GTO tag
from the helper's own plan (``gtoguard <action> ... --dry-run``): a register, assign,
unassign, deregister or deprecate of one of two artifacts, by alice or bob (the server's
``REMOTE_USER`` for that push), sometimes a wrong one: the stage ``prd`` (not in .gto), a
lower or reused version, a second version on a commit, a message without a ticket, a
promotion to prod of a version not in staging. The tag is written with git, with the name,
commit and message planned and an explicit tagger time.

Before it is pushed, each surface says its verdict: accepted or declined, and the rule ids
of its errors, of its warnings and of its "not checkable here" notes:

- ``server``: the real push to the server's pre-receive hook (the reference);
- ``pre-push``: the clone's installed pre-push hook, run as git runs it;
- ``helper``: the dry run the tag was made from;
- ``page``: ``gtoguard ui`` on the clone, ``POST /actions/KIND`` with ``check=1`` (the page
  has forms for register, promote and unassign only);
- ``ci``: ``gtoguard check --branch origin/main --pushed-at NOW -- TAG`` as the CI templates
  run it, with the CI actor (GitHub's ``GITHUB_ACTOR`` or GitLab's ``GITLAB_USER_LOGIN``);
  ``ci+policy``: the same given the server policy (``GTOGUARD_POLICY``), where there is one;
- ``audit``: ``gtoguard check --all --branch origin/main``;

and after the push, ``gtoguard show --json`` equals ``gto show --json`` on a fresh clone of
the server, and the server's tags changed iff the hook accepted.

Where a server policy is drawn, the surfaces that cannot read it are held against a
``twin``: a second bare server with the same hook and the same history but no server
policy, whose hook judges the tag and lands nothing. The twin itself is held against the
server: they may differ only by the server policy's own rules and mode (``_twin_vs_server``).

What it found is fixed and kept as a test of its own at the end of this file: a warn-mode
policy let in a second version on a commit, after which ``gto show`` failed on every clone.

A failure prints the sequence as concrete steps: the policies, each step's command, the
tag (its commit ``c3``, its tagger time ``T0+14``) and every surface's verdict.

The suite runs a short sample with a fixed seed (1 drawn example and 1 written out). The long run::

    GTOGUARD_SURFACE_EXAMPLES=1000 .venv/bin/python -m pytest -q -p no:cacheprovider \\
        tests/test_surfaces.py --hypothesis-show-statistics

Run on 2026-12-07 at 156584e as two processes of 500 (seeds 1207 and 2712): 1,000
sequences, 0 failing, 90 minutes on 2 cores.

In the long run gtoguard's commands (the helper, CI, the audit, ``show``) run in a fork of
the test's process, which has gtoguard imported (``Job``; ``GTOGUARD_SURFACE_FORK=0`` starts
them as processes of their own, as the suite's sample does): the same ``main``, arguments,
directory and environment, a third of a second less each. The hooks always run as git
runs them, and ``test_a_forked_command_says_what_the_installed_one_says`` holds the two
ways equal. ``gto show --json`` runs in process too, through gto's own command line.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from itertools import count
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, Phase, event, example, given, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from gtoguard.model.tagname import Action, TagNameError, parse_tag
from gtoguard.policy.catalog import KEEPS_READERS_WORKING
from gtoguard.server.install import install_into
from model_oracle import semver_key, weighted

from conftest import (
    BIN,
    Page,
    git,
    gto_cli,
    gto_in_process,
    gtoguard,
    make_world,
    start_page,
    store_object,
)

# read at import: the autouse git_env fixture clears GTOGUARD_* before each test
EXAMPLES = int(os.environ.get("GTOGUARD_SURFACE_EXAMPLES", "0") or 0)
LONG_RUN = EXAMPLES > 0
VERBOSE = bool(os.environ.get("GTOGUARD_SURFACE_VERBOSE"))
# shrinking a failing sequence takes minutes (every try is real pushes): by request only
SHRINK = bool(os.environ.get("GTOGUARD_SURFACE_SHRINK"))
# gtoguard's commands (not the hooks) in a fork of this process: the long run's default
FORK = os.environ.get("GTOGUARD_SURFACE_FORK", "1" if LONG_RUN else "0") == "1"

# --- the table: what each surface cannot know --------------------------------------------

PUSHER = "who pushes"  # the server's REMOTE_USER; CI: the actor of the job the push started
SERVER_POLICY = "the server policy"  # read by the server's hook only
ARRIVAL = "when the tag arrived"  # tags.max_age; this test's tags are all fresh
APPROVALS = "the approvals"  # judged as the promotion arrives; an audit of history cannot
BLIND: dict[str, frozenset[str]] = {
    "server": frozenset(),
    "pre-push": frozenset({PUSHER, SERVER_POLICY}),
    "helper": frozenset({PUSHER, SERVER_POLICY}),
    "page": frozenset({PUSHER, SERVER_POLICY}),
    "ci": frozenset({SERVER_POLICY}),
    "ci+policy": frozenset(),  # the same, given the server policy (GTOGUARD_POLICY)
    "audit": frozenset({PUSHER, SERVER_POLICY, ARRIVAL, APPROVALS}),  # no decision log here
}
# the rule ids whose verdict needs the fact. A surface blind to PUSHER says
# identity-unknown as "not checkable here" wherever a stage's pushers apply, never as a
# violation; one blind to ARRIVAL may miss a tagger-time the server finds, never add one.
# SERVER_POLICY: the surface gives the twin's verdict.
FACT_RULES = {
    PUSHER: frozenset({"pusher-not-allowed", "identity-unknown"}),
    ARRIVAL: frozenset({"tagger-time"}),
    APPROVALS: frozenset({"approvals-missing"}),  # said as "not checkable here"
}
PAGE_FORMS = {"register": "register", "assign": "promote", "unassign": "unassign"}

ARTIFACTS = ("churn", "cv:seg")  # plain, and the dir:name form users type
ZERO = "0" * 40
TICKET = "CHANGE-[0-9]+"


# --- what hypothesis draws ---------------------------------------------------------------


@dataclass(frozen=True)
class Policy:
    """A policy file as drawn; the same kinds for the repository's and the server's."""

    warn: bool = False
    prod_from: bool | None = None  # stages.prod.from: [staging], with this rollback; None: none
    pushers: str | None = None  # stages.prod.pushers: alice or @leads (groups: leads: [alice])
    message: bool = False  # stages.staging.message: CHANGE-[0-9]+
    increasing: bool = False  # versions.increasing
    counter: bool = False  # tags.counter: required
    soak: bool = False  # stages.prod.soak: {staging: 1d} (no version ever soaks so long here)
    card: bool = False  # stages.prod.requires: {files: [card.md]}
    approvals: bool = False  # stages.prod.approvals from carol (nobody requests: none given)

    def document(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"mode": "warn"} if self.warn else {}
        prod: dict[str, Any] = {}
        if self.prod_from is not None:
            prod.update({"from": ["staging"], "rollback": self.prod_from})
        if self.pushers:
            prod["pushers"] = [self.pushers]
            if self.pushers.startswith("@"):
                doc["groups"] = {self.pushers[1:]: ["alice"]}
        if self.soak:
            prod["soak"] = {"staging": "1d"}
        if self.card:
            prod["requires"] = {"files": ["card.md"]}
        if self.approvals:
            prod["approvals"] = {"count": 1, "from": ["carol"]}
        stages = {"prod": prod} if prod else {}
        if self.message:
            stages["staging"] = {"message": TICKET}
        if stages:
            doc["stages"] = stages
        if self.increasing:
            doc["versions"] = {"increasing": True}
        if self.counter:
            doc["tags"] = {"counter": "required"}
        return doc

    def text(self) -> str:
        return yaml.safe_dump(self.document(), sort_keys=False) if self.document() else "{}\n"

    def rules(self) -> frozenset[str]:
        """The rule ids this policy's own rules can give (beside the built-in ones)."""
        found = set()
        if self.prod_from is not None:
            found.add("stage-order")
        if self.pushers:
            found |= FACT_RULES[PUSHER]
        if self.message:
            found.add("message-mismatch")
        if self.increasing:
            found.add("version-not-increasing")
        if self.counter:
            found.add("counter-missing")
        for drawn, rule in ((self.soak, "soak-too-short"), (self.card, "evidence-missing"),
                            (self.approvals, "approvals-missing")):  # fmt: skip
            if drawn:
                found.add(rule)
        return frozenset(found)


@dataclass(frozen=True)
class Step:
    kind: str  # register assign unassign deregister deprecate
    artifact: int  # index into ARTIFACTS
    which: str  # the version: latest, staged (the one in staging), other (by pick)
    pick: int
    stage: str  # dev staging prod prd
    version: str  # register: bump-patch bump-minor bump-major lower reuse
    commit: str  # register: new existing (one that has a version)
    message: str  # default ticket none
    pusher: str  # alice bob
    counter: bool = False  # --counter (a user whom tags.counter: required sent back)

    def __repr__(self) -> str:
        return (
            f"Step({self.kind} a{self.artifact} {self.which}/{self.pick} stage={self.stage} "
            f"ver={self.version} commit={self.commit} msg={self.message} by={self.pusher}"
            f"{' --counter' if self.counter else ''})"
        )


POLICIES = st.builds(
    Policy,
    warn=weighted((False, 2), (True, 1)),
    prod_from=st.sampled_from([None, True, False]),
    pushers=st.sampled_from([None, "alice", "@leads"]),
    message=st.booleans(),
    increasing=st.booleans(),
    counter=weighted((False, 2), (True, 1)),
    soak=weighted((False, 3), (True, 1)),
    card=weighted((False, 3), (True, 1)),
    approvals=weighted((False, 3), (True, 1)),
)
STEPS = st.builds(
    Step,
    kind=weighted(
        ("register", 3), ("assign", 5), ("unassign", 2), ("deregister", 1), ("deprecate", 1)
    ),
    artifact=weighted((0, 3), (1, 1)),
    which=weighted(("latest", 2), ("staged", 2), ("other", 1)),
    pick=st.integers(0, 5),
    stage=weighted(("dev", 2), ("staging", 3), ("prod", 3), ("prd", 1)),
    version=weighted(
        ("bump-patch", 3), ("bump-minor", 1), ("bump-major", 1), ("lower", 1), ("reuse", 1)
    ),
    commit=weighted(("new", 5), ("existing", 1)),
    message=weighted(("default", 2), ("ticket", 2), ("none", 1)),
    pusher=weighted(("alice", 1), ("bob", 1)),
    counter=weighted((False, 3), (True, 1)),
)
# (repository policy, server policy, CI system)
SETUPS = st.tuples(
    st.one_of(st.none(), POLICIES),
    st.one_of(st.none(), st.none(), POLICIES),
    st.sampled_from(("github", "gitlab")),
)
CI_ENV = {
    "github": lambda who: {"GITHUB_ACTIONS": "true", "GITHUB_ACTOR": who},
    "gitlab": lambda who: {"GITLAB_CI": "true", "GITLAB_USER_LOGIN": who},
}


# --- verdicts ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    accepted: bool
    errors: frozenset[str] = frozenset()
    warnings: frozenset[str] = frozenset()
    unchecked: frozenset[str] = frozenset()  # "not checkable here"

    def __str__(self) -> str:
        parts = ["accepted" if self.accepted else "declined"]
        for label, rules in (
            ("errors", self.errors),
            ("warnings", self.warnings),
            ("not checkable", self.unchecked),
        ):
            if rules:
                parts.append(f"{label}: {', '.join(sorted(rules))}")
        return "; ".join(parts)

    def without(self, rules: frozenset[str]) -> Verdict:
        """This verdict with ``rules`` left out: accepted unless another error remains."""
        errors = self.errors - rules
        return Verdict(
            not errors if self.errors & rules else self.accepted,
            errors,
            self.warnings - rules,
            self.unchecked - rules,
        )


LINE = re.compile(
    r"gtoguard: (?P<ref>\S+): \[(?P<rule>[a-z0-9-]+)\]"
    r"(?P<label> warning:| not checkable here:)?"
)


def from_text(text: str, ref: str, accepted: bool) -> tuple[Verdict, set[str]]:
    """The verdict on ``ref`` in hook or CLI output; the other refs it names."""
    found: dict[str, set[str]] = {"": set(), " warning:": set(), " not checkable here:": set()}
    others = set()
    for match in LINE.finditer(text):
        if match.group("ref") != ref:
            others.add(match.group("ref"))
            continue
        found[match.group("label") or ""].add(match.group("rule"))
    return Verdict(
        accepted,
        frozenset(found[""]),
        frozenset(found[" warning:"]),
        frozenset(found[" not checkable here:"]),
    ), others


def from_page(answer: dict[str, Any], ref: str) -> tuple[Verdict, set[str]]:
    by: dict[str, set[str]] = {"error": set(), "warning": set(), "unchecked": set()}
    others = set()
    for violation in answer["violations"]:
        if violation["ref"] != ref:
            others.add(violation["ref"])
            continue
        by[violation["severity"]].add(violation["rule"])
    return Verdict(
        answer["verdict"] == "accepted",
        frozenset(by["error"]),
        frozenset(by["warning"]),
        frozenset(by["unchecked"]),
    ), others


def disagreements(surface: str, got: Verdict, reference: Verdict) -> list[str]:
    """How ``got`` differs from what the table lets ``surface`` say, the facts it cannot
    know taken out (``reference``: the server's verdict, or the twin's for a surface
    blind to the server policy)."""
    blind = BLIND[surface]
    problems = []
    if got.accepted != (not got.errors):
        problems.append(
            f"{surface} says {'accepted' if got.accepted else 'declined'} "
            f"with errors {sorted(got.errors)}"
        )
    hidden: frozenset[str] = frozenset().union(*(FACT_RULES[f] for f in blind if f in FACT_RULES))
    if PUSHER in blind:
        rules = FACT_RULES[PUSHER]
        if (got.errors | got.warnings) & rules:
            problems.append(
                f"{surface} cannot know who pushes, yet it says "
                f"{sorted((got.errors | got.warnings) & rules)} as a violation"
            )
        sayable = {"identity-unknown"} | (FACT_RULES[APPROVALS] if APPROVALS in blind else set())
        if not got.unchecked <= sayable:
            problems.append(f"{surface}: not checkable here: {sorted(got.unchecked)}")
        judged = (reference.errors | reference.warnings) & rules
        if judged and "identity-unknown" not in got.unchecked:
            problems.append(
                f"{surface} does not say that who pushes is not checkable here, "
                "where the server judged the pusher"
            )
    elif got.unchecked != reference.unchecked:
        problems.append(
            f"{surface}: not checkable here: {sorted(got.unchecked)}, "
            f"the reference: {sorted(reference.unchecked)}"
        )
    arrival = "tagger-time" in got.errors | got.warnings
    if ARRIVAL in blind and arrival and "tagger-time" not in reference.errors | reference.warnings:
        problems.append(f"{surface} finds a tagger-time the server does not")
    want, have = reference.without(hidden), got.without(hidden)
    if (have.accepted, have.errors, have.warnings) != (want.accepted, want.errors, want.warnings):
        problems.append(
            f"{surface}: {have}; expected {want}"
            + (f" (leaving out {', '.join(sorted(hidden))})" if hidden else "")
        )
    return problems


def _twin_vs_server(
    twin: Verdict, server: Verdict, policy: Policy, repo: Policy | None
) -> list[str]:
    """The server and a twin without its policy differ only by that policy: its own rules
    (``policy.rules()``) and its mode, which also covers the built-in rules."""
    own = policy.rules()
    mine = repo.rules() if repo is not None else frozenset()  # the repository's own rules
    enforced = mine if repo is not None and not repo.warn else frozenset()
    found_t, found_s = twin.errors | twin.warnings, server.errors | server.warnings
    problems = []
    if not found_t <= found_s:
        problems.append(f"the server misses {sorted(found_t - found_s)}, which the twin finds")
    if not found_s - found_t <= own:
        problems.append(
            f"the server finds {sorted(found_s - found_t)}, which neither the "
            "twin nor the server policy's own rules explain"
        )
    for rule in twin.errors - server.errors:  # an error the server only warns about
        if not policy.warn or rule in enforced:
            problems.append(
                f"{rule}: an error on the twin, only a warning on the server, "
                "whose mode does not say so"
            )
    for rule in server.errors - twin.errors:  # the server enforces what the twin did not:
        # a rule of its own, or a built-in one the repository's mode: warn made a warning
        if policy.warn or not (rule in own or (rule in twin.warnings and rule not in mine)):
            problems.append(
                f"{rule}: an error on the server, not on the twin, and the "
                "server policy does not explain it"
            )
    for rule in server.warnings - found_t:
        if not policy.warn:
            problems.append(f"{rule}: a warning of the server's own, yet it enforces")
    if twin.unchecked or server.unchecked:
        problems.append("a server knows who pushes, yet says not checkable here")
    return problems


# --- one sequence ----------------------------------------------------------------------


@dataclass
class Planned:
    """One step, as the helper and the page are asked for it."""

    kind: str
    artifact: str
    cli: list[str]
    form: tuple[str, dict[str, str]] | None  # the page's action and fields


@dataclass
class Known:
    """One artifact on the server: versions (name -> commit), the active ones, stages."""

    versions: dict[str, str] = field(default_factory=dict)
    active: dict[str, str] = field(default_factory=dict)
    stages: dict[str, str | None] = field(default_factory=dict)
    tags: bool = False
    shown: bool = False  # gto shows it (not deprecated)


class Run:
    def __init__(self, root: Path, repo: Policy | None, server: Policy | None, ci: str) -> None:
        self.root, self.repo_policy, self.server_policy, self.ci = root, repo, server, ci
        self.world = world = make_world(root)
        self.start = world.clock
        self.log: list[str] = []
        self.commits: dict[str, str] = {}  # commit id -> its label (c1, c2, ...)
        self._card: str | None = None  # the tree of the commits with a card
        self.readers = count(1)
        self.tickets = count(1)
        if repo is not None:
            world.set_policy(repo.text())
            self.log.append(f".gtoguard.yaml on main: {json.dumps(repo.document())}")
        else:
            self.log.append("no .gtoguard.yaml")
        self.twin: Path | None = None
        self.server_file: Path | None = None
        if server is not None:
            self.server_file = world.set_server_policy(server.text())
            self.log.append(f"server policy: {json.dumps(server.document())}")
            self.twin = self._make_twin()
        self.log.append(f"CI: {ci}")
        done = gtoguard("install", "--repo", str(world.clone), cwd=root)
        assert done.returncode == 0, done.stdout + done.stderr
        self.pre_push = world.clone / ".git" / "hooks" / "pre-push"
        assert self.pre_push.is_file()
        self.page: Page = start_page("--repo", str(world.clone), cwd=root, log=root / "ui.log")
        self.csrf = self.page.token()
        self.shown, failed = self._show()
        assert failed is None, failed

    def close(self) -> None:
        said = self.page.stop()
        assert "Traceback" not in said, said

    # -- the twin: the server without its policy --------------------------------------------

    def _make_twin(self) -> Path:
        """A bare server with gtoguard's hook and the server's history, but no server
        policy. Its hook judges a push and refuses it whatever the verdict (said as
        ``twin: exit N``), unless SURFACES_TWIN_LAND=1: the server accepted it."""
        twin = self.root / "twin.git"
        git("init", "-q", "--bare", str(twin), cwd=self.root)
        install_into(twin / "hooks" / "gtoguard-pre-receive", "pre-receive", sys.executable)
        wrapper = twin / "hooks" / "pre-receive"
        wrapper.write_text(
            '#!/bin/sh\n[ "$SURFACES_TWIN_LAND" = 1 ] && exit 0\n'
            '"$(dirname "$0")/gtoguard-pre-receive"\necho "twin: exit $?" >&2\nexit 1\n',
            encoding="utf-8",
        )
        wrapper.chmod(0o755)
        git("remote", "add", "twin", str(twin), cwd=self.world.clone)
        self._land_on_twin("refs/heads/main")
        return twin

    def _land_on_twin(self, ref: str) -> None:
        git("push", "-q", "--no-verify", "twin", f"{ref}:{ref}", cwd=self.world.clone,
            env={"SURFACES_TWIN_LAND": "1"})  # fmt: skip

    # -- the server as the steps see it --------------------------------------------------------

    def known(self, artifact: str) -> Known:
        found = Known()
        fmt = "%(refname:strip=2) %(*objectname)"
        for line in git(
            "for-each-ref", f"--format={fmt}", "refs/tags", cwd=self.world.server
        ).stdout.splitlines():
            name, commit = line.split(" ", 1)
            try:
                tag = parse_tag(name)
            except TagNameError:
                continue
            if tag.artifact != artifact:
                continue
            found.tags = True
            if tag.action is Action.REGISTER and tag.version:
                found.versions[tag.version] = commit
                found.active[tag.version] = commit
        for line in git(
            "for-each-ref", f"--format={fmt}", "refs/tags", cwd=self.world.server
        ).stdout.splitlines():
            name = line.split(" ", 1)[0]
            try:
                tag = parse_tag(name)
            except TagNameError:
                continue
            if tag.artifact == artifact and tag.action is Action.DEREGISTER and tag.version:
                found.active.pop(tag.version, None)
        row = self.shown.get(artifact)
        if row is not None:
            found.shown = True
            found.stages = dict(row.get("stage") or {})
        return found

    def card_tree(self) -> str:
        """HEAD's tree with a ``card.md`` beside its files."""
        if self._card is None:
            blob = store_object(self.world.clone, b"# model card\n", kind="blob")
            listing = git("ls-tree", "HEAD", cwd=self.world.clone).stdout
            listing += f"100644 blob {blob}\tcard.md\n"
            self._card = git("mktree", cwd=self.world.clone, input=listing.encode()).stdout.strip()
        return self._card

    def label(self, commit: str) -> str:
        if commit not in self.commits:
            self.commits[commit] = f"c{len(self.commits) + 1}"
        return self.commits[commit]

    def new_commit(self) -> str:
        """A commit of its own for a new version (off main, on no branch); every other one
        holds a model card (``card.md``: the evidence ``requires`` may ask for)."""
        when = f"@{self.world.tick()} +0000"
        made = git(
            "commit-tree",
            self.card_tree() if len(self.commits) % 2 else "HEAD^{tree}",
            "-p",
            "HEAD",
            "-m",
            f"model {len(self.commits)}",
            cwd=self.world.clone,
            env={"GIT_COMMITTER_DATE": when, "GIT_AUTHOR_DATE": when},
        ).stdout.strip()
        self.label(made)
        return made

    # -- a step -----------------------------------------------------------------------------

    def plan(self, step: Step) -> Planned:
        artifact = ARTIFACTS[step.artifact]
        known = self.known(artifact)
        kind = step.kind
        if kind in ("assign", "unassign", "deregister") and not known.active:
            kind = "register"
        if kind == "deprecate" and not (known.tags and known.shown):
            kind = "register"  # nothing to deprecate, or deprecated: make it active again
        message = {
            "default": None,
            "ticket": f"CHANGE-{next(self.tickets)} {kind}",
            "none": "no ticket",
        }[step.message]
        said = (["-m", message] if message else []) + (["--counter"] if step.counter else [])
        fields = {"message": message} if message else {}
        if kind == "register":
            commit = self.new_commit()
            if step.commit == "existing" and known.versions:
                commit = sorted(known.versions.values())[step.pick % len(known.versions)]
            versions = sorted(known.versions, key=semver_key)
            how: list[str] = []
            if versions and step.version.startswith("bump-"):
                how = [f"--{step.version}"]
                fields["bump"] = step.version[len("bump-") :]
            elif versions and step.version == "lower":
                top, number = versions[-1], 1
                while f"{top}-rc.{number}" in known.versions:
                    number += 1
                how = ["--version", f"{top}-rc.{number}"]
            elif versions and step.version == "reuse":
                how = ["--version", versions[step.pick % len(versions)]]
            if how[:1] == ["--version"]:
                fields["version"] = how[1]
            form = {"artifact": artifact, "commit": commit, **fields}
            return Planned(
                kind,
                artifact,
                ["register", artifact, commit, *how, *said],
                None if step.counter else ("register", form),
            )  # the page: no --counter
        if kind == "deprecate":
            return Planned(kind, artifact, ["deprecate", artifact, *said], None)
        active = sorted(known.active, key=semver_key)
        staged = known.stages.get("staging")
        version = {
            "latest": active[-1],
            "other": active[step.pick % len(active)],
            "staged": staged if staged in known.active else active[-1],
        }[step.which]
        if kind == "deregister":
            return Planned(
                kind, artifact, ["deregister", artifact, "--version", version, *said], None
            )
        stage = step.stage
        if kind == "unassign":
            held = sorted(s for s, v in known.stages.items() if v == version)
            stage = held[step.pick % len(held)] if held and step.pick % 3 else stage
        fields.update({"artifact": artifact, "version": version, "stage": stage})
        return Planned(
            kind,
            artifact,
            [kind, artifact, "--version", version, "--stage", stage, *said],
            (PAGE_FORMS[kind], fields),
        )

    def step(self, number: int, step: Step) -> None:
        world = self.world
        planned = self.plan(step)
        who = step.pusher
        when = world.tick()
        shown_cli = " ".join(shlex.quote(a) for a in ["gtoguard", *planned.cli])
        for commit, label in self.commits.items():
            shown_cli = shown_cli.replace(commit, label)
        self.log.append(f"step {number}, by {who}: {shown_cli}")
        # the helper's dry run (at the tagger time the tag will carry) and the page's check
        helper = Job(
            [str(BIN / "gtoguard"), *planned.cli, "--dry-run"],
            world.clone,
            {"GIT_COMMITTER_DATE": f"@{when} +0000"},
        )
        answer = None
        if planned.form is not None:
            kind, fields = planned.form
            reply = self.page.post(kind, {**fields, "check": "1"}, token=self.csrf)
            answer = reply.json()
            self._no_trace("page", reply.body)
        out, err = helper.communicate()
        self._no_trace("helper", out + err)
        if helper.returncode == 2:  # the helper cannot plan it (gto would refuse it too)
            self.log.append(f"  helper: exit 2: {err.strip()}")
            _event("a step the helper refuses as a usage error")
            if answer is not None and (answer["status"], answer["outcome"]) != (400, "invalid"):
                self.fail(f"the helper refuses the step as a usage error, the page: {answer}")
            return
        if helper.returncode not in (0, 1):
            self.fail(f"the helper's dry run exits {helper.returncode}:\n{out}{err}")
        name, commit, message = _dry_run(out)
        ref = f"refs/tags/{name}"
        self.log.append(f"  tag {name} on {self.label(commit)} at T0+{when - self.start}")
        verdicts: dict[str, Verdict] = {}
        verdicts["helper"] = self._only(ref, "helper", *from_text(err, ref, helper.returncode == 0))
        if answer is not None:
            if answer.get("outcome") != "checked" or answer["tags"] != [name]:
                self.fail(f"the page plans otherwise than the helper ({name}): {answer}")
            verdicts["page"] = self._only(ref, "page", *from_page(answer, ref))
        if git("rev-parse", "-q", "--verify", ref, cwd=world.clone, check=False).stdout:
            # a reused version without a counter: the name is taken, git cannot make it
            for surface, verdict in verdicts.items():
                self.log.append(f"    {surface:<9}{verdict}")
            self.log.append("  the name exists: git cannot make the tag, nothing is pushed")
            _event("a planned name that exists")
            if any(v.accepted for v in verdicts.values()):
                self.fail(f"{name} exists, yet the helper or the page would make it")
            if verdicts.get("page", verdicts["helper"]) != verdicts["helper"]:
                self.fail("the helper and the page (blind to the same facts) disagree")
            return
        # the tag, as planned
        made = git("tag", "-a", "--no-sign", "--cleanup=verbatim", "-F", "-", "--", name, commit,
                   cwd=world.clone, input=message.encode(),
                   env={"GIT_COMMITTER_DATE": f"@{when} +0000"})  # fmt: skip
        assert made.returncode == 0
        oid = git("rev-parse", ref, cwd=world.clone).stdout.strip()
        verdicts.update(self._clone_surfaces(name, ref, oid, who))
        # the push, for real
        before = world.server_tags()
        pushed = world.push(ref, env={"REMOTE_USER": who})
        self._no_trace("server", pushed.output)
        verdicts["server"] = self._only(ref, "server", *from_text(pushed.output, ref, pushed.ok))
        accepted = pushed.ok
        _event(f"server {'accepted' if accepted else 'declined'}")
        if not accepted:  # the clone holds what the server holds
            git("tag", "-d", name, cwd=world.clone)
        elif self.twin is not None:
            self._land_on_twin(ref)
        for surface, verdict in verdicts.items():
            self.log.append(f"    {surface:<9}{verdict}")
        self.compare(verdicts)
        self.after(name, verdicts["server"], before)

    def _clone_surfaces(self, name: str, ref: str, oid: str, who: str) -> dict[str, Verdict]:
        """pre-push, CI, the audit (and the twin) on the clone that now holds the tag, side
        by side: each only reads it."""
        world = self.world
        arrived = str(int(time.time()))  # the push comes now (the world's clock lags behind)
        jobs: dict[str, Job] = {}

        def start(surface: str, args: list[str], env: dict[str, str], stdin: str = "") -> None:
            jobs[surface] = Job(args, world.clone, env, stdin)

        start(
            "pre-push",
            [str(self.pre_push), "origin", str(world.server)],
            {"REMOTE_USER": who},
            f"{ref} {oid} {ref} {ZERO}\n",
        )
        ci = [
            str(BIN / "gtoguard"),
            "check",
            "--branch",
            "origin/main",
            "--pushed-at",
            arrived,
            "--",
            name,
        ]
        start("ci", ci, CI_ENV[self.ci](who))
        if self.server_file is not None:
            start(
                "ci+policy", ci, {**CI_ENV[self.ci](who), "GTOGUARD_POLICY": str(self.server_file)}
            )
        start("audit", [str(BIN / "gtoguard"), "check", "--all", "--branch", "origin/main"], {})
        if self.twin is not None:
            start("twin", ["git", "push", "--porcelain", "--no-verify", "twin", ref],
                  {"REMOTE_USER": who})  # fmt: skip
        verdicts = {}
        for surface, job in jobs.items():
            out, err = job.communicate()
            code = job.returncode
            self._no_trace(surface, out + err)
            if surface == "twin":
                said = re.search(r"twin: exit (\d+)", err)
                if said is None:
                    self.fail(f"the twin's hook did not run:\n{out}{err}")
                verdicts[surface] = self._only(
                    ref, surface, *from_text(err, ref, said.group(1) == "0")
                )
            elif surface == "audit":
                if code not in (0, 1):
                    self.fail(f"check --all exits {code}:\n{out}{err}")
                verdict, _ = from_text(out, ref, True)  # other tags: their own verdicts
                verdicts[surface] = Verdict(
                    not verdict.errors, verdict.errors, verdict.warnings, verdict.unchecked
                )
            else:
                if code not in (0, 1):
                    self.fail(f"{surface} exits {code}:\n{out}{err}")
                verdicts[surface] = self._only(ref, surface, *from_text(out + err, ref, code == 0))
        return verdicts

    def _only(self, ref: str, surface: str, verdict: Verdict, others: set[str]) -> Verdict:
        if others:
            self.fail(f"{surface} speaks of {sorted(others)}, not only of {ref}")
        return verdict

    def _no_trace(self, surface: str, text: str) -> None:
        if "Traceback" in text or "internal-error" in text:
            self.fail(f"{surface} failed:\n{text}")

    # -- the properties ---------------------------------------------------------------------

    def compare(self, verdicts: dict[str, Verdict]) -> None:
        server = verdicts["server"]
        twin = verdicts.get("twin")
        problems = []
        if server.accepted != (not server.errors):
            problems.append(f"the server says {server} (a push's result and its lines differ)")
        if twin is not None:
            assert self.server_policy is not None
            problems += _twin_vs_server(twin, server, self.server_policy, self.repo_policy)
        for surface, verdict in verdicts.items():
            if surface in ("server", "twin"):
                continue
            reference = twin if twin is not None and SERVER_POLICY in BLIND[surface] else server
            problems += disagreements(surface, verdict, reference)
        blind = {s: v.unchecked for s, v in verdicts.items() if PUSHER in BLIND.get(s, set())}
        if len(set(blind.values())) > 1:
            problems.append(
                f"the surfaces that cannot know who pushes disagree on what is "
                f"not checkable: {blind}"
            )
        if problems:
            self.fail("surfaces disagree:\n  " + "\n  ".join(problems))

    def after(self, name: str, server: Verdict, before: set[str]) -> None:
        """The registry changed iff the hook accepted; gtoguard show --json is gto's."""
        after = self.world.server_tags()
        if after != (before | {name} if server.accepted else before):
            self.fail(f"the server's tags went from {sorted(before)} to {sorted(after)}")
        if after == before:
            return  # the same tags: the same registry, as gto and gtoguard showed it
        shown, failed = self._show()
        if failed is not None:
            self.fail(failed)
        self.shown = shown

    def _show(self) -> tuple[dict[str, Any], str | None]:
        """gto show --json on a fresh clone of the server, and why it does not match
        gtoguard show --json (None: it does)."""
        world = self.world
        reader = self.root / f"reader-{next(self.readers)}"
        git("clone", "-q", str(world.server), str(reader), cwd=self.root)
        ours_job = Job([str(BIN / "gtoguard"), "show", "--json", "--repo", str(reader)], self.root)
        theirs_done = gto_in_process(["show", "--json"], reader)
        code, out, err = theirs_done.returncode, theirs_done.stdout, theirs_done.stderr
        ours_out, ours_err = ours_job.communicate()
        shutil.rmtree(reader, ignore_errors=True)
        if code != 0 or ours_job.returncode != 0:
            return (
                {},
                f"show fails on a fresh clone:\ngto: {out}{err}\ngtoguard: {ours_out}{ours_err}",
            )
        theirs: dict[str, Any] = json.loads(out)
        if json.loads(ours_out) != theirs:
            return theirs, (
                f"gtoguard show --json differs from gto show --json\ngto:      "
                f"{json.dumps(theirs, sort_keys=True)}\ngtoguard: "
                f"{json.dumps(json.loads(ours_out), sort_keys=True)}"
            )
        return theirs, None

    def fail(self, message: str) -> None:
        raise AssertionError(message + "\n\nthe sequence:\n" + "\n".join(self.log))


class Job:
    """A command started in the background, its output in files (no pipe fills up).

    With FORK, a gtoguard command runs in a fork of this process, which has gtoguard
    imported: the console script's own ``main`` with the same arguments, directory and
    environment, without starting Python and importing gtoguard again (a third of a
    second each; the long run starts tens of thousands). The hooks always run as git runs
    them."""

    def __init__(
        self,
        args: list[str],
        cwd: Path,
        env: dict[str, str] | None = None,
        stdin: str = "",
        fork: bool = FORK,
    ) -> None:
        self.returncode: int | None = None
        self.files = tempfile.TemporaryFile(), tempfile.TemporaryFile()  # noqa: SIM115 (closed by communicate)
        full = {**os.environ, **(env or {})}
        self.process: subprocess.Popen[bytes] | None = None
        if fork and args[0] == str(BIN / "gtoguard") and not stdin:
            self.pid = _forked(args[1:], cwd, full, *self.files)
            return
        with tempfile.TemporaryFile() as feed:
            feed.write(stdin.encode())
            feed.seek(0)
            self.process = subprocess.Popen(
                args, cwd=cwd, env=full, stdin=feed, stdout=self.files[0], stderr=self.files[1]
            )

    def communicate(self) -> tuple[str, str]:
        if self.process is not None:
            self.returncode = self.process.wait()
        else:
            self.returncode = os.waitstatus_to_exitcode(os.waitpid(self.pid, 0)[1])
        said = []
        for file in self.files:
            file.seek(0)
            said.append(file.read().decode("utf-8", "replace"))
            file.close()
        return said[0], said[1]


def _forked(args: list[str], cwd: Path, env: dict[str, str], out: Any, err: Any) -> int:
    """``gtoguard ARGS`` in a child of this process (its id); its exit status is the
    command's exit code (70: the child itself failed, with the traceback on ``err``)."""
    from gtoguard.commands.cli import main

    pid = os.fork()
    if pid:
        return pid
    code = 70
    try:
        os.chdir(cwd)
        os.environ.clear()
        os.environ.update(env)
        os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
        os.dup2(out.fileno(), 1)
        os.dup2(err.fileno(), 2)
        sys.stdin = open(0, encoding="utf-8", closefd=False)  # noqa: SIM115
        sys.stdout = open(1, "w", encoding="utf-8", errors="surrogateescape", closefd=False)  # noqa: SIM115
        sys.stderr = open(2, "w", encoding="utf-8", errors="backslashreplace", closefd=False)  # noqa: SIM115
        try:
            main.main(args=args, prog_name="gtoguard")
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException:
        traceback.print_exc()
        sys.stderr.flush()
        code = 70
    finally:
        os._exit(code)


def _event(value: str) -> None:
    """Counted for --hypothesis-show-statistics; a sequence run by hand counts nothing."""
    with contextlib.suppress(InvalidArgument):
        event(value)


def _dry_run(out: str) -> tuple[str, str, str]:
    """(name, commit, message) of the one tag a dry run plans."""
    found = re.findall(r"^(\S+)\n  target:  (\w+)\n  message: (.*)\n  verdict: \w+$", out, re.M)
    assert len(found) == 1, f"a dry run planned other than one tag:\n{out}"
    name, commit, message = found[0]
    return name, commit, message


# --- the test ------------------------------------------------------------------------------

_examples = count()


@settings(
    max_examples=EXAMPLES or 1,
    derandomize=not LONG_RUN,  # the suite: the same sample every run
    deadline=None,
    database=None,
    print_blob=LONG_RUN,
    phases=[Phase.explicit, Phase.reuse, Phase.generate, *([Phase.shrink] if SHRINK else [])],
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
@example(  # always: a server policy in warn mode over a repository's pushers, bob and alice
    setup=(
        Policy(pushers="@leads", message=True),
        Policy(warn=True, counter=True, prod_from=False, soak=True, card=True, approvals=True),
        "gitlab",
    ),
    steps=[
        Step("register", 0, "latest", 0, "prod", "bump-patch", "new", "default", "bob"),
        Step("assign", 0, "latest", 0, "staging", "bump-patch", "new", "none", "bob"),
        Step("assign", 0, "latest", 0, "prod", "bump-patch", "new", "default", "bob"),
        Step("assign", 0, "latest", 0, "prd", "bump-patch", "new", "default", "alice"),
        Step("assign", 0, "latest", 0, "prod", "bump-patch", "new", "ticket", "alice"),
    ],
)
@given(setup=SETUPS, steps=st.lists(STEPS, min_size=3, max_size=8))
def test_every_surface_gives_the_servers_verdict(
    tmp_path: Path, setup: tuple[Policy | None, Policy | None, str], steps: list[Step]
) -> None:
    root = tmp_path / f"example-{next(_examples)}"
    root.mkdir()
    run = None
    try:
        run = Run(root, *setup)
        for number, step in enumerate(steps, start=1):
            run.step(number, step)
        if VERBOSE:
            print("\n".join(run.log), end="\n\n")
    except AssertionError as exc:
        if run is None or "the sequence:" in str(exc):
            raise
        raise AssertionError(f"{exc}\n\nthe sequence:\n" + "\n".join(run.log)) from exc
    finally:
        if run is not None:
            run.close()
        shutil.rmtree(root, ignore_errors=True)


# --- what the test found ---------------------------------------------------------------------


# A policy in mode: warn turned every built-in rule into a warning, those that keep gto's
# readers working too: a second version on a commit was accepted, and once that commit held
# a stage `gto show` failed on every clone. Those rules are errors in every mode now.
READER_BREAKERS = {  # rule: the tags that break gto's readers (the last one is judged)
    "commit-has-version": ["churn@v0.0.1", "churn#dev#1", "churn@v0.0.2"],
    "version-exists": ["churn@v0.0.1", "churn@v0.0.1#5"],  # on a new commit
    "tag-reserved": ["churn@created"],
}


@pytest.mark.parametrize(
    "args",
    [
        ["check", "--all", "--branch", "origin/main"],
        ["check", "--branch", "origin/main", "--", "churn#prd#1"],
        ["show", "--json"],
        ["assign", "churn", "--version", "v0.0.1", "--stage", "prod", "--dry-run"],
        ["parse", "churn@created"],
    ],
    ids=lambda args: " ".join(args[:2]),
)
def test_a_forked_command_says_what_the_installed_one_says(tmp_path: Path, args: list[str]) -> None:
    """The long run forks gtoguard's commands (FORK): each says, byte for byte and with the
    same exit code, what the installed command says in a process of its own."""
    world = make_world(tmp_path)
    world.set_policy("stages:\n  staging: {message: 'CHANGE-[0-9]+'}\n")
    for name in ("churn@v0.0.1", "churn#prd#1", "churn#staging#1"):
        world.tag(name)
    world.push_tags("churn@v0.0.1", "churn#prd#1", no_verify=True)
    said = []
    for fork in (False, True):
        job = Job([str(BIN / "gtoguard"), *args], world.clone, {"GITHUB_ACTOR": "bob"}, fork=fork)
        said.append((*job.communicate(), job.returncode))
    assert said[0] == said[1]
    assert said[0][2] in (0, 1, 2) and (said[0][0] or said[0][1])


@pytest.mark.parametrize("rule", sorted(READER_BREAKERS))
def test_a_warn_mode_rollout_never_lets_in_what_gto_cannot_read(tmp_path: Path, rule: str) -> None:
    """The minimal sequence the test found, and its kin: a server policy of only ``mode:
    warn`` declines what makes gto's readers fail, as every surface of the clone does, and
    gto still reads the server's registry."""
    assert rule in KEEPS_READERS_WORKING
    world = make_world(tmp_path)
    world.set_server_policy("mode: warn\n")
    *before, last = READER_BREAKERS[rule]
    for name in before:
        world.tag(name)
        assert world.push_tags(name).ok
    if rule == "version-exists":  # a second registration of v0.0.1, on a new commit
        world.commit("again")
    world.tag(last)
    pushed = world.push_tags(last)
    assert not pushed.ok, pushed.output
    assert f"[{rule}]" in pushed.output and f"[{rule}] warning:" not in pushed.output
    audited = gtoguard("check", "--all", "--branch", "main", cwd=world.server)
    assert audited.returncode == 0, audited.stdout + audited.stderr
    reader = tmp_path / "reader"
    git("clone", "-q", str(world.server), str(reader), cwd=tmp_path)
    shown = subprocess.run(
        [gto_cli(), "show", "--json"], cwd=reader, capture_output=True, text=True, check=False
    )
    assert shown.returncode == 0, shown.stderr


def test_warn_mode_still_warns_for_what_gto_reads_well(tmp_path: Path) -> None:
    """The rollout goes on meaning what it did for every other built-in rule: a stage
    that .gto does not list is a warning, and lands."""
    world = make_world(tmp_path)
    world.set_server_policy("mode: warn\n")
    world.tag("churn@v0.0.1")
    assert world.push_tags("churn@v0.0.1").ok
    world.tag("churn#qa#1")
    pushed = world.push_tags("churn#qa#1")
    assert pushed.ok, pushed.output
    assert "[stage-unknown] warning:" in pushed.output
