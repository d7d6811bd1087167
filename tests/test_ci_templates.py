"""The CI templates in docs/ci, run step by step against real clones.

A bare repository stands in for github.com / gitlab.com (no hook there); a pusher's
clone pushes a good and a bad promotion; each template's shell steps then run in a CI
clone made the way the CI system makes it. The pip install step is the only one not
run: the test puts the gtoguard under test on PATH instead.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import World, fresh_venv, git, gtoguard, make_world, ssh_key

DOCS = Path(__file__).resolve().parent.parent / "docs" / "ci"
GOOD, BAD = "churn#prod#2", "churn#prd#3"


@pytest.fixture
def hosted(tmp_path: Path) -> World:
    world = make_world(tmp_path, hook=False)  # a hosted service runs no hook of ours
    for name in ("churn@v1.0.0#1", GOOD, BAD):
        world.tag(name)
    assert world.push_tags("churn@v1.0.0#1", GOOD, BAD).ok
    return world


def _install_step(host: str) -> str:
    if host == "github":
        workflow = yaml.safe_load((DOCS / "github-actions.yml").read_text())
        return next(
            s["run"] for s in workflow["jobs"]["check"]["steps"] if s.get("id") == "install"
        )
    return next(line for line in _gitlab_lines("gtoguard") if "pip install" in line)


@pytest.fixture(scope="session")
def runner(built_wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CI runner's Python (its ``bin``), into which the GitHub template's own install
    step puts gtoguard from a wheel spec; no package index is reached."""
    bin_dir = fresh_venv(tmp_path_factory.mktemp("runner"))
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "GTOGUARD_PIP_SPEC": str(built_wheel),
        "PIP_NO_INDEX": "1",
    }
    done = subprocess.run(
        ["bash", "-e", "-c", _install_step("github")],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert (bin_dir / "gtoguard").exists()
    return bin_dir


@pytest.fixture(autouse=True)
def as_installed(runner: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The templates' steps run the gtoguard their install step gave: the wheel."""
    monkeypatch.setenv("PATH", f"{runner}{os.pathsep}{os.environ['PATH']}")


@pytest.mark.parametrize("host", ["github", "gitlab"])
def test_the_install_step_needs_a_spec(host: str, runner: Path, built_wheel: Path) -> None:
    """gtoguard is on no package index: an unset spec fails with what to set, and a
    wheel spec installs it."""
    step = _install_step(host)
    empty = _shell(step, runner, {"GTOGUARD_PIP_SPEC": ""})
    assert empty.returncode == 1 and "set GTOGUARD_PIP_SPEC" in empty.stdout + empty.stderr
    wheel = _shell(step, runner, {"GTOGUARD_PIP_SPEC": str(built_wheel), "PIP_NO_INDEX": "1"})
    assert wheel.returncode == 0, wheel.stdout + wheel.stderr


def _shell(script: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-e", "-c", script],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **env},
    )


def _expand(text: str, values: dict[str, str]) -> str:
    def lookup(match: re.Match[str]) -> str:
        key = match[1].strip()
        assert key in values, f"unknown expression in the template: {key}"
        return values[key]

    return re.sub(r"\$\{\{(.*?)\}\}", lookup, text)


# --- GitHub Actions ----------------------------------------------------------------------


def _github(
    world: World,
    tag: str,
    delete: bool,
    signers: str = "",
    job_name: str = "check",
    actor: str | None = None,
) -> tuple[bool, str]:
    workflow: dict[Any, Any] = yaml.safe_load((DOCS / "github-actions.yml").read_text())
    patterns = workflow[True]["push"]["tags"]  # YAML 1.1 reads the key `on` as True
    assert any(_github_glob(p, tag) for p in patterns)
    job = Path(tempfile.mkdtemp(prefix="gh-", dir=world.root))  # one per run of the job
    ci = job / "checkout"
    git("clone", "-q", str(world.server), str(ci), cwd=world.root)  # checkout, fetch-depth 0
    git("checkout", "-q", "--detach", f"refs/tags/{tag}", cwd=ci)
    env = {k: str(v) for k, v in workflow["env"].items()}
    runner = job / "runner"
    runner.mkdir()
    github_env = runner / "github_env"
    env.update(
        GITHUB_REF_NAME=tag,
        GTOGUARD_DELETE_BAD_TAGS="true" if delete else "false",
        RUNNER_TEMP=str(runner),
        GITHUB_ENV=str(github_env),
    )
    if actor is not None:  # who pushed, as the runner says (GitHub always sets it)
        env["GITHUB_ACTOR"] = actor
    values = {
        "github.event.repository.default_branch": "main",
        "github.event.repository.pushed_at": str(int(time.time())),
        "secrets.GTOGUARD_ALLOWED_SIGNERS": signers,
    }
    failed, output = False, ""
    for step in workflow["jobs"][job_name]["steps"]:
        if "run" not in step or step.get("id") == "install":
            continue
        condition = step.get("if", "success()")
        if "failure()" in condition:
            if not (failed and env["GTOGUARD_DELETE_BAD_TAGS"] == "true"):
                continue
        elif failed:
            continue
        step_env = {**env, **{k: _expand(str(v), values) for k, v in step.get("env", {}).items()}}
        done = _shell(_expand(step["run"], values), ci, step_env)
        output += done.stdout + done.stderr
        failed = failed or done.returncode != 0
        if github_env.exists():  # what a step exports for the later ones
            env.update(line.split("=", 1) for line in github_env.read_text().splitlines())
    return not failed, output


def _github_glob(pattern: str, name: str) -> bool:
    regex = re.escape(pattern).replace(r"\*\*", ".*").replace(r"\*", "[^/]*")
    return re.fullmatch(regex, name) is not None


def test_github_template_fails_on_a_bad_tag_and_passes_a_good_one(hosted: World) -> None:
    ok, output = _github(hosted, GOOD, delete=False)
    assert ok, output
    ok, output = _github(hosted, BAD, delete=False)
    assert not ok
    assert "[stage-unknown]" in output
    assert BAD in hosted.server_tags()  # deleting is opt-in


def test_github_template_can_delete_the_bad_tag(hosted: World) -> None:
    ok, output = _github(hosted, BAD, delete=True)
    assert not ok and "[stage-unknown]" in output
    assert BAD not in hosted.server_tags()
    assert GOOD in hosted.server_tags()


# --- GitLab CI ---------------------------------------------------------------------------


def _gitlab_doc() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((DOCS / "gitlab-ci.yml").read_text())
    return doc


def _flatten(lines: list[Any]) -> list[str]:
    """A script list as GitLab runs it: a list inside it (a YAML anchor) is spliced in."""
    flat: list[str] = []
    for line in lines:
        flat.extend(_flatten(line) if isinstance(line, list) else [str(line)])
    return flat


def _gitlab_lines(name: str, install: bool = True) -> list[str]:
    job = _gitlab_doc()[name]
    lines = _flatten(job.get("before_script", []) + job["script"])
    return [line for line in lines if install or "pip install" not in line]


def _gitlab_job(
    name: str,
    cwd: Path,
    predefined: dict[str, str],
    project: dict[str, str] | None = None,
    install: bool = False,
    doc: dict[str, Any] | None = None,
) -> tuple[bool, str, dict[str, str]]:
    """Run one job of the template as a runner does: GitLab's predefined variables, then
    the file's global ``variables:``, then the job's own (which win over the global
    ones), then the project's CI/CD variables (which win over both); before_script and
    script in one shell that stops at the first failure, then after_script."""
    doc = doc or _gitlab_doc()
    job = doc[name]
    env = dict(predefined)
    for scope in (doc.get("variables", {}), job.get("variables", {}), project or {}):
        env.update({k: str(v) for k, v in scope.items()})
    lines = _flatten(job.get("before_script", []) + job["script"])
    done = _shell(
        "\n".join(line for line in lines if install or "pip install" not in line), cwd, env
    )
    output = done.stdout + done.stderr
    failed = done.returncode != 0
    env["CI_JOB_STATUS"] = "failed" if failed else "success"
    for line in _flatten(job.get("after_script", [])):
        done = _shell(line, cwd, env)
        output += done.stdout + done.stderr
        assert done.returncode == 0, output
    return not failed, output, env


def _gitlab(
    world: World, tag: str, delete: bool, signers: str = "", actor: str | None = None
) -> tuple[bool, str]:
    rule = _gitlab_doc()["gtoguard"]["rules"][0]["if"]
    pattern = re.search(r"=~ /(.*)/", rule)[1]  # type: ignore[index]
    assert re.search(pattern, tag)
    run_dir = Path(tempfile.mkdtemp(prefix="gl-", dir=world.root))  # one per run of the job
    ci = run_dir / "checkout"
    # a tag pipeline's clone: only the pipeline's own tag is fetched
    git("init", "-q", str(ci), cwd=world.root)
    git("remote", "add", "origin", str(world.server), cwd=ci)
    git("fetch", "-q", "origin", f"+refs/tags/{tag}:refs/tags/{tag}", cwd=ci)
    git("checkout", "-q", "--detach", f"refs/tags/{tag}", cwd=ci)
    created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    predefined = {
        "CI_COMMIT_TAG": tag,
        "CI_DEFAULT_BRANCH": "main",
        "CI_PIPELINE_CREATED_AT": created,
    }
    if actor is not None:
        predefined["GITLAB_USER_LOGIN"] = actor
    project = {
        "GTOGUARD_PUSH_URL": str(world.server),
        "GTOGUARD_DELETE_BAD_TAGS": "true" if delete else "false",
    }
    if signers:  # a File-type variable: GitLab writes it out and passes its path
        path = run_dir / "signers"
        path.write_text(signers, encoding="utf-8")
        project["GTOGUARD_ALLOWED_SIGNERS"] = str(path)
    ok, output, _ = _gitlab_job("gtoguard", ci, predefined, project)
    return ok, output


def test_gitlab_template_fails_on_a_bad_tag_and_passes_a_good_one(hosted: World) -> None:
    ok, output = _gitlab(hosted, GOOD, delete=False)
    assert ok, output
    ok, output = _gitlab(hosted, BAD, delete=False)
    assert not ok and "[stage-unknown]" in output
    assert BAD in hosted.server_tags()


def test_gitlab_template_can_delete_the_bad_tag(hosted: World) -> None:
    ok, output = _gitlab(hosted, BAD, delete=True)
    assert not ok and "[stage-unknown]" in output
    assert BAD not in hosted.server_tags()


@pytest.mark.parametrize("host", ["github", "gitlab"])
def test_signed_stages_verify_against_the_signers_secret(hosted: World, host: str) -> None:
    """Signers come from a CI secret. Without one, a signed-stage tag is declined: CI
    cannot tell a signature from text shaped like one."""
    run = _github if host == "github" else _gitlab
    hosted.set_policy("stages:\n  prod: {signed: true}\n")
    key = hosted.root / "alice-key"
    ssh_key(key, "alice")
    signers = f"alice@example.com {Path(f'{key}.pub').read_text()}"
    git(
        "-c",
        "gpg.format=ssh",
        "-c",
        f"user.signingKey={key}",
        "tag",
        "-s",
        "churn#prod#4",
        "churn@v1.0.0#1^{commit}",
        "-m",
        "promote",
        cwd=hosted.clone,
        env={"GIT_COMMITTER_DATE": f"@{hosted.tick()} +0000"},
    )
    forged = "promote\n-----BEGIN SSH SIGNATURE-----\nforged\n-----END SSH SIGNATURE-----\n"
    hosted.tag("churn#prod#5", "churn@v1.0.0#1^{commit}", message=forged)
    assert hosted.push_tags("churn#prod#4", "churn#prod#5").ok
    ok, output = run(hosted, "churn#prod#4", delete=False)
    assert not ok and "[signature-invalid]" in output and "no signers" in output, output
    ok, output = run(hosted, "churn#prod#4", delete=False, signers=signers)
    assert ok, output
    ok, output = run(hosted, "churn#prod#5", delete=False, signers=signers)
    assert not ok and "[signature-invalid]" in output, output


@pytest.mark.parametrize("host", ["github", "gitlab"])
def test_ci_counts_only_approvals_signed_by_their_approver(hosted: World, host: str) -> None:
    """No hook runs on the host, so nothing tells who pushed a ref: an approval counts
    only when its signature verifies against the signers and names the approver."""
    run = _github if host == "github" else _gitlab
    hosted.set_policy("stages:\n  prod:\n    approvals: {count: 2, from: [bob, carol, mallory]}\n")
    keys = {name: hosted.root / f"{name}-key" for name in ("bob", "carol", "mallory")}
    signers = ""
    for name, key in keys.items():
        ssh_key(key, name)
        if name != "mallory":  # mallory's key is not among the signers
            signers += f"{name} {Path(f'{key}.pub').read_text()}"
    hosted.commit("a new model")
    hosted.tag("churn@v1.1.0")
    assert hosted.push_tags("churn@v1.1.0").ok
    helper = {"cwd": hosted.clone}
    done = gtoguard(
        "request",
        "churn",
        "--version",
        "v1.1.0",
        "--stage",
        "prod",
        "--as",
        "alice",
        "--push",
        **helper,
    )
    assert done.returncode == 0, done.stderr
    tag = done.stdout.split()[1]

    def approve(name: str, sign: bool) -> None:
        signing = {
            "GIT_CONFIG_COUNT": "2",
            "GIT_CONFIG_KEY_0": "gpg.format",
            "GIT_CONFIG_VALUE_0": "ssh",
            "GIT_CONFIG_KEY_1": "user.signingKey",
            "GIT_CONFIG_VALUE_1": str(keys[name]),
        }
        done = gtoguard(
            "approve",
            "churn",
            "--stage",
            "prod",
            "--as",
            name,
            "--push",
            *(["--sign"] if sign else []),
            env=signing,
            **helper,
        )
        assert done.returncode == 0, done.stderr

    approve("bob", sign=True)
    approve("carol", sign=False)
    approve("mallory", sign=True)
    ok, output = run(hosted, "churn@v1.0.0#1", delete=False)  # the request is not pushed yet
    assert ok, output
    git("update-ref", f"refs/tags/{tag}", _requested(hosted), cwd=hosted.clone)
    assert hosted.push_tags(tag).ok
    ok, output = run(hosted, tag, delete=False, signers=signers, actor="alice")
    assert not ok and "[approvals-missing]" in output, output
    assert "it has 1: bob" in output and "carol's does not count: it is not signed" in output
    assert "mallory's does not count: its signature does not verify" in output, output
    # carol signs her approval now: the promotion has landed, so the helper lists no
    # request to approve; git makes it, and the host (no hook) lets it be moved
    requested = _requested(hosted)
    git(
        "-c",
        "gpg.format=ssh",
        "-c",
        f"user.signingKey={keys['carol']}",
        "tag",
        "-s",
        "-m",
        "approve",
        "carol-approval",
        requested,
        cwd=hosted.clone,
    )
    signed = git("rev-parse", "carol-approval", cwd=hosted.clone).stdout.strip()
    git("tag", "-d", "carol-approval", cwd=hosted.clone)
    ref = f"refs/gtoguard/approvals/{requested}/carol"
    assert hosted.push(f"+{signed}:{ref}").ok
    ok, output = run(hosted, tag, delete=False, signers=signers, actor="alice")
    assert ok, output
    ok, output = run(hosted, tag, delete=False, signers=signers, actor="bob")
    assert not ok and "bob is the one promoting" in output, output


def _requested(world: World) -> str:
    listed = git(
        "for-each-ref", "--format=%(objectname)", "refs/gtoguard/requests/", cwd=world.clone
    )
    (oid,) = listed.stdout.split()
    return oid


def test_gitlab_template_needs_its_fetch(hosted: World) -> None:
    # without the template's fetch the CI clone has one tag and no default branch:
    # gtoguard says so instead of passing on a partial registry
    ci = hosted.root / "bare-ci"
    git("init", "-q", str(ci), cwd=hosted.root)
    git("remote", "add", "origin", str(hosted.server), cwd=ci)
    git("fetch", "-q", "origin", f"+refs/tags/{GOOD}:refs/tags/{GOOD}", cwd=ci)
    done = _shell(f"gtoguard check '{GOOD}' --branch origin/main", ci, {})
    assert done.returncode == 2 and "no branch 'origin/main'" in done.stderr


@pytest.mark.parametrize("host", ["github", "gitlab"])
def test_the_templates_judge_a_tag_as_it_arrived(hosted: World, host: str) -> None:
    """The templates pass the push time: a tag dated an hour before it fails the job."""
    run = _github if host == "github" else _gitlab
    hosted.tag("nlp@v1.0.0", when=int(time.time()) - 3600)
    assert hosted.push_tags("nlp@v1.0.0").ok
    ok, output = run(hosted, "nlp@v1.0.0", delete=False)
    assert not ok and "[tagger-time]" in output and "before the push" in output, output


# --- the backstop: the scheduled and default-branch audit --------------------------------


def _github_audit(world: World, delete_after: str = "") -> tuple[bool, str]:
    workflow: dict[Any, Any] = yaml.safe_load((DOCS / "github-actions.yml").read_text())
    assert "schedule" in workflow[True] and "main" in workflow[True]["push"]["branches"]
    ci = Path(tempfile.mkdtemp(prefix="gh-audit-", dir=world.root)) / "checkout"
    git("clone", "-q", str(world.server), str(ci), cwd=world.root)  # on main, every tag
    env = {k: str(v) for k, v in workflow["env"].items()}
    env["GTOGUARD_DELETE_AFTER"] = delete_after
    values = {"github.event.repository.default_branch": "main"}
    failed, output = False, ""
    for step in workflow["jobs"]["audit"]["steps"]:
        if "run" not in step or step.get("id") == "install":
            continue
        condition = step.get("if", "success()")
        if "failure()" in condition and not (failed and delete_after):
            continue
        if "failure()" not in condition and failed:
            continue
        step_env = {**env, **{k: _expand(str(v), values) for k, v in step.get("env", {}).items()}}
        done = _shell(_expand(step["run"], values), ci, step_env)
        output += done.stdout + done.stderr
        failed = failed or done.returncode != 0
    return not failed, output


def _gitlab_audit(world: World, delete_after: str = "") -> tuple[bool, str]:
    ci = Path(tempfile.mkdtemp(prefix="gl-audit-", dir=world.root)) / "checkout"
    git("clone", "-q", str(world.server), str(ci), cwd=world.root)  # a branch pipeline
    project = {"GTOGUARD_PUSH_URL": str(world.server), "GTOGUARD_DELETE_AFTER": delete_after}
    ok, output, _ = _gitlab_job("gtoguard-audit", ci, {"CI_DEFAULT_BRANCH": "main"}, project)
    return ok, output


AUDITS = {"github": _github_audit, "gitlab": _gitlab_audit}


@pytest.mark.parametrize("host", sorted(AUDITS))
def test_the_audit_fails_naming_a_planted_tag(hosted: World, host: str, tmp_path: Path) -> None:
    """A tag that no tag job checked (a push of more than three tags starts none on
    GitHub) fails the scheduled audit by name; a clean registry passes it."""
    ok, output = AUDITS[host](hosted)
    assert not ok and f"refs/tags/{BAD}: [stage-unknown]" in output, output
    (tmp_path / "clean").mkdir()
    clean = make_world(tmp_path / "clean", hook=False)
    clean.tag("churn@v1.0.0")
    clean.tag("churn#prod#1")
    assert clean.push_tags("churn@v1.0.0", "churn#prod#1").ok
    ok, output = AUDITS[host](clean)
    assert ok, output


@pytest.mark.parametrize("host", sorted(AUDITS))
def test_the_audit_deletes_only_new_violations(tmp_path: Path, host: str) -> None:
    """Opt-in: the violating tags made after the cutoff go; an older violation, and every
    tag that passes, stay (the job still fails, naming what is left)."""
    now = int(time.time())
    world = make_world(tmp_path, hook=False, since=now - 2000)
    for name, when in (
        ("m@v1.0.0#1", now - 1000),
        ("m#prd#2", now - 900),
        ("m#prod#3", now - 800),
        ("m#prd#4", now - 10),
    ):
        world.tag(name, "HEAD", when=when)
    assert world.push("--tags").ok
    cutoff = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 500))
    ok, output = AUDITS[host](world, delete_after=cutoff)
    assert not ok, output
    assert world.server_tags() == {"m@v1.0.0#1", "m#prd#2", "m#prod#3"}, output
    assert "kept m#prd#2: made before the cutoff" in output


