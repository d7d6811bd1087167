"""The model test's oracle: what a push of generated operations must do to the server.

``tests/test_model.py`` draws push sequences (``Op``, ``Step``) and drives a real server;
this module turns each drawn push into concrete refs against the server's tags as they
are (``Oracle.plan``) and predicts what must come of it (``Expect``): a tag that can never
be valid (``Expect.invalid``: nothing of its push may land) or a push of nothing but
plainly valid registrations (``Expect.valid``: it must land whole). It starts no process:
git is reached only through the hooks a subclass fills in (``server_tags``,
``commit_tree``, ``tag_object``), so ``tests/test_model_oracle.py`` tests the predictions
in process, against hand-written sequences whose outcome gto's semantics fix
(docs/gto-format.md §5, §6).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from itertools import count
from typing import Any, Protocol

GTO_FILES = ("stages: [dev, staging, prod]\n", "stages: [dev, staging, prod, prod/eu]\n")
ARTIFACTS = ("churn", "cv=seg", "churn/x")  # plain, with a directory part, with a '/'
STAGES = ("dev", "staging", "prod")

# name, .gtoguard.yaml (None: no policy file), the clock skew in force
POLICIES: tuple[tuple[str, str | None, int], ...] = (
    ("none", None, 300),
    (
        "order+increasing",
        "stages:\n  prod: {from: [staging]}\n  staging: {from: [dev]}\nversions: {increasing: true}\n",
        300,
    ),
    (
        "counter+registration",
        "tags: {counter: required}\nversions: {registration: required}\n",
        300,
    ),
    (
        "prod-from-main+skew60",
        "stages:\n  prod: {from: [staging], branches: [main]}\ntags: {clock_skew: 60}\n",
        60,
    ),
    # property 4: bob may not change prod, by any route (deprecating, making active again,
    # deleting a tag), and tags may be deleted
    ("prod-locked+delete", "tags: {delete: allow}\nstages:\n  prod: {pushers: [alice]}\n", 300),
)
LOCKED = "prod-locked+delete"

MALFORMED = (
    "{a}@v1.0",
    "{a}#prod#",
    "{a}@V1.0.0",
    "{a}@latest",
    "{a}#prod#1#2",
    "{a}@v01.0.0",
    "{a}@deprecated!",
    "{a}@v1.0.0#x",
)

TAG_RE = re.compile(
    r"^(?P<artifact>[^@#]+)(?:@(?P<version>v[^!#]+)(?P<dereg>!)?|#(?P<stage>[^!#]+)(?P<off>!)?"
    r"|@(?P<deprecated>deprecated)|@(?P<created>created))(?:#(?P<counter>[0-9]+))?$"
)


# --- what hypothesis draws (the strategies are in tests/test_model.py) ------------------


@dataclass(frozen=True)
class Op:
    """One tag (or deletion) of a push, before it meets the repository's state."""

    kind: str  # register release assign unassign deregister deprecate, and the rest above
    artifact: int  # index into ARTIFACTS
    pick: int  # which version / commit / existing tag / malformed form
    stage: str  # assign, unassign
    version: str  # register: next-patch next-minor next-major lower reuse
    target: str  # version new existing
    counter: str  # simple next stale
    time: tuple[str, int]  # (next | same | back | future, seconds)

    def __repr__(self) -> str:
        return (
            f"Op({self.kind} a{self.artifact} pick={self.pick} stage={self.stage} "
            f"ver={self.version} target={self.target} counter={self.counter} "
            f"time={self.time[0]}{self.time[1]:+d})"
        )


@dataclass(frozen=True)
class Step:
    ops: tuple[Op, ...]
    mode: str  # plain atomic sorted refused-branch refused-branch-atomic
    gap: int  # seconds the clock moves on before this push
    other_gto: bool  # the refused main also changes .gto (allows 'prd')
    pack: bool  # git pack-refs --all on the server before this push
    pusher: str = "alice"  # the server's identity for the push (REMOTE_USER)


def expand(ops: tuple[Op, ...]) -> Iterator[Op]:
    """A release is a registration on a new commit and its promotions up to ``stage``,
    pushed together (what a release pipeline does)."""
    for op in ops:
        if op.kind != "release":
            yield op
            continue
        yield replace(op, kind="register", target="new")
        path = STAGES[: STAGES.index(op.stage) + 1] if op.stage in STAGES else ("dev", op.stage)
        for stage in path:
            yield replace(
                op, kind="assign", stage=stage, target="version", pick=0, time=("next", 1)
            )


# --- the server as the model sees it -----------------------------------------------------


@dataclass
class ServerTag:
    name: str
    kind: str  # tag / commit
    target: str  # the commit (peeled)
    time: int | None
    parsed: dict[str, str | None] | None


