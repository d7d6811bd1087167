"""The shims: one template gives all three, byte for byte, and their fast path in sh lets
through only what gtoguard itself would (it may hand over more, never less)."""

from __future__ import annotations

import collections
import io
import os
import re
import shutil
import string
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from gtoguard.errors import EXIT_OK
from gtoguard.model.refupdate import BadHookInput, parse_pre_push, parse_pre_receive
from gtoguard.registry import judge
from gtoguard.server import shimtemplate
from gtoguard.server.install import install, shim_text
from gtoguard.server.landing import Landing
from gtoguard.server.pushcheck import run_hook
from gtoguard.server.shimtemplate import HOOKS, TemplateError, render

from conftest import REPO, git

EXAMPLES = 120

TEMPLATE = shimtemplate.read_template(REPO / "hooks")


@pytest.mark.parametrize("hook", HOOKS)
def test_each_committed_shim_is_what_the_template_gives(hook: str) -> None:
    assert (REPO / "hooks" / hook).read_bytes() == render(TEMPLATE, hook).encode()


def test_a_shim_edited_alone_is_caught_and_rewritten(tmp_path: Path) -> None:
    hooks = shutil.copytree(REPO / "hooks", tmp_path / "hooks")
    assert shimtemplate.stale(hooks) == []
    with open(hooks / "pre-push", "ab") as shim:
        shim.write(b"# a fix made here only\n")
    assert shimtemplate.stale(hooks) == ["pre-push"]
    assert shimtemplate.write(hooks) == ["pre-push"]
    assert shimtemplate.stale(hooks) == []
    assert (hooks / "pre-push").read_bytes() == (REPO / "hooks" / "pre-push").read_bytes()


@pytest.mark.parametrize("hook", HOOKS)
def test_install_writes_the_template_with_the_interpreter(hook: str) -> None:
    rendered = render(TEMPLATE, hook)
    installed = shim_text(hook, "/opt/venv/bin/python3")
    assert installed == rendered.replace(
        "GTOGUARD_PYTHON=''", "GTOGUARD_PYTHON=/opt/venv/bin/python3"
    )
    assert "@HOOK@" not in installed and "#%" not in installed
    assert f"# gtoguard-shim: {hook}\n" in installed


@pytest.mark.parametrize(
    ("template", "hook", "text"),
    [
        ("a\n#%if pre-push\nb\n#%end\nc\n", "pre-push", "a\nb\nc\n"),
        ("a\n#%if pre-push\nb\n#%end\nc\n", "pre-receive", "a\nc\n"),
        ("#%if pre-push\nb\n#%else\nd\n#%end\n", "reference-transaction", "d\n"),
        (
            "#%if pre-push pre-receive\n#%if pre-push\nb\n#%else\nr\n#%end\n#%end\n",
            "pre-receive",
            "r\n",
        ),
        ("#% the template's own note\nx=@HOOK@\n#%\n", "pre-push", "x=pre-push\n"),
        ("no newline at the end", "pre-push", "no newline at the end"),
    ],
)
def test_blocks_keep_the_lines_of_their_hooks(template: str, hook: str, text: str) -> None:
    assert render(template, hook) == text


@pytest.mark.parametrize(
    ("template", "said"),
    [
        ("#%if pre-pus\nb\n#%end\n", "line 1: #%if names no known hook"),
        ("#%if\nb\n#%end\n", "line 1: #%if names no known hook"),
        ("b\n#%end\n", "line 2: not a directive here"),
        ("#%if pre-push\n#%else\n#%else\n#%end\n", "line 3: a second #%else"),
        ("#%if pre-push\nb\n", "ends inside an #%if block"),
        ("#%endif\n", "line 1: not a directive here"),
    ],
)
def test_a_template_whose_blocks_do_not_add_up_says_where(template: str, said: str) -> None:
    with pytest.raises(TemplateError, match=said.replace("#", "\\#")):
        render(template, "pre-push")