def test_the_deploy_job_runs_after_the_check_and_reads_the_registry(hosted: World) -> None:
    """The example deploy job needs the check of its tag and deploys what gto reads in
    prod, not what the tag's name says."""
    workflow: dict[Any, Any] = yaml.safe_load((DOCS / "github-actions.yml").read_text())
    assert workflow["jobs"]["deploy"]["needs"] == "check"
    ok, output = _github(hosted, GOOD, delete=False)  # churn#prod#2 passes its check
    assert ok, output
    ok, output = _github(hosted, GOOD, delete=False, job_name="deploy")
    assert ok and "deploying churn v1.0.0" in output, output
    hosted.tag("churn#prod!#4")  # prod unassigned: nothing to deploy, whatever the tag says
    assert hosted.push_tags("churn#prod!#4").ok
    ok, output = _github(hosted, GOOD, delete=False, job_name="deploy")
    assert not ok and "churn has no version in prod" in output, output


def test_the_gitlab_deploy_job_reads_the_registry(hosted: World) -> None:
    assert _gitlab_doc()["gtoguard-deploy"]["needs"] == ["gtoguard"]
    ci = Path(tempfile.mkdtemp(prefix="gl-deploy-", dir=hosted.root)) / "checkout"
    git("clone", "-q", str(hosted.server), str(ci), cwd=hosted.root)
    git("checkout", "-q", "--detach", f"refs/tags/{GOOD}", cwd=ci)
    ok, output, _ = _gitlab_job("gtoguard-deploy", ci, {"CI_COMMIT_TAG": GOOD})
    assert ok and "deploying churn v1.0.0" in output, output


