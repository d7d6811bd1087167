"""Model-based test: generated sequences of pushes against a real bare server.

Hypothesis draws a setup (a policy on main or none, a ``.gto`` with or without the stage
``prod/eu``, ``receive.denyDeletes`` on or off) and a short sequence of pushes. A push
holds a few operations:

- the everyday: register (``A@vX.Y.Z``, with or without ``#N``), assign and unassign
  ``dev``/``staging``/``prod``, deregister, deprecate, a release (register and promote
  in one push); on the version's commit, a new commit or any existing one; tagger times
  that move on, repeat the same second, or lag a few seconds;
- the rest: a stale counter, a reused or lower version, the stages ``prd`` and
  ``prod/eu``, ``@created``, malformed names, lightweight tags, a tag object pushed under
  another name, a name too long for the file system, deleting or moving (forced or not)
  an existing tag, plain tags (``churn`` next to the artifact ``churn/x``: a ref
  file/directory clash), tagger times back-dated by seconds or minutes or far in the
  future;

and goes out with the real git client as one push, as an ``--atomic`` push, in name
order as ``git push --tags`` sends tags (``churn#prod#4`` before ``churn#staging#3``
before ``churn@v1.0.0#2``), or together with a ``+OTHER:main`` the server refuses
(``receive.denyNonFastForwards``; OTHER may carry a ``.gto`` that allows ``prd``),
atomic or not; between pushes the server's refs are sometimes packed. The server has
gtoguard's pre-receive hook and its landing guard (``gtoguard install --force``), and a
server policy ``tags: {max_age: off}``: a sequence spans hours of tagger time, which the
default would decline as too old (``tests/test_e2e_hooks.py`` tests that bound). Tag objects are written with ``git mktag`` and pushed by object
id, so the clone never holds a ref that would clash with the server's.

After every push:

1. git's report per ref holds: a rejected ref (``!``) is unchanged on the server, an
   updated one holds what was pushed, no other ref moved, a push the hook declined
   changed nothing; a push the landing guard stopped midway (git dies there and reports
   nothing) landed exactly the updates before the refused one; a push holding a tag
   that can never be valid (``Expect.invalid``) landed none of its tags; a push of
   plainly valid registrations landed whole;
2. ``gtoguard check --all --repo SERVER`` exits 0 (everything that landed is clean);
3. on a fresh clone of the server ``gto show --json`` succeeds and equals
   ``gtoguard show --json``, and ``gto history --json`` succeeds;
4. under the policy where only alice may change prod (and tags may be deleted), a push
   by bob never changes what ``gto show`` shows in prod: no stage's holder changes
   unless that stage's rules were applied to the push that changed it, whatever the
   route (assigning, unassigning, deregistering, deprecating, making a deprecated
   artifact active again, deleting a tag).

The oracle that plans each push and predicts its outcome is ``tests/model_oracle.py``
(its own tests: ``tests/test_model_oracle.py``); this module draws the sequences, drives
git and checks the properties.

A failure prints the sequence so far as concrete steps: commits (``c3``), tags with
their targets and tagger times relative to the start (``T0+120``), the refspecs, and the
server's answer to each push.

The suite runs a small sample with a fixed seed (about 25-35 s on 2 cores). The long run,
with fresh randomness each time (``GTOGUARD_MODEL_PUSHES`` sets the longest sequence,
default 6; ``GTOGUARD_MODEL_VERBOSE=1`` with ``-s`` prints every sequence)::

    GTOGUARD_MODEL_EXAMPLES=1000 .venv/bin/python -m pytest -q -p no:cacheprovider \\
        tests/test_model.py --hypothesis-show-statistics
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from itertools import count
from pathlib import Path

from hypothesis import HealthCheck, event, example, given, note, settings
from hypothesis import strategies as st

from model_oracle import (
    GTO_FILES,
    LOCKED,
    POLICIES,
    STAGES,
    Expect,
    Op,
    Oracle,
    ServerTag,
    Step,
    server_tag,
    weighted,
)

from conftest import BIN, World, git, gto_in_process, gtoguard, make_world, run_gto

# read at import: the autouse git_env fixture clears GTOGUARD_* before each test
EXAMPLES = int(os.environ.get("GTOGUARD_MODEL_EXAMPLES", "0") or 0)
LONG_RUN = EXAMPLES > 0
MAX_PUSHES = int(os.environ.get("GTOGUARD_MODEL_PUSHES", "6"))
VERBOSE = bool(os.environ.get("GTOGUARD_MODEL_VERBOSE"))

TAGGER = "Test User <test@example.com>"
ABORTED = "ref updates aborted by hook"  # git's words when reference-transaction refuses


# --- what hypothesis draws ---------------------------------------------------------------


NEXT = st.tuples(st.just("next"), st.integers(1, 5))
SAME = st.tuples(st.just("same"), st.just(0))
TIMES = st.one_of(
    NEXT,
    NEXT,
    NEXT,
    SAME,
    st.tuples(st.just("back"), st.integers(1, 40)),  # a few seconds
    st.tuples(st.just("back"), st.integers(60, 900)),  # minutes: inside or beyond the skew
    st.tuples(st.just("future"), st.integers(1_000, 10_000_000)),
)

# the everyday: valid names, fresh counters, the clock moving on (the history grows)
CLEAN_OPS = st.builds(
    Op,
    kind=weighted(
        ("register", 4),
        ("release", 2),
        ("assign", 6),
        ("unassign", 2),
        ("deregister", 1),
        ("deprecate", 1),
    ),
    artifact=weighted((0, 4), (1, 1), (2, 1)),
    pick=st.integers(0, 7),
    stage=st.sampled_from(STAGES),
    version=weighted(("next-patch", 4), ("next-minor", 2), ("next-major", 1)),
    target=weighted(("version", 8), ("new", 1), ("existing", 1)),
    counter=weighted(("simple", 1), ("next", 2)),
    time=st.one_of(NEXT, NEXT, SAME, st.tuples(st.just("back"), st.integers(1, 40))),
)

WILD_OPS = st.builds(
    Op,
    kind=weighted(
        ("register", 6),
        ("release", 1),
        ("assign", 6),
        ("unassign", 2),
        ("deregister", 2),
        ("deprecate", 2),
        ("created", 1),
        ("malformed", 1),
        ("lightweight", 1),
        ("delete", 2),
        ("move", 1),
        ("misnamed", 1),
        ("plain", 2),
        ("long", 1),
    ),
    artifact=weighted((0, 3), (1, 1), (2, 2)),
    pick=st.integers(0, 7),
    stage=weighted(("dev", 4), ("staging", 3), ("prod", 3), ("prd", 1), ("prod/eu", 1)),
    version=weighted(
        ("next-patch", 4), ("next-minor", 2), ("next-major", 1), ("lower", 1), ("reuse", 1)
    ),
    target=weighted(("version", 6), ("new", 2), ("existing", 2)),
    counter=weighted(("simple", 3), ("next", 5), ("stale", 1)),
    time=TIMES,
)

# sorted: the tags go in name order, as `git push --tags` sends them (not atomic)
MODES = weighted(
    ("plain", 4), ("atomic", 2), ("sorted", 3), ("refused-branch", 2), ("refused-branch-atomic", 1)
)
PACK = weighted((False, 7), (True, 1))
PUSHERS = weighted(("alice", 1), ("bob", 1))

STEPS = st.one_of(
    st.builds(
        Step,
        ops=st.lists(CLEAN_OPS, min_size=1, max_size=3).map(tuple),
        mode=MODES,
        gap=st.integers(5, 200),
        other_gto=st.booleans(),
        pack=PACK,
        pusher=PUSHERS,
    ),
    st.builds(
        Step,
        ops=st.lists(st.one_of(CLEAN_OPS, WILD_OPS), min_size=1, max_size=4).map(tuple),
        mode=MODES,
        gap=st.integers(5, 200),
        other_gto=st.booleans(),
        pack=PACK,
        pusher=PUSHERS,
    ),
)

SETUPS = st.tuples(st.sampled_from(POLICIES), st.sampled_from(GTO_FILES), st.booleans())


# --- the server as the model sees it -----------------------------------------------------


def server_refs(world: World) -> dict[str, str]:
    out = git("for-each-ref", "--format=%(refname) %(objectname)", cwd=world.server).stdout
    return dict(line.split(" ", 1) for line in out.splitlines())  # type: ignore[misc]


def server_tags(world: World) -> list[ServerTag]:
    fmt = "%(refname:strip=2)%00%(objecttype)%00%(objectname)%00%(*objectname)%00%(taggerdate:unix)"
    out = git("for-each-ref", f"--format={fmt}", "refs/tags", cwd=world.server).stdout
    found = []
    for line in out.splitlines():
        name, kind, oid, peeled, when = line.split("\x00")
        found.append(server_tag(name, kind, peeled or oid, int(when) if when else None))
    return found


# --- one example ---------------------------------------------------------------------------


class Run(Oracle):
    """One example: the oracle (tests/model_oracle.py) on a real server and clone."""

    def __init__(self, root: Path, setup: tuple[tuple[str, str | None, int], str, bool]) -> None:
        policy, gto, deny_deletes = setup
        self.world = make_world(root, gto=gto)
        # the sequences span more time than tags.max_age allows a push to be behind the
        # server's clock: the server takes old history (the admin's switch for a mirror),
        # and the clock runs hours behind the real one, so it never runs ahead of it
        self.world.set_server_policy("tags: {max_age: off}\n")
        self.world.follow = False
        self.world.clock = start = int(time.time()) - 20_000
        server = self.world.server
        git("config", "receive.denyNonFastForwards", "true", cwd=server)
        if deny_deletes:
            git("config", "receive.denyDeletes", "true", cwd=server)
        # make_world installs pre-receive; `install --force` adds the landing guard
        installed = gtoguard("install", "--repo", str(server), "--force")
        assert installed.returncode == 0, installed.stdout + installed.stderr
        self.hooks = sorted(
            p.name for p in (server / "hooks").iterdir() if not p.name.endswith(".sample")
        )
        if policy[1] is not None:
            self.world.set_policy(policy[1])
        commits = git("rev-list", "main", cwd=self.world.clone).stdout.split()
        super().__init__(policy, gto, commits, start, clock=self.world)
        self.log = [
            f"setup: policy {self.policy_name} {self.policy!r}; .gto {self.gto!r}; "
            f"receive.denyNonFastForwards true; receive.denyDeletes {deny_deletes}; "
            f"server hooks {self.hooks}; server policy tags.max_age: off",
            f"T0 = {self.start}; c0 = main's tip, c1... its ancestors (committed at real time)",
        ]
        self.verified: dict[str, str] | None = None
        self.prod: dict[str, object] = {}  # artifact -> the version gto shows in prod
        self.readers = count()

    # -- the oracle's git --------------------------------------------------------------------

    def server_tags(self) -> list[ServerTag]:
        return server_tags(self.world)

    def commit_tree(self, parent: str, when: int, message: str) -> str:
        env = {"GIT_COMMITTER_DATE": f"@{when} +0000", "GIT_AUTHOR_DATE": f"@{when} +0000"}
        return git(
            "commit-tree",
            f"{parent}^{{tree}}",
            "-p",
            parent,
            "-m",
            message,
            cwd=self.world.clone,
            env=env,
        ).stdout.strip()

    # -- helpers ---------------------------------------------------------------------------

    def other_main(self, when: int, with_prd: bool) -> str:
        """A commit the server must refuse as main: a sibling of main's tip (or a root)."""
        clone, main = self.world.clone, self.commits[0]
        parents = git("rev-list", "--parents", "-n", "1", main, cwd=clone).stdout.split()[1:]
        index = {"GIT_INDEX_FILE": str(self.world.root / "other.index")}
        git("read-tree", main, cwd=clone, env=index)
        if with_prd:
            blob = git(
                "hash-object",
                "-w",
                "--stdin",
                cwd=clone,
                input=b"stages: [dev, staging, prod, prd]\n",
            ).stdout.strip()
            git("update-index", "--add", "--cacheinfo", f"100644,{blob},.gto", cwd=clone, env=index)
        tree = git("write-tree", cwd=clone, env=index).stdout.strip()
        env = {"GIT_COMMITTER_DATE": f"@{when} +0000", "GIT_AUTHOR_DATE": f"@{when} +0000"}
        args = [
            "commit-tree",
            tree,
            "-m",
            "other main",
            *[a for p in parents[:1] for a in ("-p", p)],
        ]
        oid = git(*args, cwd=clone, env=env).stdout.strip()
        self.alias[oid] = "OTHER" + ("(.gto allows prd)" if with_prd else "")
        return oid

    def tag_object(self, name: str, target: str, when: int) -> str:
        """An annotated tag object as ``git tag -a`` writes it, without a local ref."""
        body = (
            f"object {target}\ntype commit\ntag {name}\ntagger {TAGGER} {when} +0000\n\n"
            f"tag {name}\n"
        )
        return git("mktag", cwd=self.world.clone, input=body.encode()).stdout.strip()

    def push(self, step: Step) -> None:
        world = self.world
        if step.pack:
            git("pack-refs", "--all", cwd=world.server)
            self.log.append("git pack-refs --all (server)")
        planned, lines, expect = self.plan(step)
        if self.policy_name == LOCKED and step.pusher != "alice":
            expect.valid = False  # a registration may make a deprecated artifact active again
            lines.append(f"  pushed by {step.pusher}")
        if step.mode == "sorted":
            planned.sort(key=lambda p: p.ref.encode())
            lines.append(f"  sent in name order: {', '.join(p.ref for p in planned)}")
        refspecs = [f"{'+' if p.force else ''}{p.source}:refs/tags/{p.ref}" for p in planned]
        wanted: dict[str, str | None] = {f"refs/tags/{p.ref}": p.source or None for p in planned}
        options = ["--atomic"] if step.mode.endswith("atomic") else []
        if step.mode.startswith("refused-branch"):
            other = self.other_main(world.clock, step.other_gto)
            refspecs.append(f"+{other}:refs/heads/main")
            wanted["refs/heads/main"] = other
            lines.append(f"  branch +{self.c(other)}:main (git refuses it: non-fast-forward)")
            expect.valid = False
        if not refspecs:
            return
        before = server_refs(world)
        prod_before = self.prod
        done = git(
            "push",
            "--porcelain",
            "--no-verify",
            *options,
            "origin",
            *refspecs,
            cwd=world.clone,
            check=False,
            env={"REMOTE_USER": step.pusher},
        )
        output = done.stdout + done.stderr
        after = server_refs(world)
        verdict = (
            "declined by the hook"
            if "push declined" in output
            else "stopped midway by the landing guard"
            if ABORTED in output
            else "accepted"
            if done.returncode == 0
            else "partly refused by git"
        )
        event(f"push {verdict}")
        self.log.append(
            f"push {' '.join(options) or '(not atomic)'}: exit {done.returncode}, {verdict}"
        )
        self.log.extend(lines)
        self.log.extend(
            "    | " + line.strip()
            for line in output.splitlines()
            if line.strip() and not line.startswith(("To ", "Done"))
        )
        if ABORTED in output:
            landed = [r for r in wanted if after.get(r) != before.get(r)]
            self.log.append(f"  landed: {', '.join(landed) or 'nothing'}")
        note("\n".join(self.log))
        order = sorted(r for r in wanted if r in before) + [r for r in wanted if r not in before]
        self.check_refs(done.returncode, output, before, after, wanted, expect, order)
        self.check_server(after)
        if self.policy_name == LOCKED and step.pusher != "alice" and self.prod != prod_before:
            self.fail(
                "property 4: bob changed what gto shows in prod, which only alice may change\n"
                f"before: {prod_before}\nafter:  {self.prod}\n{output}"
            )

    # -- the properties ------------------------------------------------------------------------

    def fail(self, message: str) -> None:
        raise AssertionError(message + "\n\nthe sequence so far:\n" + "\n".join(self.log))

    def check_refs(
        self,
        code: int,
        output: str,
        before: dict[str, str],
        after: dict[str, str],
        wanted: dict[str, str | None],
        expect: Expect,
        order: list[str],
    ) -> None:
        """Property 1: what git reported is what the server holds. ``order``: the order
        receive-pack gets the updates (existing refs as advertised, then new ones)."""
        for ref in set(before) | set(after):
            if ref not in wanted and before.get(ref) != after.get(ref):
                self.fail(f"{ref} was not pushed, yet it changed on the server:\n{output}")
        if "Traceback" in output or "internal-error" in output:
            self.fail(f"gtoguard failed:\n{output}")
        if ABORTED in output:
            # the landing guard refused a transaction: git 2.39 dies there, so the client
            # gets no report; what landed must be the updates before the refused one
            if code == 0:
                self.fail(f"the landing guard stopped the push, yet git push exited 0:\n{output}")
            landed = [ref for ref in order if after.get(ref) != before.get(ref)]
            for ref in landed:
                if after.get(ref) != wanted[ref]:
                    self.fail(f"{ref} holds {after.get(ref)}, pushed was {wanted[ref]}:\n{output}")
            tags = [ref for ref in order if ref.startswith("refs/tags/")]
            if landed != tags[: len(landed)]:
                self.fail(
                    f"the landing guard stopped the push, and what landed ({landed}) is "
                    f"not the updates before the refused one (order {tags}):\n{output}"
                )
        else:
            self.reported(code, output, before, after, wanted)
        if expect.invalid:
            landed = [
                ref
                for ref in wanted
                if ref.startswith("refs/tags/") and after.get(ref) != before.get(ref)
            ]
            if landed:
                self.fail(
                    f"{landed} landed from a push with a tag that is never valid "
                    f"({'; '.join(expect.invalid)}):\n{output}"
                )
        elif expect.valid and code != 0:
            self.fail(f"a push of plainly valid registrations was refused:\n{output}")

    def reported(
        self,
        code: int,
        output: str,
        before: dict[str, str],
        after: dict[str, str],
        wanted: dict[str, str | None],
    ) -> None:
        """git's porcelain report per ref agrees with the server."""
        flags: dict[str, str] = {}
        for line in output.splitlines():
            match = re.match(r"^([ +\-*!=])\t([^\t]*)\t(.*)$", line)
            if match:
                flags[match.group(2).rpartition(":")[2]] = match.group(1)
        missing = set(wanted) - set(flags)
        if missing:
            self.fail(f"git reported nothing for {sorted(missing)}:\n{output}")
        declined = "pre-receive hook declined" in output or "push declined" in output
        for ref, flag in flags.items():
            if flag == "!" and after.get(ref) != before.get(ref):
                self.fail(f"{ref} was refused, yet it changed on the server:\n{output}")
            if flag not in "!=" and after.get(ref) != wanted.get(ref):
                self.fail(
                    f"{ref} was reported updated, yet the server holds {after.get(ref)}, "
                    f"not {wanted.get(ref)}:\n{output}"
                )
            if declined and flag != "!":
                self.fail(f"the hook declined the push, yet {ref} was not refused:\n{output}")
        if "!" in flags.values() and code == 0:
            self.fail(f"a ref was refused, yet git push exited 0:\n{output}")

    def check_server(self, after: dict[str, str]) -> None:
        """Properties 2 and 3: the audit, and gto on a fresh clone (in parallel)."""
        if after == self.verified:
            return  # nothing landed since the last check: the same answers
        world = self.world
        reader = world.root / f"reader-{next(self.readers)}"
        git("clone", "-q", str(world.server), str(reader), cwd=world.root)
        env = {**os.environ, "GTO_EMOJIS": "false"}

        def start(args: list[str], cwd: Path) -> subprocess.Popen[str]:
            return subprocess.Popen(
                args, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )

        jobs = {
            "gtoguard check --all": start(
                [str(BIN / "gtoguard"), "check", "--all", "--repo", str(world.server)], world.root
            ),
        }
        results = {}
        for args in (["show", "--json"], ["history", "--json"]):  # gto, in this process
            done = gto_in_process(args, reader)
            results[f"gto {' '.join(args)}"] = (done.returncode, done.stdout, done.stderr)
        for name, job in jobs.items():
            out, err = job.communicate()
            results[name] = (job.returncode, out, err)
        ours = gtoguard("show", "--json", "--repo", str(reader))
        code, out, err = results["gtoguard check --all"]
        if code != 0:
            self.fail(
                f"property 2: the audit finds what the hook let in (exit {code}):\n{out}{err}"
            )
        for name in ("gto show --json", "gto history --json"):
            code, out, err = results[name]
            if code != 0:
                self.fail(f"property 3: {name} fails on a fresh clone (exit {code}):\n{out}{err}")
        if ours.returncode != 0:
            self.fail(f"property 3: gtoguard show --json fails:\n{ours.stdout}{ours.stderr}")
        theirs = json.loads(results["gto show --json"][1])
        if json.loads(ours.stdout) != theirs:
            self.fail(
                "property 3: gtoguard show --json differs from gto show --json\n"
                f"gto:      {json.dumps(theirs, sort_keys=True)}\n"
                f"gtoguard: {json.dumps(json.loads(ours.stdout), sort_keys=True)}"
            )
        shutil.rmtree(reader, ignore_errors=True)
        self.verified = after
        self.prod = {
            name: (row.get("stage") or {}).get("prod")
            for name, row in theirs.items()
            if (row.get("stage") or {}).get("prod") is not None
        }