def server_tag(name: str, kind: str, target: str, time: int | None) -> ServerTag:
    """A tag as the server holds it: ``kind`` "tag" (annotated) or "commit" (lightweight),
    ``target`` the commit it peels to, ``time`` its tagger time (None: lightweight)."""
    match = TAG_RE.match(name)
    return ServerTag(name, kind, target, time, match.groupdict() if match else None)


def semver_key(version: str) -> tuple[int, int, int, int, str]:
    core, _, pre = version[1:].split("+")[0].partition("-")
    major, minor, patch = (int(part) for part in core.split("."))
    return major, minor, patch, 0 if pre else 1, pre


def bump(versions: list[str], how: str) -> str:
    if not versions:
        return {"next-patch": "v0.0.1", "next-minor": "v0.1.0", "next-major": "v1.0.0"}[how]
    major, minor, patch, _, _ = max(semver_key(v) for v in versions)
    if how == "next-major":
        return f"v{major + 1}.0.0"
    if how == "next-minor":
        return f"v{major}.{minor + 1}.0"
    return f"v{major}.{minor}.{patch + 1}"


def clashes(name: str, names: set[str]) -> bool:
    """Whether refs/tags/NAME and another tag clash as file and directory."""
    parts = name.split("/")
    if any("/".join(parts[:end]) in names for end in range(1, len(parts))):
        return True
    return any(other.startswith(name + "/") for other in names)


@dataclass
class Artifact:
    """What the server holds for one artifact, plus what this push adds so far."""

    versions: dict[str, str] = field(default_factory=dict)  # name -> commit, deregistered too
    max_counter: int | None = None
    latest: int | None = None
    pushed_versions: dict[str, str] = field(default_factory=dict)
    pushed_counters: list[int] = field(default_factory=list)


@dataclass
class Planned:
    ref: str  # the tag name it is pushed as
    source: str  # what is pushed: a tag object or a commit id, "" to delete
    force: bool = False


@dataclass
class Expect:
    invalid: list[str] = field(default_factory=list)  # why no tag of this push may land
    valid: bool = True  # nothing but plainly valid registrations: the push must land whole


@dataclass
class Draft:
    """One new tag while it is planned: its counter, its version, why it can never land."""

    op: Op
    artifact: str
    art: Artifact
    taken: set[str]  # tag names on the server or earlier in this push
    counter_required: bool
    when: int
    valid: bool = True  # a plainly valid registration (see Expect.valid)
    reasons: list[str] = field(default_factory=list)
    counters: list[int] = field(default_factory=list)
    version: str | None = None

    def counter(self) -> str:
        art = self.art
        if self.op.counter == "stale":
            stale = art.max_counter
            if stale is None and art.pushed_counters:
                stale = art.pushed_counters[-1]
            if stale is not None:
                self.valid = False
                self.reasons.append(f"counter #{stale} of {self.artifact} is not increasing")
                self.counters.append(stale)
                return f"#{stale}"
        known = [c for c in [art.max_counter, *art.pushed_counters] if c is not None]
        self.counters.append(max(known, default=0) + 1)
        return f"#{self.counters[-1]}"

    def with_counter(self, name: str, simple_ok: bool = True) -> str:
        """``name`` with a counter, or simple when the op asks and the name is free."""
        if name in self.taken or self.op.counter != "simple" or not simple_ok:
            return name + self.counter()
        self.valid = self.valid and not self.counter_required
        return name


@dataclass
class NewTag:
    name: str  # the name in the tag object
    target: str
    lightweight: bool = False
    ref: str = ""  # the name it is pushed as, when another

    def __post_init__(self) -> None:
        self.ref = self.ref or self.name


# --- the oracle ------------------------------------------------------------------------------


class Clock(Protocol):
    """The tagger clock of a sequence (``conftest.World`` is one)."""

    clock: int

    def tick(self, seconds: int = 2) -> int: ...