# The fast path in sh and Python's early return (server/hooks.py ``run_hook``) must agree:
# the shim may hand Python more than it needs (safe), never less. Random hook input goes
# to the installed shim, whose interpreter is a recorder (did the shim hand over?), and to
# ``run_hook`` in this process, stopped where it would start judging (did it need to?).

ZERO = "0" * 40
WHEN = {"GIT_AUTHOR_DATE": "@1700000000 +0000", "GIT_COMMITTER_DATE": "@1700000000 +0000"}
RECORDER = '#!/bin/sh\nprintf "%s\\n" "$*" > "$0.args"\ncat > "$0.stdin"\n'


class Handed(Exception):
    """Python went past its early return: it would judge the push."""


@dataclass
class Scene:
    server: Path
    clone: Path
    recorder: Path
    oids: dict[str, str]


def _commit(work: Path, name: str, files: dict[str, str]) -> str:
    git("checkout", "-q", "-B", name, "main", cwd=work)
    for path, text in files.items():
        (work / path).write_text(text, encoding="utf-8")
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", name, cwd=work, env=WHEN)
    return git("rev-parse", "HEAD", cwd=work).stdout.strip()


def _literal(work: Path, kind: str, text: str) -> str:
    done = subprocess.run(
        ["git", "hash-object", "--literally", "-w", "-t", kind, "--stdin"],
        cwd=work,
        input=text.encode(),
        capture_output=True,
        check=True,
    )
    return done.stdout.decode().strip()


def build_scene(root: Path) -> Scene:
    """A registry's server (main, dev, the alias master -> main) and a clone of it, with
    objects a push may name: commits that change nothing gto reads and commits that
    change .gto, the policy, artifacts.yaml or .gitattributes, tips gto may not read, a
    tag object with a plain name and one with a GTO name, a blob, a tree."""
    work = root / "work"
    git("init", "-q", str(work), cwd=root)
    (work / "model.txt").write_text("v1\n", encoding="utf-8")
    (work / ".gto").write_text("stages: [dev, prod]\n", encoding="utf-8")
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", "initial", cwd=work, env=WHEN)
    c0 = git("rev-parse", "HEAD", cwd=work).stdout.strip()
    tree = git("rev-parse", "HEAD^{tree}", cwd=work).stdout.strip()
    oids = {"c0": c0, "tree": tree}
    oids["plain"] = _commit(work, "plain", {"model.txt": "v2\n"})
    oids["gto"] = _commit(work, "gto", {".gto": "stages: [dev, staging, prod]\n"})
    oids["policy"] = _commit(work, "policy", {".gtoguard.yaml": "tags: {}\n"})
    oids["index"] = _commit(work, "index", {"artifacts.yaml": "churn: {}\n"})
    oids["attributes"] = _commit(work, "attributes", {".gitattributes": "* text\n"})
    head = f"tree {tree}\nparent {c0}\n"
    oids["odd_author"] = _literal(
        work, "commit", f"{head}author a <a@x> soon\ncommitter a <a@x> 1700000000 +0000\n\nodd\n"
    )
    oids["encoding"] = _literal(
        work,
        "commit",
        f"{head}author a <a@x> 1700000000 +0000\n"
        "committer a <a@x> 1700000000 +0000\nencoding ISO-8859-1\n\nenc\n",
    )
    for name, tag in (("tag_plain", "v1"), ("tag_gto", "churn@v1.0.0")):
        git("tag", "-a", tag, c0, "-m", tag, cwd=work, env=WHEN)
        oids[name] = git("rev-parse", f"refs/tags/{tag}", cwd=work).stdout.strip()
        git("tag", "-d", tag, cwd=work)
    oids["blob"] = _literal(work, "blob", "a blob\n")
    git("checkout", "-q", "main", cwd=work)
    server, clone = root / "server.git", root / "clone"
    git("clone", "-q", "--bare", str(work), str(server), cwd=root)  # local: every object
    for branch in ("plain", "gto", "policy", "index", "attributes"):
        git("branch", "-D", branch, cwd=server)
    git("branch", "dev", c0, cwd=server)
    git("symbolic-ref", "refs/heads/master", "refs/heads/main", cwd=server)  # a rename's alias
    git("clone", "-q", str(server), str(clone), cwd=root)  # origin/HEAD -> origin/main
    recorder = root / "python-recorder"
    recorder.write_text(RECORDER, encoding="utf-8")
    recorder.chmod(0o755)
    install(str(server), python=str(recorder))
    install(str(clone), python=str(recorder))
    return Scene(server, clone, recorder, oids)