# --- the test -------------------------------------------------------------------------------

_examples = count()


@settings(
    max_examples=EXAMPLES or 3,
    derandomize=not LONG_RUN,  # the suite: the same sample every run
    deadline=None,
    database=None,
    print_blob=LONG_RUN,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
@example(  # always: a `git push --tags` the landing guard stops midway, a same-second batch
    setup=(POLICIES[0], GTO_FILES[0], False),
    steps=[
        Step(
            (
                Op("register", 0, 0, "dev", "next-patch", "new", "next", ("next", 1)),
                Op("register", 0, 0, "dev", "next-patch", "new", "next", ("next", 1)),
            ),
            "plain",
            10,
            False,
            False,
        ),
        Step(
            (
                Op("assign", 0, 0, "dev", "next-patch", "version", "next", ("next", 1)),
                Op("unassign", 0, 0, "dev", "next-patch", "version", "next", ("next", 1)),
                Op("assign", 0, 1, "dev", "next-patch", "version", "simple", ("next", 1)),
            ),
            "sorted",
            10,
            False,
            False,
        ),
        Step(
            (
                Op("assign", 0, 1, "staging", "next-patch", "version", "next", ("same", 0)),
                Op("unassign", 0, 1, "dev", "next-patch", "version", "next", ("same", 0)),
                Op("deprecate", 0, 1, "dev", "next-patch", "version", "simple", ("back", 20)),
            ),
            "refused-branch",
            10,
            True,
            True,
        ),
    ],
)
@example(  # always: bob, who may not change prod, after alice deprecated: a registration
    # (makes it active again), then deleting tags under delete: allow
    setup=(POLICIES[4], GTO_FILES[0], False),
    steps=[
        Step(
            (Op("release", 0, 0, "prod", "next-patch", "new", "next", ("next", 1)),),
            "plain",
            10,
            False,
            False,
            "alice",
        ),
        Step(
            (Op("deprecate", 0, 0, "dev", "next-patch", "version", "next", ("next", 1)),),
            "plain",
            10,
            False,
            False,
            "alice",
        ),
        Step(
            (Op("register", 0, 0, "dev", "next-patch", "new", "next", ("next", 1)),),
            "plain",
            10,
            False,
            False,
            "bob",
        ),
        Step(
            (
                Op("delete", 0, 4, "dev", "next-patch", "version", "next", ("next", 1)),
                Op("delete", 0, 3, "dev", "next-patch", "version", "next", ("next", 1)),
            ),
            "plain",
            10,
            False,
            False,
            "bob",
        ),
    ],
)
@given(setup=SETUPS, steps=st.lists(STEPS, min_size=1, max_size=MAX_PUSHES))
def test_generated_push_sequences_keep_the_server_clean(
    tmp_path: Path, setup: tuple[tuple[str, str | None, int], str, bool], steps: list[Step]
) -> None:
    root = tmp_path / f"example-{next(_examples)}"
    root.mkdir()
    try:
        run = Run(root, setup)
        for step in steps:
            run.push(step)
        if VERBOSE:
            print("\n".join(run.log), end="\n\n")
    finally:
        shutil.rmtree(root, ignore_errors=True)


# --- what the model found ----------------------------------------------------------------


def test_a_same_second_stage_tie_is_broken_as_gto_breaks_it(tmp_path: Path) -> None:
    """Two commits without a registered version get 'dev' in the same tagger second. gto
    shows the one whose version was "created" first, and for a version with no
    registration gto's creation time is the newest of its stage events *and its commit's
    date* (its authoring event skips events named "enrichment", but the commit event is
    named "commit"). main's tip is committed an hour after the tags' time: gto shows
    the other commit in dev."""
    world = make_world(tmp_path)
    when = world.tick(5)
    tip = git(
        "commit-tree",
        "HEAD^{tree}",
        "-p",
        "HEAD",
        "-m",
        "tip",
        cwd=world.clone,
        env={"GIT_COMMITTER_DATE": f"@{when + 3600} +0000"},
    ).stdout.strip()  # later
    assert world.push(f"{tip}:refs/heads/main").ok
    older = git(
        "commit-tree",
        "HEAD^{tree}",
        "-p",
        "HEAD",
        "-m",
        "older",
        cwd=world.clone,
        env={"GIT_COMMITTER_DATE": f"@{when} +0000"},
    ).stdout.strip()
    world.tag("churn#dev", tip, when=when)
    world.tag("churn#dev#1", older, when=when)
    assert world.push_tags("churn#dev", "churn#dev#1").ok
    reader = tmp_path / "reader"
    git("clone", "-q", str(world.server), str(reader), cwd=tmp_path)
    theirs = json.loads(run_gto("show", "--json", cwd=reader).stdout)
    assert theirs["churn"]["stage"]["dev"] == older
    ours = gtoguard("show", "--json", "--repo", str(reader), cwd=tmp_path)
    assert json.loads(ours.stdout) == theirs
