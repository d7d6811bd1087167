"""Real git, isolated: every test gets its own HOME, no system config, a fixed identity."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from gtoguard.server.install import install_into

# real servers (nginx + git http-backend, gitolite over SSH) as fixtures: web, gitolite
pytest_plugins = ["servers"]

BIN = Path(sys.executable).parent
IDENTITY = {
    "GIT_AUTHOR_NAME": "Test User",
    "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "Test User",
    "GIT_COMMITTER_EMAIL": "test@example.com",
}


REPO = Path(__file__).resolve().parent.parent


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, check=False, cwd=cwd)


@pytest.fixture(scope="session")
def built_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """gtoguard's wheel, built from this checkout."""
    root = tmp_path_factory.mktemp("dist")
    built = _run(
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "-q",
        "--no-deps",
        "--no-build-isolation",
        "-w",
        str(root),
        str(REPO),
        cwd=root,
    )
    assert built.returncode == 0, built.stderr
    return next(root.glob("gtoguard-*.whl"))


def fresh_venv(root: Path, hide: tuple[str, ...] = ()) -> Path:
    """A new virtual environment (its ``bin``) that sees this environment's packages
    through a ``.pth`` line, so installing gtoguard needs no package index; its own
    site-packages comes first, so a gtoguard installed there is the one imported.
    Its ``python -m pip`` is this environment's pip, seen the same way (as .venv-test
    sees .venv's), installing into the new environment: no ensurepip (4 s) per venv.
    The distributions named in ``hide`` are left out of what it sees."""
    venv = root / "venv"
    made = _run(sys.executable, "-m", "venv", "--without-pip", str(venv), cwd=root)
    assert made.returncode == 0, made.stderr
    site = _run(
        str(venv / "bin" / "python"),
        "-c",
        "import sysconfig; print(sysconfig.get_paths()['purelib'])",
        cwd=root,
    )
    import gtoguard  # the dependencies, but not a gtoguard of this run's own to shadow it

    mine = str(Path(gtoguard.__file__).resolve().parent.parent)
    ours = {p for p in sys.path if p.endswith("site-packages") and str(Path(p).resolve()) != mine}
    if hide:  # a copy of each site directory made of links, less the hidden distributions
        seen = set()
        for number, where in enumerate(sorted(ours)):
            view = root / f"site-{number}"
            view.mkdir()
            for entry in Path(where).iterdir():
                if entry.name.lower().replace("_", "-").split("-")[0] not in hide:
                    (view / entry.name).symlink_to(entry)
            seen.add(str(view))
        ours = seen
    Path(site.stdout.strip(), "dependencies.pth").write_text("\n".join(sorted(ours)) + "\n")
    return venv / "bin"


def wheel_of_installed(name: str, dest: Path) -> Path:
    """A wheel of an installed pure-Python distribution, packed from its installed files,
    so that a test can ``pip install`` it with no package index."""
    import zipfile
    from importlib import metadata

    dist = metadata.distribution(name)
    wheel = dest / f"{dist.metadata['Name'].replace('-', '_')}-{dist.version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for file in dist.files or []:
            if file.parts[0] != ".." and "__pycache__" not in file.parts:
                archive.write(file.locate(), str(file))
    return wheel