class Oracle:
    """Plans each push against the server's tags and predicts its outcome. The git it
    needs comes through ``server_tags``, ``commit_tree`` and ``tag_object``."""

    def __init__(
        self,
        policy: tuple[str, str | None, int],
        gto: str,
        commits: list[str],
        start: int,
        clock: Clock,
    ) -> None:
        self.policy_name, self.policy, self.skew = policy
        self.gto = gto
        self.commits = commits  # main's tip first, then its ancestors, then new commits
        self.tip = self.commits[0]
        self.alias = {c: f"c{i}" for i, c in enumerate(self.commits)}
        self.start = start
        self.clock = clock
        self.log: list[str] = []

    # -- what a subclass reaches git with ----------------------------------------------------

    def server_tags(self) -> list[ServerTag]:
        """The tags on the server now."""
        raise NotImplementedError

    def commit_tree(self, parent: str, when: int, message: str) -> str:
        """A new commit on ``parent`` (its tree), dated ``when``: its id."""
        raise NotImplementedError

    def tag_object(self, name: str, target: str, when: int) -> str:
        """An annotated tag object as ``git tag -a`` writes it, without a local ref."""
        raise NotImplementedError

    # -- helpers ---------------------------------------------------------------------------

    def t(self, when: int) -> str:
        return f"T0{when - self.start:+d}"

    def c(self, commit: str) -> str:
        return self.alias.get(commit, commit[:10])

    def new_commit(self, when: int) -> str:
        parent = self.tip
        oid = self.commit_tree(parent, when, f"work {len(self.commits)}")
        self.alias[oid] = f"c{len(self.commits)}"
        self.log.append(
            f"  commit {self.alias[oid]} (parent {self.c(parent)}, date {self.t(when)})"
        )
        self.commits.append(oid)
        self.tip = oid
        return oid

    def artifacts(self, tags: list[ServerTag]) -> dict[str, Artifact]:
        found = {a: Artifact() for a in ARTIFACTS}
        for tag in tags:
            if tag.parsed is None or tag.parsed["artifact"] not in found:
                continue
            art = found[tag.parsed["artifact"] or ""]
            if tag.parsed["counter"] is not None:
                art.max_counter = max(int(tag.parsed["counter"]), art.max_counter or 0)
            if tag.kind == "tag" and tag.time is not None:
                art.latest = tag.time if art.latest is None else max(art.latest, tag.time)
            if tag.parsed["version"] and not tag.parsed["dereg"] and tag.kind == "tag":
                art.versions.setdefault(tag.parsed["version"], tag.target)
        return found

    # -- one push ----------------------------------------------------------------------------

    def plan(self, step: Step) -> tuple[list[Planned], list[str], Expect]:
        """The concrete refs of ``step`` against the server as it is now, and what to expect."""
        tags = self.server_tags()
        arts = self.artifacts(tags)
        names = {t.name for t in tags}
        planned: list[Planned] = []
        lines: list[str] = []
        expect = Expect()
        prev = self.clock.tick(step.gap)
        for op in expand(step.ops):
            mode, amount = op.time
            if mode == "next":
                when = prev = prev + amount
            elif mode == "same":
                when = prev
            elif mode == "back":
                when = prev - amount
            else:
                when = int(time.time()) + amount
            artifact = ARTIFACTS[op.artifact]
            touched = {p.ref for p in planned}
            draft = Draft(
                op,
                artifact,
                arts[artifact],
                names | touched,
                self.policy_name == "counter+registration",
                when,
            )
            if mode == "future":
                draft.reasons.append(f"tagger date {amount}s in the future")
            latest = draft.art.latest
            if mode == "back" and latest is not None and when < latest - self.skew:
                draft.reasons.append(
                    f"tagger date more than {self.skew}s behind {artifact}'s latest event"
                )
            if op.kind in ("delete", "move"):
                victims = sorted(t.name for t in tags if t.name not in touched)
                if victims:
                    expect.valid = False
                    planned.append(
                        self.change(op, victims[op.pick % len(victims)], when, expect, lines)
                    )
                continue
            tag = self.new_tag(draft, prev)
            if tag.ref in draft.taken:
                continue
            if clashes(tag.ref, draft.taken):
                draft.valid = False
            draft.art.pushed_counters += draft.counters
            if draft.version is not None:
                draft.art.pushed_versions.setdefault(draft.version, tag.target)
            expect.invalid += draft.reasons
            expect.valid = expect.valid and draft.valid
            source = tag.target if tag.lightweight else self.tag_object(tag.name, tag.target, when)
            planned.append(Planned(tag.ref, source))
            kind = "lightweight tag" if tag.lightweight else "tag"
            shown = tag.name if tag.ref == tag.name else f"{tag.name} pushed as {tag.ref}"
            lines.append(f"  {kind} {shown} -> {self.c(tag.target)} at {self.t(when)}")
        self.clock.clock = max(self.clock.clock, prev)
        if not planned:
            expect.valid = False
        return planned, lines, expect

    def change(self, op: Op, victim: str, when: int, expect: Expect, lines: list[str]) -> Planned:
        """Delete or move an existing tag."""
        gto_shaped = "@" in victim or "#" in victim
        if op.kind == "delete":
            lines.append(f"  delete {victim}")
            if gto_shaped:
                expect.invalid.append(f"deletes {victim}")
            return Planned(victim, "")
        target = self.commits[op.pick % len(self.commits)]
        force = op.pick % 2 == 0  # unforced: the client refuses it by itself
        lines.append(
            f"  move{' (forced)' if force else ''} {victim} -> {self.c(target)} at {self.t(when)}"
        )
        if gto_shaped and force:
            expect.invalid.append(f"moves {victim}")
        return Planned(victim, self.tag_object(victim, target, when), force)

    def version_target(self, draft: Draft, prev: int) -> tuple[str | None, str]:
        """A version (name, commit) of the artifact, or a commit without one."""
        op, art = draft.op, draft.art
        pool = list(art.versions.items()) + list(art.pushed_versions.items())
        if op.target == "version" and art.pushed_versions and op.pick < 3:
            return pool[-1]  # register and promote in one push: the version just registered
        if op.target == "version" and pool:
            return pool[op.pick % len(pool)]
        if op.target == "existing":
            return None, self.commits[op.pick % len(self.commits)]
        return None, self.new_commit(prev)

    def new_tag(self, draft: Draft, prev: int) -> NewTag:
        op, artifact, art = draft.op, draft.artifact, draft.art
        if op.kind in ("register", "lightweight"):
            used = list(art.versions) + list(art.pushed_versions)
            how = op.version if op.kind == "register" else "next-patch"
            if how == "reuse" and used:
                version = used[op.pick % len(used)]
                draft.reasons.append(f"reuses {artifact}@{version}")
            elif how == "lower" and used:
                core = max(used, key=semver_key).split("-")[0].split("+")[0]
                version = next(f"{core}-rc.{n}" for n in count(1) if f"{core}-rc.{n}" not in used)
            else:
                version = bump(used, how if how.startswith("next") else "next-patch")
            draft.version = version
            draft.valid = (
                draft.valid
                and op.kind == "register"
                and op.time[0] == "next"
                and version not in used
                and how.startswith("next")
                and op.target != "existing"
            )
            if op.target == "existing":
                target = self.commits[op.pick % len(self.commits)]
            else:
                target = self.new_commit(prev)
            lightweight = op.kind == "lightweight"
            name = draft.with_counter(f"{artifact}@{version}", simple_ok=not lightweight)
            if lightweight:
                draft.reasons.append(f"lightweight {name}")
            return NewTag(name, target, lightweight=lightweight)
        draft.valid = False  # only registrations are judged plainly valid
        if op.kind in ("assign", "unassign"):
            _, target = self.version_target(draft, prev)
            name = draft.with_counter(
                f"{artifact}#{op.stage}{'!' if op.kind == 'unassign' else ''}"
            )
            if op.stage == "prd" or (op.stage == "prod/eu" and "prod/eu" not in self.gto):
                draft.reasons.append(f"stage {op.stage} is not in .gto")
            return NewTag(name, target)
        if op.kind == "deregister":
            version, target = self.version_target(draft, prev)
            return NewTag(draft.with_counter(f"{artifact}@{version or 'v99.0.0'}!"), target)
        if op.kind == "deprecate":
            _, target = self.version_target(draft, prev)
            return NewTag(draft.with_counter(f"{artifact}@deprecated"), target)
        if op.kind == "created":
            name = f"{artifact}@created"
            name += "" if name not in draft.taken else f"#{op.pick + 100}"
            draft.reasons.append(f"reserved {name}")
            return NewTag(name, self.commits[0])
        if op.kind == "malformed":
            name = MALFORMED[op.pick % len(MALFORMED)].format(a=artifact)
            draft.reasons.append(f"malformed {name}")
            return NewTag(name, self.commits[0])
        if op.kind == "misnamed":  # gto reads the object's name, not the ref's
            _, target = self.version_target(draft, prev)
            name = draft.with_counter(f"{artifact}#prod")
            ref = name.replace("#prod", "#dev", 1)
            draft.reasons.append(f"object {name} pushed as {ref}")
            return NewTag(name, target, ref=ref)
        if op.kind == "plain":  # not GTO's business; 'churn' clashes with churn/x
            draft.reasons.clear()  # any tagger date will do
            name = "churn" if op.pick % 2 == 0 else f"release-{op.pick}"
            return NewTag(name, self.commits[op.pick % len(self.commits)])
        if op.kind == "long":  # one path component beyond what a file system takes
            draft.reasons.append("a name too long to store")
            return NewTag(f"{'m' * 251}@v1.0.0", self.commits[0])
        raise AssertionError(op.kind)


def weighted(*pairs: tuple[object, int]) -> Any:
    """A hypothesis strategy drawing each value as often as its weight says."""
    from hypothesis import strategies as st

    return st.sampled_from([value for value, weight in pairs for _ in range(weight)])