JOBS = ("gtoguard", "gtoguard-deploy", "gtoguard-audit")


@pytest.mark.parametrize("where", ["file", "project"])
def test_every_gitlab_job_installs_with_gitlabs_variable_scoping(
    hosted: World, built_wheel: Path, where: str
) -> None:
    """The spec is set where the template says, once: in the file's global variables or
    as a project CI/CD variable. Every job, the deploy job too, then installs from it; no
    job's own variables hide it (a job variable wins over a global one, even empty)."""
    doc = _gitlab_doc()
    assert set(JOBS) <= set(doc) and "GTOGUARD_PIP_SPEC" in doc["variables"]
    project = {"PIP_NO_INDEX": "1"}
    if where == "file":
        doc["variables"]["GTOGUARD_PIP_SPEC"] = str(built_wheel)
    else:
        project["GTOGUARD_PIP_SPEC"] = str(built_wheel)
    ci = Path(tempfile.mkdtemp(prefix="gl-scope-", dir=hosted.root)) / "checkout"
    git("clone", "-q", str(hosted.server), str(ci), cwd=hosted.root)
    git("checkout", "-q", "--detach", f"refs/tags/{GOOD}", cwd=ci)
    predefined = {
        "CI_COMMIT_TAG": GOOD,
        "CI_DEFAULT_BRANCH": "main",
        "CI_PIPELINE_CREATED_AT": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    for name in JOBS:
        _, output, env = _gitlab_job(name, ci, predefined, project, install=True, doc=doc)
        assert env["GTOGUARD_PIP_SPEC"] == str(built_wheel), name
        assert "set GTOGUARD_PIP_SPEC" not in output and "Invalid requirement" not in output, (
            f"{name}: {output}"
        )
    # unset everywhere, each job stops at its first step saying where to set it
    for name in JOBS:
        ok, output, _ = _gitlab_job(name, ci, predefined, {}, install=True)
        assert not ok and "set GTOGUARD_PIP_SPEC in the global variables" in output, name