OIDS = [
    "c0",
    "plain",
    "gto",
    "policy",
    "index",
    "attributes",
    "odd_author",
    "encoding",
    "tag_plain",
    "tag_gto",
    "blob",
    "tree",
]
ODD_OIDS = {
    "zero": ZERO,
    "missing": "1" * 40,
    "short": "abc",
    "upper": "A" * 40,
    "long_zero": "0" * 64,
    "long": "f" * 64,
    "nonhex": "g" * 40,
}
REFS = [
    "refs/heads/main",
    "refs/heads/master",
    "refs/heads/dev",
    "refs/heads/feature/x",
    "refs/tags/v1",
    "refs/tags/release-2",
    "refs/tags/churn@v1.0.0",
    "refs/tags/churn#prod#1",
    "refs/tags/churn#prod",
    "refs/replace/" + "1" * 40,
    "refs/notes/commits",
    "refs/namespaces/team/refs/heads/main",
    "refs/remotes/origin/main",
    "refs/pull/1/head",
    "HEAD",
    "main",
]
SEPARATORS = [" "] * 12 + ["  ", "\t", " \t"]
EDGES = [""] * 12 + [" ", "\t"]


def _join(fields: list[str], gaps: list[str], lead: str, trail: str) -> str:
    return (
        lead
        + "".join(f + g for f, g in zip(fields, [*gaps[: len(fields) - 1], ""], strict=True))
        + trail
    )


def _line(fields: st.SearchStrategy[list[str]]) -> st.SearchStrategy[str]:
    """Fields joined as git joins them, mostly; now and then with odd spacing."""
    gaps = st.lists(st.sampled_from(SEPARATORS), min_size=3, max_size=3)
    return st.builds(_join, fields, gaps, st.sampled_from(EDGES), st.sampled_from(EDGES))


# names, given their ids per scene; ids git does not write now and then
OID = st.sampled_from(["zero"] * 20 + OIDS * 6 + list(ODD_OIDS))
REF = st.one_of(
    st.sampled_from(REFS),
    st.builds(
        str.__add__,
        st.sampled_from(["refs/tags/", "refs/heads/"]),
        st.text(alphabet="abcv1.-_/@#", min_size=1, max_size=12),
    ),
)
GARBAGE = st.text(alphabet=string.ascii_letters + string.digits + " \t@#/.:-", max_size=40)
LOCAL = st.sampled_from(["refs/heads/main", "refs/tags/v1", "(delete)", "HEAD"])
COMMITS = ["c0", "plain", "gto", "policy", "index", "attributes", "odd_author", "encoding"]
TIP = st.sampled_from(["c0"] * 4 + ["zero", "plain"])  # what the branch is at, mostly
BRANCH = st.sampled_from(["refs/heads/main"] * 3 + ["refs/heads/master", "refs/heads/dev"])
NEW = st.sampled_from([*COMMITS, "zero"])
PLAIN_TAG = st.sampled_from(["refs/tags/v1", "refs/tags/release-2", "refs/tags/v2"])
TARGET = st.sampled_from(["tag_plain", "tag_gto", "c0", "zero"])  # gto reads a tag object's name
# any ids and refs; a plain tag name given an object; a branch moved to a commit that may
# change what gto reads (these two as often as the first)
FIELDS = {
    "pre-receive": st.one_of(
        st.tuples(OID, OID, REF),
        st.tuples(st.just("zero"), TARGET, PLAIN_TAG),
        *[st.tuples(TIP, NEW, BRANCH)] * 2,
    ),
    "pre-push": st.one_of(
        st.tuples(LOCAL, OID, REF, OID),
        st.tuples(LOCAL, TARGET, PLAIN_TAG, st.just("zero")),
        *[st.tuples(LOCAL, NEW, BRANCH, TIP)] * 2,
    ),
}
ENDS = ["\n"] * 6 + ["", "\n\n"]