@pytest.fixture(scope="session")
def installed(built_wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ``bin`` of gtoguard as users get it: the built wheel installed (not editable)
    into a fresh virtual environment."""
    root = tmp_path_factory.mktemp("installed")
    bin_dir = fresh_venv(root)
    done = _run(
        sys.executable,
        "-m",
        "pip",
        "--python",
        str(bin_dir / "python"),
        "install",
        "-q",
        "--no-deps",
        "--no-index",
        str(built_wheel),
        cwd=root,
    )
    assert done.returncode == 0, done.stderr
    where = _run(
        str(bin_dir / "python"), "-c", "import gtoguard; print(gtoguard.__file__)", cwd=root
    ).stdout
    assert where.startswith(str(bin_dir.parent)), where  # the wheel's, not the checkout's
    return bin_dir


@pytest.fixture(autouse=True)
def git_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    home = tmp_path / "home"
    home.mkdir()
    for key in list(os.environ):
        if key.startswith(("GIT_", "GTO_", "GTOGUARD_", "GL_")):
            monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_TERMINAL_PROMPT", "0")
    monkeypatch.setenv("PATH", f"{BIN}{os.pathsep}{os.environ['PATH']}")
    for key, value in IDENTITY.items():
        monkeypatch.setenv(key, value)
    (home / ".gitconfig").write_text(
        "[init]\n\tdefaultBranch = main\n[advice]\n\tdetachedHead = false\n", encoding="utf-8"
    )
    yield


# --- the layers of the suite ----------------------------------------------------------
# e2e: the test starts git or another process; browser: it drives Chromium (selenium);
# slow: it takes more than about 5 s. `pytest -m "not e2e"` runs the fast layer: pure,
# in-process tests, milliseconds each. A test is e2e by its module (E2E_MODULES), by a
# fixture that makes a repository or a process (E2E_FIXTURES), or by its own mark; one
# that starts a process without being e2e fails (``no_process_unless_e2e``), so the fast
# layer stays fast.
E2E_MODULES = frozenset({
    "test_check.py", "test_ci_templates.py", "test_cli.py", "test_clientstream.py",
    "test_confighistory.py", "test_decisionlog.py", "test_e2e_approvals.py", "test_helper_approvals.py",
    "test_e2e_escapes.py", "test_e2e_gto.py",
    "test_e2e_hooks.py", "test_e2e_policy.py", "test_frictions.py", "test_gitbatch.py",
    "test_gitolite.py", "test_gto_readable.py", "test_hangup.py", "test_helper.py",
    "test_helper_gto_diff.py", "test_hints.py", "test_history.py", "test_hostile.py",
    "test_http.py", "test_install.py", "test_integrity.py", "test_landing.py",
    "test_layers.py", "test_layouts.py", "test_model.py", "test_objectfiles.py",
    "test_policy_examples.py", "test_pre_commit_hooks.py", "test_refs.py", "test_refstore.py",
    "test_reliability.py", "test_review3.py", "test_shims.py", "test_show_forms.py",
    "test_surfaces.py",
    "test_tagger_dates.py",
    "test_ui.py", "test_ui_access.py", "test_ui_approvals.py", "test_ui_server.py",
    "test_user_input.py",
    "test_views.py", "test_what_git_reads.py", "test_wheel.py",
})  # fmt: skip
# the e2e tests of modules that are mostly pure (beside those E2E_FIXTURES makes e2e)
E2E_TESTS = frozenset({
    "test_config.py::test_config_blobs_are_validated_once",
    "test_freeze.py::test_config_validate_checks_the_windows",
    "test_meanings.py::test_every_reference_resolves_inside_the_repository",
    "test_model_oracle.py::test_bump_and_counters_agree_with_the_gto_cli",
    "test_model_oracle.py::test_clashes_agrees_with_git",
    "test_parallel.py::test_check_all_split_equals_one_process",
    "test_parallel.py::test_show_split_equals_one_process",
    "test_refupdate.py::test_module_entry_point_usage",
    "test_tagname.py::test_ref_format_matches_git",
    "test_trust.py::test_planted_modules_are_never_imported",
    "test_trust.py::test_rules_that_protect_nothing_are_named",
})  # fmt: skip
E2E_FIXTURES = frozenset({"world", "installed", "built_wheel", "page_of", "browser"})
BROWSER_MODULES = frozenset({"test_ui.py", "test_ui_approvals.py"})
# more than about 5 s on an idle machine (--durations); a module name marks all its tests
SLOW = frozenset({
    "test_wheel.py", "test_ui.py",
    "test_tagname.py::test_the_quick_ref_test_misses_nothing_the_full_search_finds",
    "test_config.py::test_differential_against_gto_config_loader",
})  # fmt: skip


@pytest.hookimpl(tryfirst=True)  # before -m deselects by them
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        module = item.path.name
        test = f"{module}::{getattr(item, 'originalname', item.name)}"
        fixtures = set(getattr(item, "fixturenames", ()))
        if module in BROWSER_MODULES or "browser" in fixtures:
            item.add_marker(pytest.mark.browser)
            item.add_marker(pytest.mark.e2e)
        elif module in E2E_MODULES or test in E2E_TESTS or fixtures & E2E_FIXTURES:
            item.add_marker(pytest.mark.e2e)
        if module in SLOW or test in SLOW:
            item.add_marker(pytest.mark.slow)


class StartedAProcess(BaseException):
    """Raised where a fast test starts a process (a BaseException: code under test that
    catches Exception must not swallow it)."""


@pytest.fixture(autouse=True)
def no_process_unless_e2e(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """A test not marked e2e may not start a process: git, gtoguard, a server, a pool."""
    if request.node.get_closest_marker("e2e") is not None:
        yield
        return
    import _posixsubprocess
    import multiprocessing.util

    started: list[str] = []

    def refuse(what: str) -> Any:
        def refused(*args: Any, **kwargs: Any) -> Any:
            started.append(what)
            raise StartedAProcess(
                f"{request.node.nodeid} starts a process ({what}): "
                "mark it e2e (tests/conftest.py, E2E_MODULES)"
            )

        return refused

    monkeypatch.setattr(subprocess, "_fork_exec", refuse("subprocess"))
    monkeypatch.setattr(subprocess, "_USE_POSIX_SPAWN", False)
    monkeypatch.setattr(_posixsubprocess, "fork_exec", refuse("fork_exec"))
    monkeypatch.setattr(multiprocessing.util, "spawnv_passfds", refuse("multiprocessing"))
    for name in ("fork", "forkpty", "posix_spawn", "posix_spawnp", "system"):
        if hasattr(os, name):
            monkeypatch.setattr(os, name, refuse(f"os.{name}"))
    yield
    if started:
        pytest.fail(
            f"{request.node.nodeid} started a process ({started[0]}) but is not "
            "marked e2e (tests/conftest.py, E2E_MODULES)",
            pytrace=False,
        )


def git(
    *args: str,
    cwd: Path | str,
    check: bool = True,
    env: dict[str, str] | None = None,
    input: bytes | None = None,
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        ["git", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        errors="replace",
        check=False,
        env={**os.environ, **(env or {})},
        input=input.decode() if input else None,
    )
    if check and done.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return done


def local_repo(path: Path, files: dict[str, str] | None = None) -> Path:
    """A new repository at ``path`` (no remote, no hook) with one commit holding ``files``
    (none: an empty commit)."""
    git("init", "-q", str(path), cwd=path.parent)
    for name, text in (files or {}).items():
        (path / name).write_text(text, encoding="utf-8")
        git("add", name, cwd=path)
    git("commit", "-q", "--allow-empty", "-m", "init", cwd=path)
    return path


def tag_body(
    name: str,
    target: str,
    when: int,
    message: str = "",
    tagger: str = "Test User <test@example.com>",
) -> bytes:
    """The bytes of an annotated tag object on the commit ``target``, as git writes one."""
    head = f"object {target}\ntype commit\ntag {name}\ntagger {tagger} {when} +0000\n\n"
    return (head + message).encode()


def store_object(cwd: Path, body: bytes, literally: bool = False, kind: str = "tag") -> str:
    """Write ``body`` as an object (a tag object unless ``kind`` says otherwise), byte for
    byte, with no ref: its id. ``literally``: git stores it without checking it
    (``hash-object --literally``)."""
    done = subprocess.run(
        [
            "git",
            "hash-object",
            "-t",
            kind,
            "-w",
            *(["--literally"] if literally else []),
            "--stdin",
        ],
        cwd=cwd,
        input=body,
        capture_output=True,
        check=True,
    )
    return done.stdout.decode().strip()


@dataclass
class Push:
    code: int
    output: str

    @property
    def ok(self) -> bool:
        return self.code == 0

    def rules(self) -> set[str]:
        import re

        return set(re.findall(r"\[([a-z-]+)\]", self.output))


LAG = 120  # a new World's clock starts this far behind the real one


@dataclass
class World:
    """A bare server with gtoguard's pre-receive hook and one clone of it."""

    root: Path
    server: Path
    clone: Path
    # tagger times: near the real clock, since the hook bounds how old a new tag may be
    # (tags.max_age, default 300 s) and how far ahead (clock_skew); always moving on
    clock: int = field(default_factory=lambda: int(time.time()) - LAG)
    follow: bool = True  # keep up with the real clock; off for a world of old history

    def tick(self, seconds: int = 2) -> int:
        self.clock += seconds
        if self.follow:
            self.clock = max(self.clock, int(time.time()) - LAG)
        return self.clock

    def commit(self, message: str = "change", files: dict[str, str] | None = None) -> str:
        for name, text in (files or {"model.txt": message}).items():
            path = self.clone / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        git("add", "-A", cwd=self.clone)
        date = f"@{self.tick()} +0000"  # one clock for commits and tags: an audit reads
        git(
            "commit",
            "-q",
            "--allow-empty",
            "-m",
            message,
            cwd=self.clone,  # config eras
            env={"GIT_COMMITTER_DATE": date, "GIT_AUTHOR_DATE": date},
        )  # by commit date
        return self.head()

    def head(self) -> str:
        return git("rev-parse", "HEAD", cwd=self.clone).stdout.strip()

    def tag(
        self,
        name: str,
        target: str = "HEAD",
        when: int | None = None,
        message: str | None = None,
        lightweight: bool = False,
    ) -> None:
        if lightweight:
            git("tag", name, target, cwd=self.clone)
            return
        date = f"@{when if when is not None else self.tick()} +0000"
        git("tag", "-a", name, target, "-m", message or f"tag {name}", cwd=self.clone,
            env={"GIT_COMMITTER_DATE": date})  # fmt: skip

    def push(
        self,
        *refs: str,
        no_verify: bool = True,
        remote: str = "origin",
        env: dict[str, str] | None = None,
    ) -> Push:
        """``env`` reaches the server's hook too: a local push runs receive-pack as a
        child of the client, the way an SSH or HTTP server passes on its variables."""
        args = ["push", "--porcelain"] + (["--no-verify"] if no_verify else []) + [remote, *refs]
        done = git(*args, cwd=self.clone, check=False, env=env)
        return Push(done.returncode, done.stdout + done.stderr)

    def set_policy(self, text: str) -> World:
        """Commit ``text`` as .gtoguard.yaml on main and push it (the server accepts it)."""
        self.commit("policy", {".gtoguard.yaml": text})
        pushed = self.push("HEAD:main")
        assert pushed.ok, pushed.output
        return self

    def set_server_policy(self, text: str) -> Path:
        """Write ``text`` as the server policy (``git config gtoguard.policy``)."""
        path = self.root / "server-policy.yaml"
        path.write_text(text, encoding="utf-8")
        git("config", "gtoguard.policy", str(path), cwd=self.server)
        return path

    def push_tags(
        self, *names: str, no_verify: bool = True, env: dict[str, str] | None = None
    ) -> Push:
        return self.push(*[f"refs/tags/{n}" for n in names], no_verify=no_verify, env=env)

    def landed(self, name: str = "churn@v1.0.0") -> World:
        """``name`` tagged on the clone's HEAD and pushed; the server's hook accepted it."""
        self.tag(name)
        pushed = self.push_tags(name)
        assert pushed.ok, pushed.output
        return self

    def server_snapshot(self) -> tuple[str, str]:
        refs = git("for-each-ref", "--format=%(refname) %(objectname)", cwd=self.server).stdout
        objects = git("cat-file", "--batch-all-objects", "--batch-check", cwd=self.server).stdout
        return refs, objects

    def server_tags(self) -> set[str]:
        return set(git("tag", "--list", cwd=self.server).stdout.split())

    def snapshot(self) -> tuple[str, str, tuple[str, str]]:
        """The clone's refs and objects and the server's: what a refused write leaves alone."""
        local = git("for-each-ref", "--format=%(refname) %(objectname)", cwd=self.clone).stdout
        objects = git("cat-file", "--batch-all-objects", "--batch-check", cwd=self.clone).stdout
        return local, objects, self.server_snapshot()


def make_world(
    root: Path,
    gto: str | None = "stages: [dev, staging, prod]\n",
    hook: bool = True,
    since: int | None = None,
) -> World:
    """``since``: the world's clock starts then (its first commit carries that date), for
    a history older than the real clock allows a fresh one."""
    server, clone = root / "server.git", root / "clone"
    git("init", "-q", "--bare", str(server), cwd=root)
    git("clone", "-q", str(server), str(clone), cwd=root)
    world = World(root, server, clone)
    if since is not None:
        world.clock, world.follow = since, False
    files = {"model.txt": "v1\n"}
    if gto is not None:
        files[".gto"] = gto
    world.commit("initial", files)
    # the first main goes in before the hook: a hook run costs a third of a second, and
    # hundreds of tests make a world; that the hook accepts a first main is
    # test_e2e_hooks.py's test_the_first_main_of_an_empty_server_goes_through_the_hook
    git("push", "-q", "origin", "HEAD:main", cwd=clone)
    if hook:
        install_into(server / "hooks" / "pre-receive", "pre-receive", sys.executable)
    return world


def copy_world(template: World, root: Path) -> World:
    """A world whose server and clone are copies of ``template``'s (the files, byte for
    byte), the clone's origin pointed at the copied server; its clock goes on from the
    template's."""
    server, clone = root / "server.git", root / "clone"
    shutil.copytree(template.server, server, symlinks=True)
    shutil.copytree(template.clone, clone, symlinks=True)
    git("remote", "set-url", "origin", str(server), cwd=clone)
    world = World(root, server, clone, follow=template.follow)
    world.clock = max(world.clock, template.clock) if template.follow else template.clock
    return world


class Template:
    """A world made once per module (and worker) and copied for each test that asks: a
    setup that costs seconds of helper and hook runs, without tests sharing what they do
    to it. It is made inside the first test that asks (the suite's HOME and identity are
    in force then) and made again once older than ``MAX_AGE`` seconds, so that what its
    making dated by the real clock (the helper's tags) stays as near a test's own dates,
    and on the same side of them, as in a world made for the test."""

    MAX_AGE = 30.0

    def __init__(self, make: Callable[[Path], World]) -> None:
        self.make = make
        self.made: World | None = None
        self.when = 0.0
        self.copies = 0

    def world(self, tmp_path: Path) -> World:
        if self.made is None or time.time() - self.when > self.MAX_AGE:
            (tmp_path / "template").mkdir()
            self.made = self.make(tmp_path / "template")
            self.when = time.time()
        self.copies += 1
        return copy_world(self.made, tmp_path / f"copy-{self.copies}")


@pytest.fixture
def world(tmp_path: Path) -> World:
    return make_world(tmp_path)


def faulty_python(world: World, site: Path) -> None:
    """Make the server's hooks run an interpreter that imports from ``site`` first (a
    planted fault, such as a broken library). The hooks start Python isolated (``-I``), so
    a ``PYTHONPATH`` in the pusher's environment never reaches them: this wrapper stands
    for the server admin's own interpreter."""
    import shlex

    wrapper = world.root / "faulty-python"
    wrapper.write_text(
        '#!/bin/sh\n[ "$1" = -I ] && shift\n'
        f'PYTHONPATH={shlex.quote(str(site))} exec {shlex.quote(sys.executable)} "$@"\n',
        encoding="utf-8",
    )
    wrapper.chmod(0o755)
    for kind in ("pre-receive", "reference-transaction"):
        path = world.server / "hooks" / kind
        if path.exists():
            install_into(path, kind, str(wrapper))


def gto_cli() -> str:
    """The real gto's command: beside this Python, else in the environment that provides
    the gto package (the suite's .venv-test takes its test dependencies from .venv)."""
    import importlib.util

    spec = importlib.util.find_spec("gto")
    home = Path(spec.origin).parents[4] / "bin" if spec and spec.origin else BIN
    found = (
        shutil.which("gto", path=str(BIN))
        or shutil.which("gto", path=str(home))
        or shutil.which("gto")
    )
    if not found:
        pytest.fail("the gto CLI (test dependency) is not installed")
    return found


def run_gto(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``gto ARGS`` in ``cwd``: gto's own command line, run in this process (starting gto
    costs a second, and the suite asks it hundreds of times); it must succeed."""
    done = gto_in_process(list(args), cwd)
    if done.returncode != 0:
        raise AssertionError(f"gto {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return done


def gto_in_process(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """``gto ARGS`` in ``cwd`` through gto's click command line in this process, with
    ``GTO_EMOJIS=false`` (gto reads it when it is first imported, and on every call)."""
    from click.testing import CliRunner

    if "gto.cli" not in sys.modules:
        os.environ["GTO_EMOJIS"] = "false"
    from gto.cli import app

    home = os.getcwd()
    os.chdir(cwd)
    try:
        said = CliRunner().invoke(app, args, env={"GTO_EMOJIS": "false"})
    finally:
        os.chdir(home)
    err = said.stderr
    if said.exception is not None and not isinstance(said.exception, SystemExit):
        err += f"\n{said.exception!r}"
    return subprocess.CompletedProcess(["gto", *args], said.exit_code, said.stdout, err)


class GtoClock:
    """The clock the in-process gto stamps its tags with (``gto_clock``): ``now``, moved
    on by the test."""

    def __init__(self, now: int) -> None:
        self.now = now

    def tick(self, seconds: int = 1) -> int:
        self.now += seconds
        return self.now


@contextmanager
def gto_clock(start: int) -> Iterator[GtoClock]:
    """gto (run in process: ``run_gto``) dates the tags it makes by ``GtoClock.now``
    instead of the wall clock, so that a test makes one gto event a second without
    waiting a second for each. gto makes a tag through scmrepo's pygit2 backend, whose
    tagger is the backend's ``committer`` signature (name, email, zone and libgit2's
    "now"): only that signature's time is replaced, as ``GIT_COMMITTER_DATE`` replaces
    git's (scmrepo refuses that variable and falls back to another backend). Callers
    check the tagger dates gto wrote (``tag_dates``): a gto that stopped reading this
    clock fails them instead of passing unpaced."""
    import pygit2
    from scmrepo.git.backend.pygit2 import Pygit2Backend

    clock = GtoClock(start)
    wall = Pygit2Backend.committer

    def committer(backend: Any) -> Any:
        now = wall.fget(backend)  # type: ignore[attr-defined]
        return pygit2.Signature(now.name, now.email, time=clock.now, offset=now.offset)

    Pygit2Backend.committer = property(committer)  # type: ignore[method-assign,assignment]
    try:
        yield clock
    finally:
        Pygit2Backend.committer = wall  # type: ignore[method-assign]


def tag_dates(repo: Path) -> dict[str, int]:
    """Each annotated tag's tagger date (unix seconds), by tag name."""
    listed = git("for-each-ref", "--format=%(refname:short) %(taggerdate:unix)", "refs/tags",
                 cwd=repo).stdout.split("\n")  # fmt: skip
    return {name: int(when) for name, when in (line.split() for line in listed if line)}


