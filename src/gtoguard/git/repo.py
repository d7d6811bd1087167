"""The repository handle, and the only module that touches pygit2: refs, objects and
files read through it. What is not such a read lives beside it as functions taking a
``Repo``: ``branches``, ``tagrefs``, ``objects``, ``tagwriting``, ``remote``.

Opening honours git's environment (``GIT_DIR``, ``GIT_OBJECT_DIRECTORY``,
``GIT_ALTERNATE_OBJECT_DIRECTORIES``), so inside pre-receive the quarantined objects of
the push — the new tags, their commits, a pushed ``.gto`` — are visible (docs/design.md §7).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

import pygit2
from pygit2.enums import ObjectType, RepositoryOpenFlag

from gtoguard.errors import NotARepository, UsageError
from gtoguard.git import invoke
from gtoguard.model.printable import short
from gtoguard.model.refupdate import TAG_PREFIX, decode_ref
from gtoguard.model.tagobject import (
    READ_CAP,
    commit_problem,
)

if TYPE_CHECKING:
    import subprocess

_KINDS = {
    ObjectType.COMMIT: "commit",
    ObjectType.TREE: "tree",
    ObjectType.BLOB: "blob",
    ObjectType.TAG: "tag",
}
KIND_NAMES = frozenset(_KINDS.values())


_RAW_ARTIFACT_PART = re.compile(rb"[^@#]*(?=[@#])")


def namespace_prefix(namespace: str | None) -> str:
    """The ref prefix of a ``GIT_NAMESPACE``, as git expands it: ``team`` is
    ``refs/namespaces/team/``, ``a/b`` is ``refs/namespaces/a/refs/namespaces/b/``."""
    parts = [part for part in (namespace or "").split("/") if part]
    return "".join(f"refs/namespaces/{part}/" for part in parts)


class Repo:
    """A repository, its refs seen through ``GIT_NAMESPACE`` when one applies: every ref
    name given to or returned by these methods is the name inside the namespace
    (``refs/tags/churn@v1.0.0``, as pre-receive's stdin shows it), stored under
    ``refs/namespaces/team/`` in the repository (``namespace`` "team")."""

    def __init__(self, repo: pygit2.Repository, namespace: str = "") -> None:
        self._repo = repo
        self._kinds: dict[str, str] = {}
        self.namespace = "/".join(part for part in namespace.split("/") if part)
        self.prefix = namespace_prefix(namespace)  # "" for none

    def full(self, ref: str) -> str:
        return self.prefix + ref

    def inside(self, full: str) -> str:
        """A stored ref name as seen inside the namespace."""
        return full[len(self.prefix) :] if full.startswith(self.prefix) else full

    @property
    def tags_prefix(self) -> str:
        """Where this repository stores tags: ``refs/tags/``, inside a namespace
        ``refs/namespaces/<ns>/refs/tags/``."""
        return self.full(TAG_PREFIX)

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

    def tag_refs(self, artifacts: set[bytes] | None = None) -> dict[str, str]:
        """Tag name -> the object it points at, for every tag (or the tags of
        ``artifacts``, as tag names spell them), in one pass over the refs (a lookup per
        name costs five times as much at 100,000 tags)."""
        prefix = self.full(TAG_PREFIX).encode("utf-8", "surrogateescape")
        cut = len(prefix)
        found = {}
        for ref in self._repo.references.iterator():
            raw = ref.raw_name
            if not raw.startswith(prefix):
                continue
            if artifacts is not None:
                part = _RAW_ARTIFACT_PART.match(raw, cut)
                if part is None or part.group() not in artifacts:
                    continue
            if ref.type == pygit2.enums.ReferenceType.SYMBOLIC:
                target = self.stored_target(decode_ref(raw))
                if target is None:
                    continue
            else:
                target = str(ref.target)
            found[decode_ref(raw[cut:])] = target
        return found

    def raw_ref_names(self) -> list[bytes]:
        """Every stored ref name, as bytes (the names of every namespace)."""
        return list(self._repo.raw_listall_references())

    def ref_target(self, ref: str) -> str | None:
        """The object ``ref`` (a name inside the namespace) points at, symbolic refs
        followed; None when it does not exist."""
        return self.stored_target(self.full(ref))

    def stored_target(self, full: str) -> str | None:
        try:
            found = self._repo.references.get(full)
            if found is None:
                return None
            if found.type == pygit2.enums.ReferenceType.SYMBOLIC:
                found = found.resolve()
            return str(found.target)
        except (KeyError, ValueError, pygit2.GitError):  # a dangling or bad symbolic ref
            return None

    def symbolic_target(self, ref: str) -> str | None:
        """The ref a symbolic ``ref`` names (inside the namespace); None if not symbolic."""
        found = self.stored_symbolic(self.full(ref))
        return None if found is None else self.inside(found)

    def landing_ref(self, ref: str) -> str:
        """The ref an update of ``ref`` writes: a symbolic ref (``refs/heads/master ->
        refs/heads/main``, left after a rename) is followed to the ref it names, which is
        what git updates. A chain is followed a few links; a loop stays where it is."""
        seen = {ref}
        for _ in range(5):
            target = self.symbolic_target(ref)
            if target is None or target in seen:
                return ref
            seen.add(target)
            ref = target
        return ref

    def stored_symbolic(self, full: str) -> str | None:
        try:
            found = self._repo.references.get(full)
        except (ValueError, pygit2.GitError):
            return None
        if found is None or found.type != pygit2.enums.ReferenceType.SYMBOLIC:
            return None
        return str(found.target)

    def reaches(self, tip: str, commit: str) -> bool:
        """Whether ``commit`` is ``tip`` or one of its ancestors. git answers it: with a
        commit-graph (``git gc`` writes one) its generation numbers stop the walk early,
        4 ms where libgit2 walks 200,000 commits for 2 s; without one git still walks
        faster. libgit2 answers only if git cannot."""
        if tip == commit:
            return True
        done = self.git("merge-base", "--is-ancestor", commit, tip)
        if done.returncode in (0, 1):
            return done.returncode == 0
        try:
            return bool(self._repo.descendant_of(tip, commit))
        except (KeyError, ValueError, pygit2.GitError):
            return False

    # --- objects ---

    def header(self, oid: str) -> tuple[str, int]:
        """(kind, size in bytes) of object ``oid``; a ``KeyError`` when it is not here (or
        cannot be read)."""
        try:
            kind, size = self._repo.odb.read_header(oid)
        except (KeyError, ValueError, pygit2.GitError):
            raise KeyError(oid) from None
        return _KINDS.get(kind, "unknown"), size

    def raw(self, oid: str) -> bytes:
        """The content of object ``oid``, whole (its header says how large it is)."""
        return bytes(self._repo.odb.read(oid)[1])

    def undatable(self, oid: str) -> str | None:
        """Why gto cannot read commit ``oid`` (``tagobject.commit_problem``: its author,
        committer, encoding or date), or None; its raw bytes are read, never parsed by
        libgit2 (which raises on what it cannot parse). A commit larger than READ_CAP
        is read by its head (gto holds it whole: that is its own cost)."""
        try:
            kind, size = self._repo.odb.read_header(oid)
            if kind != ObjectType.COMMIT:
                return None
            raw = bytes(self._repo.odb.read(oid)[1]) if size <= READ_CAP else b""
        except (KeyError, ValueError, pygit2.GitError):
            return None
        if not raw:
            return None  # too large to read here: its headers are git's to vouch for
        why = commit_problem(raw)
        return f"{short(oid)}: {why}" if why else None

    def kind_of(self, oid: str) -> str:
        """The type of a tag's target; tags share commits, so each is looked up once."""
        kind = self._kinds.get(oid)
        if kind is None:
            if len(self._kinds) > 200_000:  # a whole registry: bounded, not one per commit
                self._kinds.clear()
            try:
                header = self._repo.odb.read_header(oid)
            except (KeyError, ValueError, pygit2.GitError):
                return "missing"
            kind = _KINDS.get(header[0], "unknown")
            self._kinds[oid] = kind
        return kind

    def _get(self, oid: str | None) -> pygit2.Object | None:
        """The object ``oid``, or None where there is none or libgit2 cannot parse it (a
        pushed commit with a malformed author line raises on lookup: content, not a
        failure of the server; ``undatable`` says what is wrong with it)."""
        if oid is None:
            return None
        try:
            return self._repo.get(oid)
        except pygit2.InvalidError:  # it is there, and malformed; anything else is raised
            return None

    def raw_tag_message(self, oid: str) -> bytes:
        """The raw message of tag object ``oid``, a signature block included (b"" if it is
        not a tag)."""
        tag = self._repo.get(oid)
        return bytes(tag.raw_message) if isinstance(tag, pygit2.Tag) else b""

    def blob_id_at(self, commit: str | None, path: str) -> str | None:
        """The id of the entry at ``path`` in ``commit``'s tree; None when absent."""
        obj = self._get(commit)
        if not isinstance(obj, pygit2.Commit):
            return None
        try:
            return str(obj.tree[path].id)
        except KeyError:
            return None

    def entry_at(self, commit: str | None, path: str) -> tuple[str, int] | None:
        """(object id, git file mode) of the entry at ``path`` in ``commit``'s tree."""
        obj = self._get(commit)
        if not isinstance(obj, pygit2.Commit):
            return None
        try:
            entry = obj.tree[path]
        except KeyError:
            return None
        return str(entry.id), int(entry.filemode)

    def listed_twice(self, commit: str, path: str) -> str | None:
        """The first part of ``path`` that a tree on the way lists more than once (what
        ``git fsck`` calls duplicateEntries: git's readers then disagree on which entry
        they read), or None."""
        obj = self._get(commit)
        if not isinstance(obj, pygit2.Commit):
            return None
        tree: object = obj.tree
        parts = path.split("/")
        for depth, part in enumerate(parts):
            if not isinstance(tree, pygit2.Tree):
                return None
            named = [entry for entry in tree if entry.name == part]
            if len(named) > 1:
                return "/".join(parts[: depth + 1])
            if not named:
                return None
            tree = self._get(str(named[0].id))
        return None

    def file_at(self, commit: str | None, path: str) -> bytes | None:
        """The blob at ``path`` in ``commit``'s tree; None when absent (or not a file)."""
        entry = self.blob_id_at(commit, path)
        blob = self._get(entry)
        return bytes(blob.data) if isinstance(blob, pygit2.Blob) else None

    def checkout_attributes(self, commit: str, paths: Iterable[str]) -> list[tuple[str, str, str]]:
        """(path, attribute, value) of every attribute a checkout of ``commit`` gives
        ``paths``, as git reads that commit's .gitattributes (its tree put in a throwaway
        index: a bare repository has no working tree to ask)."""
        import tempfile

        with tempfile.TemporaryDirectory(prefix="gtoguard-attributes-") as scratch:
            env = invoke.environ({"GIT_INDEX_FILE": os.path.join(scratch, "index")})
            cwd = self.workdir or self.path
            if invoke.run(["read-tree", commit], cwd, env=env).returncode != 0:
                return []
            done = invoke.run(["check-attr", "--cached", "-a", "-z", "--", *paths], cwd, env=env)
        fields = done.stdout.split(b"\0")
        return [
            (
                fields[i].decode("utf-8", "replace"),
                fields[i + 1].decode("utf-8", "replace"),
                fields[i + 2].decode("utf-8", "replace"),
            )
            for i in range(0, len(fields) - 2, 3)
        ]

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
        obj = self._get(oid)
        return int(obj.commit_time) if isinstance(obj, pygit2.Commit) else 0

    def commit_facts(self, oid: str) -> tuple[int, int, str, str, str, str, str] | None:
        """(committer time, committer's offset, author, author e-mail, committer,
        committer e-mail, message) of a commit; None if ``oid`` is not one."""
        obj = self._get(oid)
        if not isinstance(obj, pygit2.Commit):
            return None
        author, committer = obj.author, obj.committer
        return (
            int(committer.time),
            int(committer.offset),
            author.name,
            author.email,
            committer.name,
            committer.email,
            obj.message,
        )

    def config_value(self, key: str) -> str | None:
        try:
            return str(self._repo.config[key])
        except (KeyError, pygit2.GitError, ValueError):
            return None

    # --- writing, through git itself (identity, signing and ref locking as git does) ---

    def git(self, *args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
        return invoke.run(args, self.workdir or self.path, input=stdin)


def open_repo(path: str | None = None, namespace: str | None = None) -> Repo:
    """``path`` given: that repository (or the one above it). None: as git's environment
    says, which is how hooks must open it so that quarantined objects are visible.

    ``namespace``: the ``GIT_NAMESPACE`` whose refs to read ("" for none). By default the
    environment's, for a bare repository only: git applies namespaces in receive-pack and
    upload-pack, which serve bare repositories; a working clone's refs (pre-push, the
    helper) are never namespaced, whatever the environment says."""
    try:
        if path is None:
            repo = _open_from_env()
        else:
            if os.path.exists(path) and not os.path.isdir(path):
                raise NotARepository(
                    f"not a git repository: {path} is a file",
                    "pass the repository's directory with --repo",
                )
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
    if namespace is None:
        namespace = os.environ.get("GIT_NAMESPACE", "") if repo.is_bare else ""
    return Repo(repo, namespace)


def _open_from_env() -> pygit2.Repository:
    """libgit2's FROM_ENV open also applies ``GIT_NAMESPACE``, but to loose refs only
    (packed ones vanish): open without it, and let ``Repo`` add the prefix itself."""
    namespace = os.environ.pop("GIT_NAMESPACE", None)
    try:
        return pygit2.Repository(os.environ.get("GIT_DIR", "."), RepositoryOpenFlag.FROM_ENV)
    finally:
        if namespace is not None:
            os.environ["GIT_NAMESPACE"] = namespace