# the default branch moved to each commit: one that changes a file gto reads, or a tip it
# may not read, needs Python; a plain change does not (drawn at random too, here surely)
SURE = {
    "pre-receive": [f"c0 {new} refs/heads/main\n" for new in COMMITS],
    "pre-push": [f"refs/heads/main {new} refs/heads/main c0\n" for new in COMMITS],
}


def hook_input(hook: str) -> st.SearchStrategy[tuple[bool, str]]:
    """Mostly lines as git writes them (any ids and refs, single spaces, one newline after
    each); now and then odd ones: spacing, empty or garbage lines, a CR, no last newline.
    Says which it drew."""
    fields = FIELDS[hook].map(list)
    few, more = (st.lists(fields.map(" ".join), max_size=n) for n in (2, 5))  # few: most
    shaped = (few | few | more).map(lambda ls: "".join(f"{x}\n" for x in ls))
    line = _line(fields.map(lambda f: [*f[:-1], f[-1] + "\r"]) | fields)
    odd_lines = st.lists(st.one_of(line, line, line, GARBAGE, st.just("")), min_size=1, max_size=5)
    odd = st.builds(lambda ls, end: "\n".join(ls) + end, odd_lines, st.sampled_from(ENDS))
    return st.one_of(
        shaped.map(lambda t: (True, t)),
        shaped.map(lambda t: (True, t)),
        shaped.map(lambda t: (True, t)),
        odd.map(lambda t: (False, t)),
    )


def sh_reading(data: bytes) -> bytes:
    """The lines as the shim's ``read -r a b c d rest`` takes them: split at runs of
    spaces and tabs, empty lines skipped."""
    lines = [b" ".join(re.split(rb"[ \t]+", line.strip(b" \t"))) for line in data.split(b"\n")]
    return b"".join(line + b"\n" for line in lines if line)


def _named(text: str, scene: Scene) -> bytes:
    """The oid names in ``text`` (whole words) replaced by this scene's ids."""
    ids = scene.oids | ODD_OIDS
    words = re.split(r"([ \t\n]+)", text)
    return "".join(ids.get(word, word) for word in words).encode()


def expected_handover(data: bytes) -> bytes:
    """What the shim hands Python: the lines as ``$(cat)`` gives them (trailing newlines
    dropped), one newline after them."""
    kept = data.rstrip(b"\n")
    return kept + b"\n" if kept else b""


def run_shim(scene: Scene, hook: str, data: bytes, remote: str) -> bytes | None:
    """The installed shim run as git runs it: what it handed the interpreter, or None
    when it answered in sh."""
    args, given = (scene.recorder.with_name(scene.recorder.name + e) for e in (".args", ".stdin"))
    args.unlink(missing_ok=True)
    given.unlink(missing_ok=True)
    if hook == "pre-receive":
        command, cwd = [str(scene.server / "hooks" / hook)], scene.server
        env = {**os.environ, "GIT_DIR": "."}
        said = f"-I -m gtoguard.hooks {hook}\n"
    else:
        command, cwd = [str(scene.clone / ".git" / "hooks" / hook), remote, "url"], scene.clone
        env = dict(os.environ)
        said = f"-I -m gtoguard.hooks {hook} {remote} url\n"
    done = subprocess.run(command, input=data, cwd=cwd, env=env, capture_output=True, check=False)
    assert done.returncode == 0, done.stderr
    if not args.exists():
        return None
    assert args.read_text() == said
    return given.read_bytes()


