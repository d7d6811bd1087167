"""Compose the tags the helper commands create, the way gto 1.10.1 would. Pure.

Names, counters and default messages are gto's byte for byte (docs/gto-format.md §1.6, §2, §6),
so Studio, ``gto show`` and every pipeline read them unchanged. Three gto bugs are fixed
instead of copied: the registration and the assignment of ``assign`` are planned (and
later written) together, a bumped version skips names used before (deregistered ones
too), and ``deprecate`` falls back to a counter when the simple name is taken. Whether
a planned tag is allowed is not decided here: the engine checks it like a push.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gtoguard.errors import UsageError
from gtoguard.model.gtoshow import ArtifactView, semver_key
from gtoguard.model.printable import short
from gtoguard.model.state import ArtifactState
from gtoguard.model.tagname import Action, TagName, is_valid_artifact, is_valid_version

FIRST_VERSION = "v0.0.1"
BUMPS = ("major", "minor", "patch")


@dataclass(frozen=True)
class NewTag:
    tag: TagName
    commit: str
    message: str

    @property
    def name(self) -> str:
        return self.tag.tag


@dataclass
class Planner:
    """Plans tags for one artifact from its current state.

    ``simple``: True omits the counter, False forces it, None keeps gto's default per
    action. ``counter_required`` (the policy) turns every default into a counter.
    ``existing``: tag names that exist (locally), ``counter_floor``: the highest counter
    seen elsewhere (the remote's), ``taken_versions``: version names the remote used."""

    state: ArtifactState
    view: ArtifactView
    simple: bool | None = None
    counter_required: bool = False
    existing: frozenset[str] = frozenset()
    counter_floor: int = 0
    taken_versions: frozenset[str] = frozenset()
    planned: list[NewTag] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not is_valid_artifact(self.state.name):
            raise UsageError(
                f"invalid artifact name {self.state.name!r}: letters, digits, '_', '-' and '/' "
                "only, starting and ending with a letter or digit (optionally 'dir:' first)",
                "for example: churn or models/cv:segmenter",
            )
        self._next_counter = max(self.state.max_counter, self.counter_floor) + 1

    # --- the five commands -------------------------------------------------------------

    def register(
        self, commit: str, version: str | None, bump: str | None, message: str | None
    ) -> list[NewTag]:
        self._register(commit, version, bump, message)
        return list(self.planned)

    def _register(
        self,
        commit: str,
        version: str | None,
        bump: str | None,
        message: str | None,
        implicit: bool = False,
    ) -> NewTag:
        if version is None:
            version = self._next_version(bump)
        else:
            _check_version(version, "--version")
        tag = self._name(
            Action.REGISTER, default_simple=True, version=version, force_simple=implicit
        )
        text = message or f"Registering artifact {self.state.name} version {version}"
        return self._add(tag, commit, text)

    def assign(
        self,
        stage: str,
        commit: str | None,
        version: str | None,
        new_version: str | None,
        bump: str | None,
        message: str | None,
        force: bool,
    ) -> list[NewTag]:
        if version is not None:
            commit = self._commit_of(version)
            label = version
        else:
            assert commit is not None
            registered = self._version_at(commit)
            if registered is None:  # gto registers the commit first: one plan, both tags
                registration = self._register(commit, new_version, bump, None, implicit=True)
                label = registration.tag.version or ""
            else:
                if new_version is not None and new_version != registered:
                    raise UsageError(
                        f"can't register {new_version}: {registered} is registered "
                        f"at {short(commit)} already",
                        f"drop --version, or: gtoguard assign {self.state.name} "
                        f"--version {registered} --stage {stage}",
                    )
                label = registered
        if not force and label in (self.view.stage_holders(1).get(stage) or ()):
            # what every screen shows (gto show's default view): a version that held the
            # stage before and left it goes back by a new assignment (a rollback)
            raise UsageError(
                f"version {label} of {self.state.name} holds stage {stage!r} already "
                "(gto show shows it there now): nothing to do",
                "use --force to create a new tag nevertheless",
            )
        tag = self._name(Action.ASSIGN, default_simple=False, stage=stage)
        text = message or (f"Assigning stage {stage} to artifact {self.state.name} version {label}")
        return self._plan_add(tag, commit, text)

    def unassign(
        self, stage: str, commit: str | None, version: str | None, message: str | None
    ) -> list[NewTag]:
        if version is not None:
            commit = self._commit_of(version)
        assert commit is not None
        label = version or self.state.version_label(commit)
        tag = self._name(Action.UNASSIGN, default_simple=False, stage=stage)
        text = message or (
            f"Unassigning stage '{stage}' to artifact '{self.state.name}' version '{label}'"
        )
        return self._plan_add(tag, commit, text)

    def deregister(self, version: str, fallback_commit: str, message: str | None) -> list[NewTag]:
        _check_version(version, "--version")
        commits = self.state.commits_of(version)
        active = [
            v.commit for v in self.state.versions().values() if v.name == version and v.active
        ]
        # an unknown version still gets a tag on HEAD: the engine refuses it as the hook would
        commit = (active or commits or [fallback_commit])[0]
        tag = self._name(Action.DEREGISTER, default_simple=True, version=version)
        text = message or f"Deregistering artifact {self.state.name} version {version}"
        return self._plan_add(tag, commit, text)

    def deprecate(
        self, commit_times: dict[str, int], fallback_commit: str, message: str | None, force: bool
    ) -> list[NewTag]:
        if force and self.simple:
            raise UsageError(
                "--force creates a new deprecation tag, which needs a counter", "drop --simple"
            )
        if not force:
            if not self.state.events:
                raise UsageError(
                    f"cannot find artifact {self.state.name!r}: it has no tags",
                    "see the artifacts: gtoguard show",
                )
            if not self.view.active:
                raise UsageError(
                    f"{self.state.name} is deprecated already",
                    "use --force to deprecate it again with a new tag",
                )
        commit = _latest_commit(self.state, commit_times) or fallback_commit
        simple_name = TagName(self.state.name, Action.DEPRECATE).tag
        taken = simple_name in self.existing
        tag = self._name(Action.DEPRECATE, default_simple=not (force or taken))
        text = message or f"Deprecating artifact '{self.state.name}'"
        return self._plan_add(tag, commit, text)

    # --- helpers -------------------------------------------------------------------------

    def _plan_add(self, tag: TagName, commit: str, message: str) -> list[NewTag]:
        self._add(tag, commit, message)
        return list(self.planned)

    def _add(self, tag: TagName, commit: str, message: str) -> NewTag:
        new = NewTag(tag, commit, message)
        self.planned.append(new)
        return new

    def _name(
        self,
        action: Action,
        default_simple: bool,
        version: str | None = None,
        stage: str | None = None,
        force_simple: bool = False,
    ) -> TagName:
        if force_simple and not self.counter_required:
            simple = True  # gto: the registration inside assign is always simple
        elif self.simple is not None:
            simple = self.simple
        else:
            simple = default_simple and not self.counter_required
        counter = None
        if not simple:
            counter = self._next_counter
            self._next_counter += 1
        return TagName(self.state.name, action, version=version, stage=stage, counter=counter)

    def _version_at(self, commit: str) -> str | None:
        found = self.state.versions_at(commit)
        if not found:
            return None
        if not any(v.active for v in found):
            raise UsageError(
                f"version {found[0].name} at {short(commit)} was deregistered; "
                "GTO readers do not show stages of a deregistered version",
                f"register a new version: gtoguard register {self.state.name} NEW-COMMIT",
            )
        return found[0].name

    def _commit_of(self, version: str) -> str:
        _check_version(version, "--version")
        records = [v for v in self.state.versions().values() if v.name == version]
        if not records:
            if not self.state.events:  # gtoguard show NAME would say there is no such artifact
                raise UsageError(
                    f"there is no artifact {self.state.name} yet",
                    f"see the artifacts: gtoguard show; or register its first "
                    f"version: gtoguard register {self.state.name}",
                )
            raise UsageError(
                f"version {version} of {self.state.name} is not registered",
                f"see its versions: gtoguard show {self.state.name}",
            )
        active = [v for v in records if v.active]
        if not active:
            raise UsageError(
                f"version {version} of {self.state.name} was deregistered; "
                "GTO readers do not show stages of a deregistered version",
                f"see the active versions: gtoguard show {self.state.name}",
            )
        return active[0].commit

    def _next_version(self, bump: str | None) -> str:
        used = self.state.version_names() | self.taken_versions
        latest = self.view.latest()
        if latest is None:
            if bump is not None:
                raise UsageError(
                    f"can't apply --bump-{bump}: this is the first version of {self.state.name}",
                    f"drop the flag ({FIRST_VERSION} is the default) or give --version",
                )
            candidate = FIRST_VERSION
        else:
            candidate = bump_version(latest.name, bump or "patch")
        while candidate in used:  # gto would reuse a deregistered name (and break)
            candidate = bump_version(candidate, bump or "patch")
        return candidate


def bump_version(version: str, part: str) -> str:
    """python-semver's bump, as gto uses it: prerelease and build are dropped."""
    key = semver_key(version)
    if key is None:
        raise UsageError(
            f"{version!r} is not a semver version and cannot be bumped", "give --version vX.Y.Z"
        )
    major, minor, patch = key[0]
    if part == "major":
        return f"v{major + 1}.0.0"
    if part == "minor":
        return f"v{major}.{minor + 1}.0"
    return f"v{major}.{minor}.{patch + 1}"  # also from a prerelease: v1.0.0-rc.1 → v1.0.1


def _check_version(version: str, option: str) -> None:
    if not is_valid_version(version):
        raise UsageError(
            f"{option} {version!r} is not a version GTO accepts",
            "versions are semver with a lower-case v: v1.2.3, v2.0.0-rc.1, v1.0.0+build.5",
        )


def _latest_commit(state: ArtifactState, commit_times: dict[str, int]) -> str | None:
    """gto deprecates on the commit of the artifact's most recent event."""
    moments = [(e.time, 1, e.commit) for e in state.events]
    moments += [(t, 0, c) for c, t in commit_times.items()]
    return max(moments)[2] if moments else None
