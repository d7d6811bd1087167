"""Tags written through git itself (identity, signing and ref locking as git does them):
who tags, a tag created (and a signature that did not happen undone), a tag deleted."""

from __future__ import annotations

from gtoguard.errors import CannotRun
from gtoguard.git.repo import Repo
from gtoguard.model.refupdate import TAG_PREFIX
from gtoguard.model.tagobject import Identity, parse_ident


def first_line(data: bytes) -> str:
    lines = [line.strip() for line in data.decode("utf-8", "replace").splitlines()]
    lines = [line.removeprefix("fatal: ").removeprefix("error: ") for line in lines if line]
    return lines[0] if lines else ""


def identity(repo: Repo) -> Identity:
    """The tagger git would write now (``GIT_COMMITTER_*`` or user.name/user.email)."""
    done = repo.git("var", "GIT_COMMITTER_IDENT")
    found = parse_ident(done.stdout.decode("utf-8", "replace").strip())
    if done.returncode != 0 or found is None:
        reason = first_line(done.stderr) or "no committer identity"
        raise CannotRun(
            f"git cannot say who you are: {reason}",
            'git config --global user.name "Your Name" && '
            "git config --global user.email you@example.com",
        )
    return found


def create_tag(repo: Repo, name: str, commit: str, message: str, sign: bool) -> str:
    """Create an annotated tag with git (``git tag -s`` when signing); its object id.
    Refuses to overwrite an existing tag."""
    body = message if not sign else message.rstrip("\n") + "\n"
    done = repo.git(
        "tag",
        "-a",
        "-s" if sign else "--no-sign",
        "--cleanup=verbatim",
        "-F",
        "-",
        "--",
        name,
        commit,
        stdin=body.encode("utf-8"),
    )
    if done.returncode != 0:
        hint = "check user.signingKey and gpg.format (git tag -s must work)" if sign else None
        raise CannotRun(f"git could not create tag {name!r}: {first_line(done.stderr)}", hint)
    oid = repo.ref_target(TAG_PREFIX + name)
    if oid is None:
        raise CannotRun(f"git created tag {name!r} but it cannot be read back")
    if sign:
        _check_signed(repo, name, oid, body)
    return oid


def _check_signed(repo: Repo, name: str, oid: str, body: str) -> None:
    """git 2.39 writes ssh-keygen's error text in place of a signature and exits 0
    when the key cannot be loaded; such a tag must not survive."""
    raw = repo.raw_tag_message(oid)
    signature = raw[len(body.encode("utf-8")) :] if raw.startswith(body.encode()) else b""
    if signature.startswith(b"-----BEGIN "):
        return
    delete_tag(repo, name, oid)
    found = signature.decode("utf-8", "replace").strip().splitlines()
    raise CannotRun(
        f"git could not create tag {name!r}: it was not signed"
        + (f" ({found[0][:200]})" if found else ""),
        "check user.signingKey and gpg.format (git tag -s must work)",
    )


def delete_tag(repo: Repo, name: str, oid: str) -> bool:
    """Delete a tag only if it still points at ``oid``."""
    return repo.git("update-ref", "-d", TAG_PREFIX + name, oid).returncode == 0
