"""What a check is given and what it gives back: the facts a side can know (``Facts``),
the rules in force (``Context``), the violations found (``Outcome``); and the one order of
events (``order_key``) that every check and every replay follows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType
from typing import NamedTuple

from gtoguard.model.refupdate import RefUpdate
from gtoguard.model.state import TagEvent
from gtoguard.model.tagname import ASSIGN, DEPRECATE, DEREGISTER, REGISTER, UNASSIGN, TagName
from gtoguard.policy.identity import Pusher
from gtoguard.policy.rules.approvals import BallotReader
from gtoguard.policy.rules.violation import GitObject, Reachability, Verifier, Violation
from gtoguard.policy.settings import GtoConfig, Policy

# the settings a rule's verdict comes from, where a policy made it stricter than built in
# (``Violation.origin``; ``Policy.warns`` says whose mode applies)
SKEW, MAX_MESSAGE = "knob:tags.clock_skew", "knob:tags.max_message"
COUNTER, INCREASING = "knob:tags.counter", "knob:versions.increasing"
REGISTRATION = "knob:versions.registration"


NOTHING: Mapping[str, str] = MappingProxyType({})  # an empty mapping no one can change


# Same-second tags of one batch: registrations before the stages that use them.
_PRIORITY = {
    REGISTER: 0,
    DEREGISTER: 1,
    ASSIGN: 2,
    UNASSIGN: 3,
    DEPRECATE: 4,
}


# (json pointer, schema keyword, message) for each way a decoded tag fails its schema
TagValidator = Callable[[TagName], Iterable[tuple[str, str, str]]]


class Evidence(NamedTuple):
    """A file of the promoted commit, as ``requires`` reads it: whether it is there, and
    (when asked to parse it) its document, or why it cannot be read."""

    found: bool
    document: object = None
    problem: str | None = None


# (commit, path, parse) -> what the commit's tree holds there
EvidenceReader = Callable[[str, str, bool], Evidence]


class Facts(NamedTuple):
    """What the team-policy rules need from outside the tags: who pushes, which branches
    a commit is on, and who signed a tag. None where it cannot be known here."""

    pusher: Pusher | None = None
    identity_required: bool = True  # pre-receive: no identity declines; elsewhere it warns
    reachable: Reachability | None = None
    verify: Verifier | None = None  # None: no signers here; only presence is checked
    will_sign: bool = False  # the helper with --sign: the tag is not written yet
    repository: str | None = None  # the server's name for the repository (signed: repository)
    # where the pusher is read from (the server), or why this side cannot know who pushed
    identity_from: str = ""
    identity_fix: str = ""  # what to do when no pusher is known where one is required
    # a commit's committer date (gto counts the dates of the versions' commits as events
    # when it decides whether an artifact is deprecated); None: not known here
    commit_time: Callable[[str], int] | None = None
    # an audit with the server's decision log: who pushed the tag (ref, object id)
    pusher_of: Callable[[str, str], Pusher | None] | None = None
    evidence: EvidenceReader | None = None  # None: no repository to read commits from
    # a promotion's requests and approvals (stages' approvals); None: not readable here
    ballots: BallotReader | None = None
    # (artifact, commit) -> each registration tag the repository holds on the commit and
    # who pushed it (None: the log does not say); the reader returns None on a server
    # with no decision log; None: this side cannot know (a clone, CI)
    registrars: Callable[[str, str], Mapping[str, str | None] | None] | None = None
    # an audit on the server: who approved each promotion as it landed (ref, object id),
    # from the decision log (None: the log does not have its landing); None: no log here
    logged_approvals: Callable[[str, str], list[str] | None] | None = None
    # when a tag (its name) arrived, from the server's decision log; None: no log here
    arrived: Callable[[str], int | None] | None = None


class Context(NamedTuple):
    config: GtoConfig
    policy: Policy
    validate: TagValidator
    now: int
    origin: str = "the default branch"  # where .gto was read, for messages
    facts: Facts = Facts()
    deleted: Mapping[str, str] = NOTHING  # tag -> commit, deleted before
    arrived: bool = False  # ``now`` is when the tags arrive (a hook): tags.max_age applies
    # An audit by the rules of the time: the context in force at a tagger date (None:
    # this one throughout), and the commit whose files this one reads.
    at: Callable[[int], Context] | None = None
    config_commit: str | None = None
    freeze_at: int | None = None  # the moment freeze windows are judged at; None: not judged
    # the registry holds none of the judged tags (a hook): every counter in it came first.
    # (CI judges tags already there, beside the later ones of the same push.)
    fresh: bool = False

    @property
    def age_limit(self) -> int | None:
        return self.policy.tags.age_limit if self.arrived else None


class Outcome:
    def __init__(
        self,
        violations: list[Violation] | None = None,
        checked: int = 0,
        declined_refs: set[str] | None = None,
    ) -> None:
        self.violations: list[Violation] = [] if violations is None else violations
        self.checked = checked  # GTO-shaped tag updates looked at
        self.declined_refs: set[str] = set() if declined_refs is None else declined_refs
        self.config_commit: str | None = None  # named on the violations added now
        self.approved: dict[str, list[str]] = {}  # ref -> who approved it (the receipt says)
        # what the stage rules found that passes, in words (the page's pre-check shows it):
        # "staging held for 25 h of 24 h", "metrics.json: accuracy 0.93 >= 0.92"
        self.passed: list[str] = []

    def __repr__(self) -> str:
        return (
            f"Outcome(checked={self.checked}, violations={self.violations!r}, "
            f"declined_refs={sorted(self.declined_refs)!r})"
        )

    def add(self, violation: Violation | None, origin: str | None = None) -> None:
        """``origin``: whose rule it is (``Violation.origin``), where the rule does not say."""
        if violation is not None:
            if origin is not None and violation.origin is None:
                violation = violation._replace(origin=origin)
            if self.config_commit is not None and violation.config_commit is None:
                violation = violation._replace(config_commit=self.config_commit)
            self.violations.append(violation)
            if violation.severity == "error":
                self.declined_refs.add(violation.ref)

    @property
    def ok(self) -> bool:
        return not self.declined_refs


Item = tuple[RefUpdate, TagName, "TagEvent | None"]


def order_key(name: str, tag: TagName, event: TagEvent | None) -> tuple[bool, int, int, int, str]:
    """The one order of events, in the hook, ``check`` and the registry replay: tagger
    time; within one second the counter (tags without one first), then the action, then
    the name. A script's same-second batch ``#8 … #12`` is read in the order it was made,
    not in name order (``#10`` before ``#9``). Tags that make no registry event
    (lightweight, not on a commit) come last, so that their counters do not count
    against the real events. (gto's own views order same-second events by name; the
    views in ``model/gtoshow.py`` keep gto's order.)"""
    counter = tag.counter if tag.counter is not None else -1
    return (event is None, event.time if event else 0, counter, _PRIORITY[tag.action], name)


def item_key(item: Item) -> tuple[bool, int, int, int, str]:
    return order_key(item[0].tag_name, item[1], item[2])


def event_of(name: str, tag: TagName, obj: GitObject) -> TagEvent | None:
    """The registry event of an annotated tag on a commit; None for anything else."""
    if obj.kind != "tag" or obj.target_kind != "commit" or obj.target is None:
        return None
    return TagEvent(
        name,
        tag,
        obj.time if obj.time is not None else 0,
        obj.target,
        obj.offset,
        obj.tagger,
        obj.email,
        obj.message,
    )
