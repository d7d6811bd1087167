"""The only module that touches pygit2.

Opening honours git's environment (``GIT_DIR``, ``GIT_OBJECT_DIRECTORY``,
``GIT_ALTERNATE_OBJECT_DIRECTORIES``), so inside pre-receive the quarantined objects of
the push — the new tags, their commits, a pushed ``.gto`` — are visible (DESIGN §7).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import pygit2
from pygit2.enums import ObjectType, RepositoryOpenFlag

from .errors import NotARepository
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
        return self.ref.removeprefix("refs/heads/")


class Repo:
    def __init__(self, repo: pygit2.Repository) -> None:
        self._repo = repo

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

    def tag_names(self) -> list[str]:
        prefix = TAG_PREFIX.encode()
        return [
            decode_ref(raw[len(prefix) :])
            for raw in self._repo.raw_listall_references()
            if raw.startswith(prefix)
        ]

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

    # --- objects ---

    def object_info(self, oid: str) -> GitObject:
        obj = self._repo.get(oid)
        if obj is None:
            raise KeyError(oid)
        kind = _KINDS.get(obj.type, "unknown")
        if not isinstance(obj, pygit2.Tag):
            return GitObject(oid, kind)
        target = self._repo.get(obj.target)
        tagger = obj.tagger
        return GitObject(
            oid=oid,
            kind="tag",
            target=str(obj.target),
            target_kind=_KINDS.get(target.type, "unknown") if target is not None else "missing",
            time=tagger.time if tagger is not None else None,
            offset=tagger.offset if tagger is not None else 0,
            tagger=_text(tagger, "name"),
            email=_text(tagger, "email"),
            message=obj.raw_message.decode("utf-8", "replace"),
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

    def config_value(self, key: str) -> str | None:
        try:
            return str(self._repo.config[key])
        except (KeyError, pygit2.GitError, ValueError):
            return None


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
