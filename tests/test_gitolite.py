"""gitolite3 over SSH on loopback, as docs/servers/gitolite.md sets it up: gitolite's own
update hook stays, gtoguard is the pre-receive hook of the repository, and GL_USER (the
SSH key's owner, set by gitolite-shell) is the pusher.

sshd runs as root on a free loopback port with the gitolite home's authorized_keys; the
test needs root (CI runs as root) and the Debian packages gitolite3 and openssh-server.
"""

from __future__ import annotations

from pathlib import Path

from servers import as_user

from conftest import git


def test_gitolite_user_is_the_pusher(gitolite: tuple[Path, dict[str, str], Path]) -> None:
    root, commands, repo = gitolite
    work = root / "work"
    ok, output = as_user("alice", commands, "clone", "-q", commands["url"], str(work), cwd=root)
    assert ok, output
    (work / ".gto").write_text("stages: [dev, prod]\n")
    (work / ".gtoguard.yaml").write_text("stages:\n  prod: {pushers: [alice]}\n")
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", "registry", cwd=work)
    ok, output = as_user("alice", commands, "push", "origin", "HEAD:main", cwd=work)
    assert ok, output
    git("tag", "-a", "churn@v1.0.0", "-m", "register", cwd=work)
    git("tag", "-a", "churn#prod#1", "-m", "promote", cwd=work)
    ok, output = as_user("bob", commands, "push", "origin", "--tags", cwd=work)
    assert not ok
    assert "[pusher-not-allowed] bob (from GL_USER) may not assign stage prod" in output, output
    assert git("tag", "--list", cwd=repo).stdout == ""  # nothing landed
    ok, output = as_user("alice", commands, "push", "origin", "--tags", cwd=work)
    assert ok, output
    assert set(git("tag", "--list", cwd=repo).stdout.split()) == {"churn@v1.0.0", "churn#prod#1"}
