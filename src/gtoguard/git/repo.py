"""The only module that touches pygit2.

Opening honours git's environment (``GIT_DIR``, ``GIT_OBJECT_DIRECTORY``,
``GIT_ALTERNATE_OBJECT_DIRECTORIES``), so inside pre-receive the quarantined objects of
the push — the new tags, their commits, a pushed ``.gto`` — are visible (DESIGN §7).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, NamedTuple

import pygit2
from pygit2.enums import ObjectType, RepositoryOpenFlag

from gtoguard.errors import CannotRun, NotARepository, UsageError
from gtoguard.git import invoke, objectfiles
from gtoguard.git.refstore import RefStore
from gtoguard.model.refupdate import BRANCH_PREFIX, TAG_PREFIX, RefUpdate, decode_ref
from gtoguard.model.tagname import artifact_to_tag
from gtoguard.model.tagobject import (
    HEAD_CAP,
    READ_CAP,
    Canonical,
    Identity,
    canonical,
    commit_problem,
    parse_ident,
    parse_tag_object,
)
from gtoguard.policy import timebudget
from gtoguard.policy.rules.violation import GitObject
from gtoguard.policy.settings import CONFIG_FILES, INDEX_FILE

if TYPE_CHECKING:
    import subprocess

_KINDS = {
    ObjectType.COMMIT: "commit",
    ObjectType.TREE: "tree",
    ObjectType.BLOB: "blob",
    ObjectType.TAG: "tag",
}
_KIND_NAMES = frozenset(_KINDS.values())


BULK_READ = 4096  # tags of the pushed artifacts read by one git cat-file past this many
FEW_ARTIFACTS = 8  # more artifacts in one push: one pass over the refs (Repo.tag_names)


_ARTIFACT_PART = re.compile(r"[^@#]*(?=[@#])")  # a tag name's text before its first @ or #
_RAW_ARTIFACT_PART = re.compile(rb"[^@#]*(?=[@#])")


def _artifact_part(name: str) -> str | None:
    """The artifact as a tag name spells it (the key that files a tag under its
    artifact), or None for a name with neither '@' nor '#'."""
    found = _ARTIFACT_PART.match(name)
    return found.group() if found else None


class Branch(NamedTuple):
    ref: str  # e.g. refs/heads/main (without the GIT_NAMESPACE prefix)
    commit: str | None  # None: the branch does not exist (yet)
    # Set when a bare repository's HEAD names this branch, it does not exist and other
    # branches do: why the default branch cannot be read, and how to fix it. gtoguard then
    # refuses to judge GTO tags rather than silently apply the default rules.
    missing: str | None = None
    fix: str | None = None
    remote: str | None = None  # a client: the remote whose branch this is, as last fetched

    @property
    def short(self) -> str:
        for prefix in ("refs/heads/", "refs/remotes/"):
            if self.ref.startswith(prefix):
                return self.ref[len(prefix) :]
        return self.ref

    @property
    def label(self) -> str:
        """How messages name it, as git names the revision: ``main`` on a server,
        ``origin/main`` on a client (the remote's branch as last fetched)."""
        return f"{self.remote}/{self.short}" if self.remote else self.short


def namespace_prefix(namespace: str | None) -> str:
    """The ref prefix of a ``GIT_NAMESPACE``, as git expands it: ``team`` is
    ``refs/namespaces/team/``, ``a/b`` is ``refs/namespaces/a/refs/namespaces/b/``."""
    parts = [part for part in (namespace or "").split("/") if part]
    return "".join(f"refs/namespaces/{part}/" for part in parts)


def _literal(text: str) -> str:
    """``text`` as a for-each-ref pattern that matches only itself (wildmatch escapes)."""
    return "".join("\\" + char if char in "*?[\\" else char for char in text)


class Repo:
    """A repository, its refs seen through ``GIT_NAMESPACE`` when one applies: every ref
    name given to or returned by these methods is the name inside the namespace
    (``refs/tags/churn@v1.0.0``, as pre-receive's stdin shows it), stored under
    ``refs/namespaces/team/`` in the repository (``namespace`` "team")."""

    def __init__(self, repo: pygit2.Repository, namespace: str = "") -> None:
        self._repo = repo
        self._kinds: dict[str, str] = {}
        self.namespace = "/".join(part for part in namespace.split("/") if part)
        self._prefix = namespace_prefix(namespace)  # "" for none

    def _full(self, ref: str) -> str:
        return self._prefix + ref

    def _inside(self, full: str) -> str:
        """A stored ref name as seen inside the namespace."""
        return full[len(self._prefix) :] if full.startswith(self._prefix) else full

    @property
    def tags_prefix(self) -> str:
        """Where this repository stores tags: ``refs/tags/``, inside a namespace
        ``refs/namespaces/<ns>/refs/tags/``."""
        return self._full(TAG_PREFIX)

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
        """Every tag name, or only the names of ``artifacts``' tags. The latter are
        looked up by prefix in the sorted ref store (the ref files, or else
        ``for-each-ref`` with patterns that all start ``refs/tags/<artifact>@`` or
        ``#``, which git turns into prefix lookups), so the hook's cost does not grow
        with the number of tags in the repository. A pattern's ``*`` stops at ``/``
        and stage names may hold one (``churn#prod/eu#10``): ``<prefix>*/**`` takes those. ``churn`` never takes
        ``churn/x``'s tags: theirs go on with ``/``, not ``@`` or ``#``."""
        cut = len(self._prefix) + len(TAG_PREFIX)
        if artifacts is None:
            starts = [self._full(TAG_PREFIX)]
        else:
            wanted = {artifact_to_tag(a) for a in artifacts}
            if len(wanted) > FEW_ARTIFACTS:
                return self._tag_names_of(wanted)
            starts = self._starts(wanted)
            if not starts:
                return []
            listed = self._listed(starts)
            if listed is not None:
                return [decode_ref(raw[cut:]) for raw in sorted(listed)]
            patterns = [_literal(start) + tail for start in starts for tail in ("*", "*/**")]
            done = self.git("for-each-ref", "--format=%(refname)", *patterns)
            if done.returncode == 0:
                return [decode_ref(raw[cut:]) for raw in done.stdout.splitlines() if raw]
        prefixes = tuple(start.encode("utf-8", "surrogateescape") for start in starts)
        return [
            decode_ref(raw[cut:])
            for raw in self._repo.raw_listall_references()
            if raw.startswith(prefixes)
        ]

    def _starts(self, wanted: Iterable[str]) -> list[str]:
        """The stored names that every tag of the ``wanted`` artifacts begins with."""
        return [self._full(f"{TAG_PREFIX}{a}{sep}") for a in wanted for sep in ("@", "#")]

    def _listed(self, starts: list[str]) -> dict[bytes, bytes] | None:
        """Stored ref name -> object id of the refs that begin with one of ``starts``,
        read from the ref files (no process: the hook's common case); None when git
        must answer (``refstore`` says when)."""
        return RefStore(self.path).under(s.encode("utf-8", "surrogateescape") for s in starts)

    def _tag_names_of(self, wanted: set[str]) -> list[str]:
        return list(self._tag_targets_of(wanted))

    def tag_targets(self, artifacts: Iterable[str]) -> dict[str, str]:
        """Tag name -> the object it points at, for the tags of ``artifacts`` (the names
        ``tag_names`` finds), without a lookup per name."""
        wanted = {artifact_to_tag(a) for a in artifacts}
        if len(wanted) > FEW_ARTIFACTS:
            return self._tag_targets_of(wanted)
        if not wanted:
            return {}
        starts = self._starts(wanted)
        cut = len(self._prefix) + len(TAG_PREFIX)
        listed = self._listed(starts)
        if listed is not None:
            return {decode_ref(raw[cut:]): listed[raw].decode("ascii") for raw in sorted(listed)}
        patterns = [_literal(start) + tail for start in starts for tail in ("*", "*/**")]
        done = self.git("for-each-ref", "--format=%(objectname) %(refname)", *patterns)
        found: dict[str, str] = {}
        if done.returncode != 0:  # e.g. a dangling symbolic ref: one lookup per name
            for name in self.tag_names(artifacts):
                target = self.ref_target(TAG_PREFIX + name)
                if target is not None:
                    found[name] = target
            return found
        for line in done.stdout.splitlines():
            oid, _, raw = line.partition(b" ")
            if raw:
                found[decode_ref(raw[cut:])] = oid.decode("ascii")
        return found

    def _tag_targets_of(self, wanted: set[str]) -> dict[str, str]:
        """The tags of many artifacts in one pass over the refs. git matches every ref
        against every pattern once the patterns share no prefix: 1,000 artifacts cost
        seconds in ``for-each-ref``, while one pass at 100,000 tags costs ~0.2 s."""
        return self.tag_refs({a.encode("utf-8", "surrogateescape") for a in wanted})

    def tag_refs(self, artifacts: set[bytes] | None = None) -> dict[str, str]:
        """Tag name -> the object it points at, for every tag (or the tags of
        ``artifacts``, as tag names spell them), in one pass over the refs (a lookup per
        name costs five times as much at 100,000 tags)."""
        prefix = self._full(TAG_PREFIX).encode("utf-8", "surrogateescape")
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
                target = self._target_of(decode_ref(raw))
                if target is None:
                    continue
            else:
                target = str(ref.target)
            found[decode_ref(raw[cut:])] = target
        return found

    def ref_target(self, ref: str) -> str | None:
        """The object ``ref`` (a name inside the namespace) points at, symbolic refs
        followed; None when it does not exist."""
        return self._target_of(self._full(ref))

    def _target_of(self, full: str) -> str | None:
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
        found = self._symbolic(self._full(ref))
        return None if found is None else self._inside(found)

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

    def _symbolic(self, full: str) -> str | None:
        try:
            found = self._repo.references.get(full)
        except (ValueError, pygit2.GitError):
            return None
        if found is None or found.type != pygit2.enums.ReferenceType.SYMBOLIC:
            return None
        return str(found.target)

    def default_branch(self, remote: str | None = None) -> Branch:
        """The bare repo's HEAD; for pre-push the remote's HEAD as last fetched, else ours.
        In a namespace its own HEAD, else the branch of the name the repository's HEAD
        names, inside the namespace (receive-pack never creates a namespace's HEAD).
        Resolved to the end of its symref chain: with HEAD -> master -> main the default
        branch is main, the ref a push of either name writes (``landing_ref``)."""
        candidates = [f"refs/remotes/{remote}/HEAD"] if remote else []
        candidates.append("HEAD")
        for head in candidates:
            points_to = self.symbolic_target(head)
            if points_to is None and head == "HEAD" and self.namespace:
                if self._target_of(self._full(head)) is not None:
                    break  # the namespace's HEAD is detached
                points_to = self._symbolic("HEAD")
            if points_to is None:
                continue
            # to the end of the chain (HEAD -> master -> main is main), as git writes it
            points_to = self.landing_ref(points_to)
            if points_to.startswith("refs/remotes/"):
                branch = "refs/heads/" + points_to.split("/", 3)[3]
                return Branch(branch, self.ref_target(points_to))
            commit = self.ref_target(points_to)
            if commit is None and head == "HEAD" and self.bare:
                return self._missing_head(points_to)
            return Branch(points_to, commit)
        return Branch("HEAD", self.ref_target("HEAD"))  # detached: no branch name to report

    def remote_default_branch(self, remote: str, ask: bool = False) -> Branch:
        """A client's view of ``remote``'s default branch, never a local commit the
        remote has not seen: ``refs/remotes/<remote>/HEAD``; else, with ``ask``, the
        branch ``git ls-remote --symref`` names; else ``<remote>/<current branch>``.
        A remote that is not configured here: the branch HEAD is on (a local registry)."""
        if self.config_value(f"remote.{remote}.url") is None:
            return self.default_branch()
        points_to = self.symbolic_target(f"refs/remotes/{remote}/HEAD")
        name = points_to.split("/", 3)[3] if points_to and points_to.count("/") >= 3 else None
        if name is None and ask:
            done = self.git("ls-remote", "--symref", "--", remote, "HEAD")
            for line in done.stdout.decode("utf-8", "replace").splitlines():
                if line.startswith("ref: refs/heads/") and line.endswith("\tHEAD"):
                    name = line[len("ref: refs/heads/") : -len("\tHEAD")]
        if name is None:
            current = self.symbolic_target("HEAD")
            if current and current.startswith(BRANCH_PREFIX):
                name = current[len(BRANCH_PREFIX) :]
        if name is None:
            return Branch("HEAD", None, remote=remote)
        tracking = f"refs/remotes/{remote}/{name}"
        return Branch(BRANCH_PREFIX + name, self.ref_target(tracking), remote=remote)

    def _missing_head(self, ref: str) -> Branch:
        """The default branch ``ref`` does not exist: fine while no branch exists (the
        first push), an error to report once others do."""
        others = sorted(self.branch_tips())
        if not others:
            return Branch(ref, None)
        head = self._full("HEAD")
        own = self._symbolic(head) is not None
        where = f" in namespace {self.namespace}" if self.namespace else ""
        names = ", ".join(others[:5]) + (", ..." if len(others) > 5 else "")
        said = (f"{head} names {ref}" if own or not self.namespace else
                f"namespace {self.namespace} has no HEAD of its own and the "
                f"repository's HEAD names {ref}")  # fmt: skip
        missing = (f"{said}, which does not exist{where} (branches: {names}); .gto and "
                   ".gtoguard.yaml are read from the default branch, so GTO tags cannot "
                   "be checked")  # fmt: skip
        best = next((n for n in ("main", "master") if n in others), others[0])
        fix = (f"on the server, point HEAD at the default branch: git symbolic-ref {head} "
               f"{self._full(BRANCH_PREFIX + best)}")  # fmt: skip
        return Branch(ref, None, missing, fix)

    def named_branch(self, name: str) -> Branch:
        """A branch given by the user: ``main``, ``origin/main`` or a full ref."""
        for ref in (name, f"{BRANCH_PREFIX}{name}", f"refs/remotes/{name}"):
            if ref.startswith("refs/") and (commit := self.ref_target(ref)) is not None:
                return Branch(ref, commit)
        raise UsageError(
            f"no branch {name!r} here",
            "give a local branch (main) or a remote-tracking one (origin/main); "
            "in CI fetch it first",
        )

    def branch_tips(self, remote: str | None = None) -> dict[str, str]:
        """Branch name -> commit: the remote's branches as last fetched when ``remote``
        has any here, else the local branches (only those refs are read, not the tags).
        for-each-ref knows no namespace: the prefix is ours to add and strip."""
        prefixes = ([f"refs/remotes/{remote}/"] if remote else []) + [BRANCH_PREFIX]
        for prefix in prefixes:
            full = self._full(prefix)
            done = self.git("for-each-ref", "--format=%(refname)%00%(objectname)", full)
            if done.returncode != 0:
                continue
            tips = {}
            for line in done.stdout.splitlines():
                raw, _, oid = line.partition(b"\0")
                name = decode_ref(raw)
                if not name.endswith("/HEAD"):
                    tips[name[len(full) :]] = oid.decode("ascii")
            if tips:
                return tips
        return {}

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

    def object_info(self, oid: str, keep: int = READ_CAP) -> GitObject:
        """What ``oid`` is; for a tag object, its headers read the way gto's readers need
        them (``tagobject``), so that what gto cannot read is known, not a crash. A tag
        object of more than ``keep`` bytes is read by its head only (``HEAD_CAP``: the
        headers and the start of the message; ``partial`` says so): no push holds the
        hook to reading, and keeping, what no rule needs whole."""
        try:
            kind, size = self._repo.odb.read_header(oid)
        except (KeyError, ValueError, pygit2.GitError):
            raise KeyError(oid) from None
        if kind != ObjectType.TAG:  # a commit, or a blob of any size: never read whole
            return GitObject(oid, _KINDS.get(kind, "unknown"), size=size)
        if size <= keep:
            return self.tag_info(oid, size, bytes(self._repo.odb.read(oid)[1]))
        head = self._tag_head(oid)
        cut = head.rfind(b"\n") + 1  # whole lines only: never half a UTF-8 character
        return self.tag_info(oid, size, head[:cut] if cut else head)._replace(partial=True)

    def tag_info(self, oid: str, size: int, data: bytes) -> GitObject:
        """What ``object_info`` says of tag object ``oid`` of ``size`` bytes, from its
        ``data`` (read here, or in bulk by ``gitbatch``)."""
        fast = canonical(data)
        if fast is not None:  # as git writes it: straight to the record, no detour
            return self.tag_from_fields(oid, size, fast)
        tag = parse_tag_object(data)
        target_kind = self._kind_of(tag.target) if tag.target else "missing"
        unreadable = tag.unreadable
        if unreadable is None and target_kind in _KIND_NAMES and tag.target_type != target_kind:
            unreadable = f"its type header says {tag.target_type!r} but it tags a {target_kind}"
        who = tag.tagger
        return GitObject(
            oid=oid,
            kind="tag",
            target=tag.target,
            target_kind=target_kind,
            time=who.time if who else None,
            offset=who.offset if who else 0,
            tagger=who.name if who else "",
            email=who.email if who else "",
            message=tag.message,
            name=tag.name,
            unreadable=unreadable,
            size=size,
        )

    def tag_from_fields(self, oid: str, size: int, fields: Canonical) -> GitObject:
        """``tag_info`` of a tag object as git writes it, from its fields."""
        target, kind, name, tagger, email, when, offset, message = fields
        target_kind = self._kind_of(target)
        odd = (None if target_kind == kind or target_kind not in _KIND_NAMES
               else f"its type header says {kind!r} but it tags a {target_kind}")  # fmt: skip
        return GitObject(oid, "tag", target, target_kind, when, offset, tagger, email,
                         message, name, odd, size)  # fmt: skip

    def _tag_head(self, oid: str) -> bytes:
        """The first ``HEAD_CAP`` bytes of tag object ``oid`` (past its type and size),
        without inflating the rest (``objectfiles``: a loose object, or a pack entry that
        is no delta; the push's quarantine first). Else from ``git cat-file``, stopped once
        it has sent them, and at most READ_CAP bytes of object: git holds the object
        whole meanwhile, so a larger one stored as a delta is not read at all (empty:
        the caller sees no headers, and the tag is too large anyway)."""
        directories = [os.environ.get("GIT_OBJECT_DIRECTORY") or "",
                       *os.environ.get("GIT_ALTERNATE_OBJECT_DIRECTORIES", "").split(os.pathsep),
                       os.path.join(self.path, "objects")]  # fmt: skip
        head = objectfiles.head(oid, filter(None, directories), HEAD_CAP)
        if head is not None:
            return head
        try:
            size = self._repo.odb.read_header(oid)[1]
        except (KeyError, ValueError, pygit2.GitError):
            return b""
        if size > READ_CAP:
            return b""
        import subprocess  # here, not above: the hook's usual path starts no process

        try:
            with invoke.popen(["cat-file", "tag", oid], self.path, stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL) as proc:  # fmt: skip
                head = proc.stdout.read(HEAD_CAP) if proc.stdout else b""
                proc.kill()
        except OSError as exc:
            raise CannotRun(f"cannot run git: {exc.strerror}", "install git") from None
        return head

    def objects_of(self, updates: Iterable[RefUpdate], keep: int = READ_CAP
                   ) -> dict[str, GitObject]:  # fmt: skip
        """The new side of every created or moved tag of ``updates`` that is here, by
        object id (a missing one is for the caller to report); tag objects past ``keep``
        bytes by their heads only."""
        found = {}
        for number, update in enumerate(updates):
            if number % 16 == 15:
                timebudget.spend("reading the pushed tag objects")
            if update.is_tag and not update.deleted:
                try:
                    found[update.new] = self.pushed_object(update.new, keep)
                except KeyError:
                    continue
        return found

    def pushed_object(self, oid: str, keep: int = READ_CAP) -> GitObject:
        """``object_info`` of a pushed object, and for a tag also whether gto can date
        the commit it tags (what is already here was judged when it came)."""
        obj = self.object_info(oid, keep)
        why = self._undatable_target(obj)
        return obj if why is None else obj._replace(unreadable=why)

    def _undatable_target(self, obj: GitObject) -> str | None:
        if obj.kind != "tag" or obj.target_kind != "commit" or obj.unreadable is not None:
            return None
        why = self.undatable(obj.target) if obj.target else None
        return f"the tagged commit {why} (gto reads each version's commit)" if why else None

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
        return f"{oid[:12]}: {why}" if why else None

    def _kind_of(self, oid: str) -> str:
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

    def tags_of(
        self, artifacts: Iterable[str], names: Iterable[str] | Mapping[str, str]
    ) -> Iterator[tuple[str, GitObject]]:
        """(name, object) of every tag whose name starts like one of the artifacts' tags;
        ``names`` may map each name to its object already (``tag_targets``). Many tags
        are read in bulk (``bulk_objects``): a push of 1,000 artifacts' tags on a
        100,000-tag server reads 58,000 tags, 1.5 times as fast as one lookup each."""
        wanted = {artifact_to_tag(a) for a in artifacts}
        if isinstance(names, Mapping):
            pairs = [(n, oid) for n, oid in names.items() if _artifact_part(n) in wanted]
        else:
            pairs = [(n, self.ref_target(TAG_PREFIX + n) or "") for n in names
                     if _artifact_part(n) in wanted]  # fmt: skip
        pairs = [(name, oid) for name, oid in pairs if oid]
        if len(pairs) >= BULK_READ:
            read = self.bulk_objects([oid for _, oid in pairs])
        else:
            read = (self.object_info(oid) for _, oid in pairs)
        for number, ((name, oid), obj) in enumerate(zip(pairs, read, strict=True)):
            if number % 256 == 255:
                timebudget.spend("reading the history of the pushed artifacts")
            if obj.kind == "missing":  # as object_info says it, read one by one
                raise KeyError(oid)
            yield name, obj

    def bulk_objects(self, oids: list[str]) -> Generator[GitObject, None, None]:
        """``object_info`` of each of ``oids``, in order, read by one ``git cat-file
        --batch`` that streams while they are used (``gitbatch``). An object the
        repository lacks is a ``missing`` one here, where ``object_info`` raises: a
        whole-registry read judges it, the hook's reading raises (``tags_of``)."""
        from gtoguard.git import bulk

        read = bulk.objects(self.path, oids)
        try:
            for oid in oids:
                kind, size, fields, data = next(read, ("missing", 0, None, None))
                if fields is not None:
                    yield self.tag_from_fields(oid, size, fields)
                elif data is not None:
                    yield self.tag_info(oid, size, data)
                elif kind == "tag":  # past READ_CAP: its head only, as object_info reads it
                    yield self.object_info(oid)
                else:
                    yield GitObject(oid, kind, size=size)
        finally:
            read.close()

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

    def file_at(self, commit: str | None, path: str) -> bytes | None:
        """The blob at ``path`` in ``commit``'s tree; None when absent (or not a file)."""
        entry = self.blob_id_at(commit, path)
        blob = self._get(entry)
        return bytes(blob.data) if isinstance(blob, pygit2.Blob) else None

    def checkout_attributes(self, commit: str, paths: Iterable[str]
                            ) -> list[tuple[str, str, str]]:  # fmt: skip
        """(path, attribute, value) of every attribute a checkout of ``commit`` gives
        ``paths``, as git reads that commit's .gitattributes (its tree put in a throwaway
        index: a bare repository has no working tree to ask)."""
        import tempfile

        with tempfile.TemporaryDirectory(prefix="gtoguard-attributes-") as scratch:
            env = invoke.environ({"GIT_INDEX_FILE": os.path.join(scratch, "index")})
            cwd = self.workdir or self.path
            if invoke.run(["read-tree", commit], cwd, env=env).returncode != 0:
                return []
            done = invoke.run(["check-attr", "--cached", "-a", "-z", "--", *paths], cwd,
                                  env=env)  # fmt: skip
        fields = done.stdout.split(b"\0")
        return [(fields[i].decode("utf-8", "replace"), fields[i + 1].decode("utf-8", "replace"),
                 fields[i + 2].decode("utf-8", "replace"))
                for i in range(0, len(fields) - 2, 3)]  # fmt: skip

    def config_changes(
        self, updates: Iterable[RefUpdate], branch: Branch
    ) -> list[tuple[RefUpdate, str]]:
        """(update, file) for each config file a default-branch update changes; blob ids
        only, so nothing is parsed for a push that leaves the files alone. An
        ``artifacts.yaml`` counts whenever the new tip has one: gto dates its entries by
        the tip commit, which every such update replaces."""
        changes = []
        for update in updates:
            if update.ref != branch.ref:
                continue
            if update.deleted:  # the branch goes, and the files it holds with it
                changes += [(update, name) for name in CONFIG_FILES
                            if self.blob_id_at(update.old, name) is not None]  # fmt: skip
                continue
            old = None if update.created else update.old
            for name in CONFIG_FILES:
                new = self.blob_id_at(update.new, name)
                if new != self.blob_id_at(old, name) or (name == INDEX_FILE and new is not None):
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
        obj = self._get(oid)
        return int(obj.commit_time) if isinstance(obj, pygit2.Commit) else 0

    def commit_facts(self, oid: str) -> tuple[int, int, str, str, str, str, str] | None:
        """(committer time, committer's offset, author, author e-mail, committer,
        committer e-mail, message) of a commit; None if ``oid`` is not one."""
        obj = self._get(oid)
        if not isinstance(obj, pygit2.Commit):
            return None
        author, committer = obj.author, obj.committer
        return (int(committer.time), int(committer.offset), author.name, author.email,
                committer.name, committer.email, obj.message)  # fmt: skip

    def config_value(self, key: str) -> str | None:
        try:
            return str(self._repo.config[key])
        except (KeyError, pygit2.GitError, ValueError):
            return None

    # --- writing, through git itself (identity, signing and ref locking as git does) ---

    def git(self, *args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
        return invoke.run(args, self.workdir or self.path, input=stdin)

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

    def remote_tag_names(self, remote: str, artifacts: Iterable[str] | None = None) -> list[str]:
        """The remote's tag names; only those of ``artifacts`` when given (git matches
        the patterns, so 100,000 tags cost no parsing here)."""
        return self.ask_remote_tag_names(remote, artifacts)()

    def ask_remote_tag_names(
        self,
        remote: str,
        artifacts: Iterable[str] | None = None,
        running: subprocess.Popen[bytes] | None = None,
    ) -> Callable[[], list[str]]:
        """``remote_tag_names``, started now (or ``running`` already, from
        ``prefetch.Early``) and collected by calling the result."""
        from gtoguard.git import prefetch

        proc = running
        where = self.workdir or self.path
        wanted = list(artifacts or ())
        if proc is None:
            proc = prefetch.start(prefetch.ls_remote_command(remote, wanted, where), where)
        if proc is None:
            raise CannotRun("cannot run git", "install git")
        started = proc

        def collect() -> list[str]:
            out, err = started.communicate()
            if started.returncode != 0 and prefetch.is_local_read(started.args):
                names = [artifact_to_tag(a) for a in wanted]
                again = prefetch.start(prefetch.network_command(remote, names), where)
                if again is None:
                    raise CannotRun("cannot run git", "install git")
                out, err = again.communicate()
                started_rc = again.returncode
            else:
                started_rc = started.returncode
            if started_rc != 0:
                raise CannotRun(
                    f"cannot list the tags of {remote!r}: {_first_line(err)}",
                    "check the remote name and your access (git ls-remote --tags REMOTE)",
                )
            names = []
            for line in out.splitlines():
                _, _, ref = line.partition(b"\t")
                if ref.startswith(TAG_PREFIX.encode()):
                    names.append(decode_ref(ref[len(TAG_PREFIX) :]))
            return names

        return collect

    def push_tags(self, remote: str, names: Sequence[str]) -> subprocess.CompletedProcess[bytes]:
        """``git push`` of these tags, atomic. Its pre-push hook is told that the helper
        pushes (``invoke.HELPER_PUSH``): what the helper printed already is not printed twice."""
        refspecs = [f"{TAG_PREFIX}{n}:{TAG_PREFIX}{n}" for n in names]
        return invoke.run(["push", "--atomic", "--porcelain", "--", remote, *refspecs],
                              self.workdir or self.path,
                              env={**os.environ, invoke.HELPER_PUSH: "1"})  # fmt: skip


def _first_line(data: bytes) -> str:
    lines = [line.strip() for line in data.decode("utf-8", "replace").splitlines()]
    lines = [line.removeprefix("fatal: ").removeprefix("error: ") for line in lines if line]
    return lines[0] if lines else ""


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
                raise NotARepository(f"not a git repository: {path} is a file",
                                     "pass the repository's directory with --repo")  # fmt: skip
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