def python_needs(
    scene: Scene, hook: str, data: bytes, remote: str, monkeypatch: pytest.MonkeyPatch
) -> str | None:
    """Why Python would not let this push through at its early return (it would judge
    it, or decline the input), or None when it returns 0 there."""
    read = parse_pre_receive if hook == "pre-receive" else parse_pre_push
    with monkeypatch.context() as patch:
        if hook == "pre-receive":
            patch.setenv("GIT_DIR", str(scene.server))
            patch.chdir(scene.server)
        else:
            patch.delenv("GIT_DIR", raising=False)
            patch.chdir(scene.clone)
        try:
            code = run_hook(
                hook,
                read(data),
                remote if hook == "pre-push" else None,
                io.StringIO(),
                dict(os.environ),
            )
        except Handed:
            return "judged"
        except Exception as exc:  # the hook declines what it cannot read or check
            return type(exc).__name__
    assert code == EXIT_OK
    return None


def _stop_at_judging(monkeypatch: pytest.MonkeyPatch) -> None:
    """Past its early return run_hook takes the landing lock (pre-receive) or runs the
    judge (pre-push): either means Python would judge this push."""

    def handed(*args: object, **kwargs: object) -> NoReturn:
        raise Handed

    monkeypatch.setattr(Landing, "begin", handed)
    monkeypatch.setattr(judge, "run", handed)


@pytest.mark.parametrize("hook", ["pre-receive", "pre-push"])
def test_the_shim_hands_python_all_it_needs(
    hook: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scene = build_scene(tmp_path)
    _stop_at_judging(monkeypatch)
    seen: collections.Counter[str] = collections.Counter()

    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None)
    @given(drawn=hook_input(hook), remote=st.sampled_from(["origin", "origin", "elsewhere"]))
    def agree(drawn: tuple[bool, str], remote: str) -> None:
        shaped, text = drawn
        data = _named(text, scene)
        handed = run_shim(scene, hook, data, remote)
        need = python_needs(scene, hook, expected_handover(data), remote, monkeypatch)
        if handed is not None:
            assert handed == expected_handover(data)  # byte for byte, as $(cat) gives them
        elif shaped:
            assert need is None, f"the shim let through what Python would not: {need}"
        else:
            # odd spacing and empty lines: sh reads past them, Python declines the input
            # (BadHookInput, exit 3; test_odd_spacing_...). Read as sh reads it, nothing
            # sh let through is anything Python would judge.
            again = python_needs(scene, hook, sh_reading(data), remote, monkeypatch)
            assert again in (None, "BadHookInput"), again
            seen["odd input sh answered, Python declines"] += need is not None
        kind = "git's shape" if shaped else "odd"
        what = (
            "sh answered" if handed is None else "handed, needed" if need else "handed needlessly"
        )
        seen[f"{kind}: {what}"] += 1
        seen[f"python: {need or 'early return'}"] += 1

    for text in SURE[hook]:
        agree = example(drawn=(True, text), remote="origin")(agree)
    agree()
    print(f"\n{hook}: {dict(seen)}")
    # the draws reach both sides: plain pushes sh answers, and pushes Python must judge
    assert seen["git's shape: sh answered"] and seen["python: judged"]


@pytest.mark.parametrize(
    "shape",
    [
        "{old}  {new} refs/heads/dev\n",
        "{old}\t{new}\trefs/heads/dev\n",
        " {old} {new} refs/heads/dev\n",
        "{old} {new} refs/heads/dev\n\n{old} {new} refs/heads/dev\n",
    ],
    ids=["two spaces", "tabs", "leading space", "empty line between"],
)
def test_odd_spacing_goes_to_gtoguard_as_the_shim_says(shape: str, tmp_path: Path) -> None:
    scene = build_scene(tmp_path)
    data = shape.format(old=scene.oids["c0"], new=scene.oids["plain"]).encode()
    with pytest.raises(BadHookInput):  # gtoguard declines it: not a line git writes
        parse_pre_receive(expected_handover(data))
    assert run_shim(scene, "pre-receive", data, "origin") is not None