def gtoguard(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """The installed gtoguard command, as a user runs it (``env``: added to the test's
    environment; ``cwd`` None: the test's directory)."""
    return subprocess.run([str(BIN / "gtoguard"), *args], cwd=cwd, capture_output=True,
                          text=True, check=False, env={**os.environ, **(env or {})})  # fmt: skip


def ssh_key(path: Path, comment: str = "") -> Path:
    """A new ed25519 key pair without a passphrase at ``path`` (and ``path``.pub)."""
    need_program("ssh-keygen", "openssh-client")
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
        check=True,
        capture_output=True,
    )
    return path


def need_program(program: str, packages: str) -> str:
    """The path of a program a test needs. Missing, the test is skipped with the command
    that installs it (``./install.sh --test`` does, as root); in CI it fails instead."""
    found = shutil.which(program) or shutil.which(program, path="/usr/sbin:/usr/bin")
    if not found:
        reason = f"{program} is missing: sudo apt-get install {packages}"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"{reason} (CI installs it: a missing tool is an error there)")
        pytest.skip(reason)
    return found


_RESERVED: list[Any] = []  # the sockets that hold free_port()'s ports, for the session


def free_port() -> int:
    """A port no one else on the machine is given while the suite runs: the socket that
    found it stays bound (never listening), so another xdist worker's bind to port 0 never
    gets it, while the server the test starts binds it all the same (SO_REUSEADDR on both
    sides: nginx and sshd set it; Linux refuses only a second listener)."""
    import socket

    probe = socket.socket()
    probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    probe.bind(("127.0.0.1", 0))
    _RESERVED.append(probe)
    return int(probe.getsockname()[1])


