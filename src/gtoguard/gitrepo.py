"""The only module that touches pygit2.

Opening honours git's environment (``GIT_DIR``, ``GIT_OBJECT_DIRECTORY``,
``GIT_ALTERNATE_OBJECT_DIRECTORIES``), so inside pre-receive the quarantined objects of
the push — the new tags, their commits, a pushed ``.gto`` — are visible (DESIGN §7).
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import pygit2
from pygit2.enums import ObjectType, RepositoryOpenFlag

from .errors import CannotRun, NotARepository, UsageError
from .policy import CONFIG_FILES
from .refupdate import TAG_PREFIX, RefUpdate, decode_ref
from .rules import GitObject
from .tagname import artifact_to_tag

_KINDS = {
    ObjectType.COMMIT: "commit",
    ObjectType.TREE: "tree",
    ObjectType.BLOB: "blob",
    ObjectType.TAG: "tag",
}


@dataclass(frozen=True)
class Branch:
    ref: str  # e.g. refs/heads/main
    commit: str | None  # None: the branch does not exist (yet)

    @property
    def short(self) -> str:
        for prefix in ("refs/heads/", "refs/remotes/"):
            if self.ref.startswith(prefix):
                return self.ref[len(prefix) :]
        return self.ref


class Repo:
    def __init__(self, repo: pygit2.Repository) -> None:
        self._repo = repo
        self._kinds: dict[str, str] = {}

    @property
    def path(self) -> str:
        return str(self._repo.path)

    @property
    def bare(self) -> bool:
        return bool(self._repo.is_bare)

    @property
    def workdir(self) -> str | None:
        workdir = self._repo.workdir
        return str(workdir) if workdir else None

    # --- refs ---

    def tag_names(self, artifacts: Iterable[str] | None = None) -> list[str]:
        """Every tag name, or only the names of ``artifacts``' tags. For the latter git
        looks the names up in its sorted ref store (``for-each-ref`` with patterns), so the
        hook's cost does not grow with the number of tags in the repository."""
        cut = len(TAG_PREFIX)
        if artifacts is not None:
            patterns = [f"{TAG_PREFIX}{artifact_to_tag(a)}{sep}*" for a in artifacts
                        for sep in ("@", "#")]  # fmt: skip
            if not patterns:
                return []
            done = self.git("for-each-ref", "--format=%(refname)", *patterns)
            if done.returncode == 0:
                return [decode_ref(raw[cut:]) for raw in done.stdout.splitlines() if raw]
            prefixes = tuple(p[:-1].encode("utf-8", "surrogateescape") for p in patterns)
        else:
            prefixes = (TAG_PREFIX.encode(),)
        return [
            decode_ref(raw[cut:])
            for raw in self._repo.raw_listall_references()
            if raw.startswith(prefixes)
        ]

    def tag_refs(self) -> dict[str, str]:
        """Tag name -> the object it points at, for every tag, in one pass over the refs
        (a lookup per name costs five times as much at 100,000 tags)."""
        prefix = TAG_PREFIX.encode()
        found = {}
        for ref in self._repo.references.iterator():
            raw = ref.raw_name
            if not raw.startswith(prefix):
                continue
            if ref.type == pygit2.enums.ReferenceType.SYMBOLIC:
                target = self.ref_target(decode_ref(raw))
                if target is None:
                    continue
            else:
                target = str(ref.target)
            found[decode_ref(raw[len(prefix) :])] = target
        return found

    def ref_target(self, ref: str) -> str | None:
        try:
            found = self._repo.references.get(ref)
        except (ValueError, pygit2.GitError):
            return None
        if found is None:
            return None
        target = (
            found.resolve().target
            if found.type == pygit2.enums.ReferenceType.SYMBOLIC
            else found.target
        )
        return str(target)

    def symbolic_target(self, ref: str) -> str | None:
        found = self._repo.references.get(ref)
        if found is None or found.type != pygit2.enums.ReferenceType.SYMBOLIC:
            return None
        return str(found.target)

    def default_branch(self, remote: str | None = None) -> Branch:
        """The bare repo's HEAD; for pre-push the remote's HEAD as last fetched, else ours."""
        candidates = [f"refs/remotes/{remote}/HEAD"] if remote else []
        candidates.append("HEAD")
        for head in candidates:
            points_to = self.symbolic_target(head)
            if points_to is None:
                continue
            if points_to.startswith("refs/remotes/"):
                branch = "refs/heads/" + points_to.split("/", 3)[3]
                return Branch(branch, self.ref_target(points_to))
            return Branch(points_to, self.ref_target(points_to))
        return Branch("HEAD", self.ref_target("HEAD"))  # detached: no branch name to report

    def named_branch(self, name: str) -> Branch:
        """A branch given by the user: ``main``, ``origin/main`` or a full ref."""
        for ref in (name, f"refs/heads/{name}", f"refs/remotes/{name}"):
            if ref.startswith("refs/") and (commit := self.ref_target(ref)) is not None:
                return Branch(ref, commit)
        raise UsageError(
            f"no branch {name!r} here",
            "give a local branch (main) or a remote-tracking one (origin/main); "
            "in CI fetch it first",
        )

    def branch_tips(self, remote: str | None = None) -> dict[str, str]:
        """Branch name -> commit: the remote's branches as last fetched when ``remote``
        has any here, else the local branches (only those refs are read, not the tags)."""
        prefixes = ([f"refs/remotes/{remote}/"] if remote else []) + ["refs/heads/"]
        for prefix in prefixes:
            done = self.git("for-each-ref", "--format=%(refname)%00%(objectname)", prefix)
            if done.returncode != 0:
                continue
            tips = {}
            for line in done.stdout.splitlines():
                raw, _, oid = line.partition(b"\0")
                name = decode_ref(raw)
                if not name.endswith("/HEAD"):
                    tips[name[len(prefix) :]] = oid.decode("ascii")
            if tips:
                return tips
        return {}

    def reaches(self, tip: str, commit: str) -> bool:
        """Whether ``commit`` is ``tip`` or one of its ancestors."""
        if tip == commit:
            return True
        try:
            return bool(self._repo.descendant_of(tip, commit))
        except (KeyError, ValueError, pygit2.GitError):
            return False

    # --- objects ---

    def object_info(self, oid: str) -> GitObject:
        try:
            obj = self._repo.get(oid)
        except pygit2.GitError:  # libgit2 refuses some tag objects git accepts
            return self._raw_tag_info(oid)
        if obj is None:
            raise KeyError(oid)
        kind = _KINDS.get(obj.type, "unknown")
        if not isinstance(obj, pygit2.Tag):
            return GitObject(oid, kind)
        tagger = obj.tagger
        return GitObject(
            oid=oid,
            kind="tag",
            target=str(obj.target),
            target_kind=self._kind_of(str(obj.target)),
            time=tagger.time if tagger is not None else None,
            offset=tagger.offset if tagger is not None else 0,
            tagger=_text(tagger, "name"),
            email=_text(tagger, "email"),
            message=obj.raw_message.decode("utf-8", "replace"),
        )

    def _kind_of(self, oid: str) -> str:
        """The type of a tag's target; tags share commits, so each is looked up once."""
        kind = self._kinds.get(oid)
        if kind is None:
            try:
                target = self._repo.get(oid)
            except (pygit2.GitError, ValueError):
                return "unknown"
            kind = _KINDS.get(target.type, "unknown") if target is not None else "missing"
            self._kinds[oid] = kind
        return kind

    def _raw_tag_info(self, oid: str) -> GitObject:
        """Read a tag object's headers ourselves (git's format: object, type, tag,
        tagger, then a blank line and the message); a bad tagger line means no date."""
        try:
            kind, data = self._repo.odb.read(oid)
        except (KeyError, ValueError, pygit2.GitError):
            raise KeyError(oid) from None
        if kind != ObjectType.TAG:
            return GitObject(oid, _KINDS.get(kind, "unknown"))
        head, _, message = bytes(data).partition(b"\n\n")
        fields: dict[bytes, bytes] = {}
        for line in head.split(b"\n"):
            key, _, value = line.partition(b" ")
            fields.setdefault(key, value)
        target = fields.get(b"object", b"").decode("ascii", "replace")
        who = parse_ident(fields.get(b"tagger", b"").decode("utf-8", "replace"))
        return GitObject(
            oid=oid,
            kind="tag",
            target=target or None,
            target_kind=self._kind_of(target) if target else "missing",
            time=who.time if who else None,
            offset=who.offset if who else 0,
            tagger=who.name if who else "",
            email=who.email if who else "",
            message=message.decode("utf-8", "replace"),
        )

    def tags_of(
        self, artifacts: Iterable[str], names: Iterable[str]
    ) -> Iterator[tuple[str, GitObject]]:
        """(name, object) of every tag whose name starts like one of the artifacts' tags."""
        prefixes = tuple(artifact_to_tag(a) + sep for a in artifacts for sep in ("@", "#"))
        if not prefixes:
            return
        for name in names:
            if name.startswith(prefixes):
                oid = self.ref_target(TAG_PREFIX + name)
                if oid is not None:
                    yield name, self.object_info(oid)

    def blob_id_at(self, commit: str | None, path: str) -> str | None:
        """The id of the entry at ``path`` in ``commit``'s tree; None when absent."""
        obj = self._repo.get(commit) if commit is not None else None
        if not isinstance(obj, pygit2.Commit):
            return None
        try:
            return str(obj.tree[path].id)
        except KeyError:
            return None

    def file_at(self, commit: str | None, path: str) -> bytes | None:
        """The blob at ``path`` in ``commit``'s tree; None when absent (or not a file)."""
        entry = self.blob_id_at(commit, path)
        blob = self._repo.get(entry) if entry is not None else None
        return bytes(blob.data) if isinstance(blob, pygit2.Blob) else None

    def config_changes(
        self, updates: Iterable[RefUpdate], branch: Branch
    ) -> list[tuple[RefUpdate, str]]:
        """(update, file) for each config file a default-branch update changes; blob ids
        only, so nothing is parsed for a push that leaves the files alone."""
        changes = []
        for update in updates:
            if update.ref != branch.ref or update.deleted:
                continue
            old = None if update.created else update.old
            for name in CONFIG_FILES:
                if self.blob_id_at(old, name) != self.blob_id_at(update.new, name):
                    changes.append((update, name))
        return changes

    def resolve(self, rev: str) -> tuple[str, str]:
        """(object id, kind) of a revision, annotated tags peeled (``REV^{}``); a
        ``UsageError`` when git does not know it."""
        try:
            obj: pygit2.Object | None = self._repo.revparse_single(rev)
        except (KeyError, ValueError, pygit2.GitError):
            obj = None
        while isinstance(obj, pygit2.Tag):
            obj = self._repo.get(obj.target)
        if obj is None:
            raise UsageError(
                f"unknown revision {rev!r}", "give a commit, branch or tag that exists here"
            )
        return str(obj.id), _KINDS.get(obj.type, "unknown")

    def commit_time(self, oid: str) -> int:
        """Committer time of a commit (0 if it is not one): gto's "enrichment" event."""
        obj = self._repo.get(oid)
        return int(obj.commit_time) if isinstance(obj, pygit2.Commit) else 0

    def config_value(self, key: str) -> str | None:
        try:
            return str(self._repo.config[key])
        except (KeyError, pygit2.GitError, ValueError):
            return None

    # --- writing, through git itself (identity, signing and ref locking as git does) ---

    def git(self, *args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
        cwd = self.workdir or self.path
        try:
            return subprocess.run(
                ["git", *args], cwd=cwd, input=stdin, capture_output=True, check=False
            )
        except OSError as exc:
            raise CannotRun(f"cannot run git: {exc.strerror}", "install git") from None

    def identity(self) -> Identity:
        """The tagger git would write now (``GIT_COMMITTER_*`` or user.name/user.email)."""
        done = self.git("var", "GIT_COMMITTER_IDENT")
        found = parse_ident(done.stdout.decode("utf-8", "replace").strip())
        if done.returncode != 0 or found is None:
            reason = _first_line(done.stderr) or "no committer identity"
            raise CannotRun(
                f"git cannot say who you are: {reason}",
                'git config --global user.name "Your Name" && '
                "git config --global user.email you@example.com",
            )
        return found

    def create_tag(self, name: str, commit: str, message: str, sign: bool) -> str:
        """Create an annotated tag with git (``git tag -s`` when signing); its object id.
        Refuses to overwrite an existing tag."""
        body = message if not sign else message.rstrip("\n") + "\n"
        done = self.git(
            "tag", "-a", "-s" if sign else "--no-sign", "--cleanup=verbatim", "-F", "-",
            "--", name, commit, stdin=body.encode("utf-8"),
        )  # fmt: skip
        if done.returncode != 0:
            hint = "check user.signingKey and gpg.format (git tag -s must work)" if sign else None
            raise CannotRun(f"git could not create tag {name!r}: {_first_line(done.stderr)}", hint)
        oid = self.ref_target(TAG_PREFIX + name)
        if oid is None:
            raise CannotRun(f"git created tag {name!r} but it cannot be read back")
        if sign:
            self._check_signed(name, oid, body)
        return oid

    def _check_signed(self, name: str, oid: str, body: str) -> None:
        """git 2.39 writes ssh-keygen's error text in place of a signature and exits 0
        when the key cannot be loaded; such a tag must not survive."""
        tag = self._repo.get(oid)
        raw = bytes(tag.raw_message) if isinstance(tag, pygit2.Tag) else b""
        signature = raw[len(body.encode("utf-8")) :] if raw.startswith(body.encode()) else b""
        if signature.startswith(b"-----BEGIN "):
            return
        self.delete_tag(name, oid)
        found = signature.decode("utf-8", "replace").strip().splitlines()
        raise CannotRun(
            f"git could not create tag {name!r}: it was not signed"
            + (f" ({found[0][:200]})" if found else ""),
            "check user.signingKey and gpg.format (git tag -s must work)",
        )

    def delete_tag(self, name: str, oid: str) -> bool:
        """Delete a tag only if it still points at ``oid``."""
        return self.git("update-ref", "-d", TAG_PREFIX + name, oid).returncode == 0

    def remote_tag_names(self, remote: str) -> list[str]:
        done = self.git("ls-remote", "--tags", "--refs", "--", remote)
        if done.returncode != 0:
            raise CannotRun(
                f"cannot list the tags of {remote!r}: {_first_line(done.stderr)}",
                "check the remote name and your access (git ls-remote --tags REMOTE)",
            )
        names = []
        for line in done.stdout.splitlines():
            _, _, ref = line.partition(b"\t")
            if ref.startswith(TAG_PREFIX.encode()):
                names.append(decode_ref(ref[len(TAG_PREFIX) :]))
        return names

    def push_tags(self, remote: str, names: Sequence[str]) -> subprocess.CompletedProcess[bytes]:
        refspecs = [f"{TAG_PREFIX}{n}:{TAG_PREFIX}{n}" for n in names]
        return self.git("push", "--atomic", "--porcelain", "--", remote, *refspecs)


@dataclass(frozen=True)
class Identity:
    name: str
    email: str
    time: int
    offset: int  # minutes east of UTC


_IDENT = re.compile(r"(?P<name>.*) <(?P<email>[^<>]*)> (?P<time>[0-9]+) (?P<tz>[+-][0-9]{4})")


def parse_ident(text: str) -> Identity | None:
    """``Name <email> 1700000000 +0100`` as git writes it; None if it is not that."""
    match = _IDENT.fullmatch(text)
    if match is None:
        return None
    sign, hours, minutes = match["tz"][0], int(match["tz"][1:3]), int(match["tz"][3:5])
    offset = (hours * 60 + minutes) * (-1 if sign == "-" else 1)
    return Identity(match["name"], match["email"], int(match["time"]), offset)


def _first_line(data: bytes) -> str:
    lines = [line.strip() for line in data.decode("utf-8", "replace").splitlines()]
    lines = [line.removeprefix("fatal: ").removeprefix("error: ") for line in lines if line]
    return lines[0] if lines else ""


def _text(signature: pygit2.Signature | None, field: str) -> str:
    if signature is None:
        return ""
    try:
        return str(getattr(signature, field))
    except (UnicodeDecodeError, ValueError):
        raw = getattr(signature, f"raw_{field}")
        return bytes(raw).decode("utf-8", "replace")


def open_repo(path: str | None = None) -> Repo:
    """``path`` given: that repository (or the one above it). None: as git's environment
    says, which is how hooks must open it so that quarantined objects are visible."""
    try:
        if path is None:
            repo = pygit2.Repository(os.environ.get("GIT_DIR", "."), RepositoryOpenFlag.FROM_ENV)
        else:
            found = pygit2.discover_repository(path)
            if found is None:
                raise NotARepository(
                    f"not a git repository: {path}", "run it inside a repository or pass --repo"
                )
            repo = pygit2.Repository(found)
    except pygit2.GitError as exc:
        where = path or os.environ.get("GIT_DIR", os.getcwd())
        raise NotARepository(
            f"not a git repository: {where} ({exc})", "run it inside a repository or pass --repo"
        ) from None
    return Repo(repo)