def listening(port: int) -> bool:
    import socket

    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


# --- the registry page (gtoguard ui): a real server process, and a real browser ---------


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: str

    def json(self) -> Any:
        import json

        return json.loads(self.body)


@dataclass
class Page:
    """A running ``gtoguard ui``, and plain HTTP to it (as any client, browser or not).
    ``url``: its address (``http://127.0.0.1:PORT/``); ``secret``: this run's token, from
    the address it printed (``URL?token=SECRET``). Requests carry the cookie a browser
    gets for that address, unless ``signed_in=False``."""

    url: str
    secret: str
    process: subprocess.Popen[str]
    log: Path

    @property
    def cookie(self) -> str:
        return f"gtoguard-ui-{self.url.rsplit(':', 1)[1].rstrip('/')}={self.secret}"

    def link(self, path: str = "") -> str:
        """The address of ``path`` with the token: a browser opening it gets the cookie."""
        return f"{self.url}{path}{'&' if '?' in path else '?'}token={self.secret}"

    def request(
        self,
        path: str,
        method: str = "GET",
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        signed_in: bool = True,
    ) -> Reply:
        import http.client
        from urllib.parse import urlsplit

        where = urlsplit(self.url)
        sent = {"Cookie": self.cookie} if signed_in else {}
        connection = http.client.HTTPConnection(where.hostname, where.port, timeout=60)
        try:
            connection.request(method, path, body=body, headers={**sent, **(headers or {})})
            answer = connection.getresponse()
            text = answer.read().decode("utf-8", "replace")
            return Reply(answer.status, {k.lower(): v for k, v in answer.getheaders()}, text)
        finally:
            connection.close()

    def token(self) -> str:
        import re

        found = re.search(r'name="csrf-token" content="([^"]+)"', self.request("/").body)
        assert found, "the page carries no CSRF token"
        return found.group(1)

    def post(
        self,
        kind: str,
        fields: dict[str, str],
        token: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        from urllib.parse import urlencode

        form = {**fields, "csrf": self.token() if token is None else token}
        sent = {
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
            **(headers or {}),
        }
        return self.request(f"/actions/{kind}", "POST", urlencode(form).encode(), sent)

    def stop(self) -> str:
        """Stop the server; what it wrote on stderr."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.log.read_text(encoding="utf-8", errors="replace")


def start_page(
    *args: str,
    cwd: Path,
    log: Path,
    env: dict[str, str] | None = None,
    program: Path = BIN / "gtoguard",
) -> Page:
    """``gtoguard ui ARGS --port 0`` (any free port), once it says where it listens."""
    import queue
    import re
    import threading

    process = subprocess.Popen(
        [str(program), "ui", "--port", "0", *args],
        cwd=cwd,
        text=True,
        stdout=subprocess.PIPE,
        stderr=log.open("w"),
        env={**os.environ, **(env or {})},
    )
    lines: queue.Queue[str] = queue.Queue()
    assert process.stdout is not None
    threading.Thread(
        target=lambda: lines.put(process.stdout.readline() if process.stdout else ""), daemon=True
    ).start()
    try:
        line = lines.get(timeout=60)
    except queue.Empty:
        line = ""
    found = re.search(r"(http://[^ ]+/)\?token=([^ ]+)", line)
    if not found:
        process.kill()
        process.wait()
        raise AssertionError(f"gtoguard ui did not start: {line!r}\n{log.read_text()}")
    return Page(found.group(1), found.group(2), process, log)


@pytest.fixture
def page_of(tmp_path: Path) -> Iterator[Any]:
    """``page_of(repo, *args)``: start gtoguard ui on ``repo``; stopped after the test."""
    started: list[Page] = []

    def start(repo: Path, *args: str, env: dict[str, str] | None = None) -> Page:
        log = tmp_path / f"ui-{len(started)}.log"
        page = start_page("--repo", str(repo), *args, cwd=tmp_path, log=log, env=env)
        started.append(page)
        return page

    yield start
    for page in started:
        page.stop()


CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
    "--window-size=1280,900",
)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Debian's headless Chromium through its chromedriver, one per test module."""
    chromium = need_program("chromium", "chromium chromium-driver")
    chromedriver = need_program("chromedriver", "chromium-driver")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={tmp_path_factory.mktemp('chromium')}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(chromedriver), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()
