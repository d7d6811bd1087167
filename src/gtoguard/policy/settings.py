"""The policy a check applies, built from already-validated data. Pure.

With no policy file at all the defaults below are the embedded default policy: the
hygiene that keeps every GTO reader working (docs/design.md §2). The repository's policy and the
server's are combined so that a push must satisfy both: per-knob the stricter value, and
the stage rules of both, each checked on its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from gtoguard.policy.groups import Groups

GTO_FILE = ".gto"
POLICY_FILE = ".gtoguard.yaml"
INDEX_FILE = "artifacts.yaml"  # gto's legacy artifact index, read at HEAD (docs/gto-format.md §4)
CONFIG_FILES = (GTO_FILE, POLICY_FILE, INDEX_FILE)  # what a default-branch push is checked for
SERVER_ONLY_KEYS = ("signers", "identity", "fail", "budget", "log", "refs")
DEFAULT_BUDGET = 5.0  # seconds the pre-receive hook may spend on one push
MAX_AGE_OFF = -1  # tags.max_age: off (server policy only): no bound, for mirroring history


class GtoConfig(NamedTuple):
    """What gtoguard uses of ``.gto``. ``stages=None``: any valid stage; ``()``: none."""

    stages: tuple[str, ...] | None = None
    types: tuple[str, ...] | None = None

    def describe_stages(self) -> str:
        if self.stages is None:
            return "any"
        return ", ".join(self.stages) if self.stages else "none"


class TagRules(NamedTuple):
    annotated: bool = True
    counter_required: bool = False
    allow_delete: bool = False
    allow_move: bool = False
    allow_malformed: bool = False
    clock_skew: int = 300
    max_message: int = 65536  # bytes of a tag object
    max_age: int | None = None  # seconds; None: unset (clock_skew); MAX_AGE_OFF: no bound

    @property
    def age_limit(self) -> int | None:
        """How far before the push a new tag may be dated; None: no bound (mirroring)."""
        if self.max_age is None:
            return self.clock_skew
        return None if self.max_age == MAX_AGE_OFF else self.max_age


class Freeze(NamedTuple):
    """One freeze window of a stage: absolute (``start``/``end`` ISO 8601 times with a
    zone, ``timezone`` None) or recurring (``start``/``end`` cron expressions in the IANA
    ``timezone``: from the latest start to the first end after it)."""

    reason: str
    start: str
    end: str
    timezone: str | None = None


class MetricCheck(NamedTuple):
    """One bar a metric must clear: ``accuracy: ">= 0.92"``."""

    key: str  # dotted: "eval.accuracy" reaches {"eval": {"accuracy": ...}}
    op: str  # >=, <=, >, <, ==, !=
    bound: float
    written: str  # ">= 0.92", as the policy says it


class Metrics(NamedTuple):
    """A metrics file in the promoted commit and the bars its values must clear."""

    file: str  # a path in the commit's tree; "{artifact}" is the artifact's name
    checks: tuple[MetricCheck, ...]


class Approvals(NamedTuple):
    """Who must approve a promotion to a stage before it lands (four eyes)."""

    needed: int  # distinct approvers besides the promoter and the requester
    approvers: frozenset[str]  # who may approve: ``from`` with its groups expanded
    approvers_as_written: tuple[str, ...]
    not_registrar: bool = False  # not_by: [registrar]: nor whoever pushed the registration
    max_age: int | None = None  # seconds an approval counts for; None: no bound


class StageRules(NamedTuple):
    """The rules one policy file sets for one stage. ``pushers`` has groups expanded."""

    stage: str
    source: str  # the policy file, for messages
    from_stages: tuple[str, ...] | None = None
    rollback: bool = True  # a version that held the stage may go back to it without ``from``
    branches: tuple[str, ...] | None = None
    pushers: frozenset[str] | None = None
    pushers_as_written: tuple[str, ...] = ()
    signed: bool = False
    bound: bool = False  # signed: repository (a "Repository: <id>" trailer)
    message: str | None = None
    freeze: tuple[Freeze, ...] = ()
    # (stage, seconds): the version must have held that stage so long, and hold it now
    soak: tuple[tuple[str, int], ...] = ()
    # evidence in the promoted commit: files that must exist, metrics that must clear bars
    files: tuple[str, ...] = ()
    metrics: tuple[Metrics, ...] = ()
    approvals: Approvals | None = None


class Signers(NamedTuple):
    ssh: str | None = None  # an allowed-signers file
    gpg: str | None = None  # a GnuPG home
    gpg_min_trust: str = "marginal"  # git's gpg.minTrustLevel

    @property
    def any(self) -> bool:
        return bool(self.ssh or self.gpg)


class Policy(NamedTuple):
    warn_only: bool = False
    tags: TagRules = TagRules()
    versions_increasing: bool = False
    registration_required: bool = False
    stages: tuple[StageRules, ...] = ()
    # server-only
    signers: Signers = Signers()
    identity_variable: str | None = None
    fail_open: bool = False
    budget: float | None = DEFAULT_BUDGET  # seconds for one push (pre-receive); None: no budget
    sources: tuple[str, ...] = ()
    log: str | None = None  # the decision log (server-only): one JSON line per decision
    refs_allow: tuple[str, ...] = ()  # server-only: refs a push may write besides heads, tags
    server: bool = False  # the server's policy: its mode also covers the built-in rules
    parts: tuple[Policy, ...] = ()  # the policies ``strictest`` combined; () for one file

    def rules_for(self, stage: str) -> tuple[StageRules, ...]:
        return tuple(r for r in self.stages if r.stage == stage)

    def warns(self, origin: str | None) -> bool:
        """Whether a violation of the rule ``origin`` names (``Violation.origin``) is only a
        warning: each policy's ``mode`` covers its own rules. A stage rule is its file's;
        a setting ("knob:KEY") is the policies' that made it stricter than built in (a
        warning only if all of those warn); a built-in rule is the server policy's, where
        there is one (an admin's warn-mode rollout), else the repository's."""
        parts = self.parts or (self,)
        if origin is not None and origin.startswith("knob:"):
            owners = [p for p in parts if _stricter(p, origin[len("knob:") :])]
        else:
            owners = [p for p in parts if origin is not None and origin in p.sources]
        if not owners:  # built in
            owners = [p for p in parts if p.server][:1] or list(parts[:1])
        return bool(owners) and all(p.warn_only for p in owners)

    def strictest(self, other: Policy) -> Policy:
        """A policy that a push satisfies only if it satisfies both (none can loosen the
        other). Server-only settings come from whichever policy sets them (only the
        server's may)."""
        a, b = self.tags, other.tags
        tags = TagRules(
            annotated=a.annotated or b.annotated,
            counter_required=a.counter_required or b.counter_required,
            allow_delete=a.allow_delete and b.allow_delete,
            allow_move=a.allow_move and b.allow_move,
            allow_malformed=a.allow_malformed and b.allow_malformed,
            clock_skew=min(a.clock_skew, b.clock_skew),
            max_message=min(a.max_message, b.max_message),
            max_age=_tighter_age(a.max_age, b.max_age),
        )
        return Policy(
            warn_only=self.warn_only and other.warn_only,  # (every rule warns: see warns())
            tags=tags,
            versions_increasing=self.versions_increasing or other.versions_increasing,
            registration_required=self.registration_required or other.registration_required,
            stages=self.stages + other.stages,
            signers=other.signers if other.signers.any else self.signers,
            identity_variable=other.identity_variable or self.identity_variable,
            fail_open=self.fail_open or other.fail_open,
            budget=other.budget,  # server-only: ``other`` is the server's policy
            sources=self.sources + other.sources,
            log=other.log or self.log,
            refs_allow=other.refs_allow or self.refs_allow,
            server=self.server or other.server,
            parts=(self.parts or (self,)) + (other.parts or (other,)),
        )


_BUILT_IN = TagRules()


def _stricter(policy: Policy, knob: str) -> bool:
    """Whether ``policy`` sets ``knob`` stricter than the built-in default."""
    tags = policy.tags
    if knob == "tags.counter":
        return tags.counter_required
    if knob == "tags.max_message":
        return tags.max_message < _BUILT_IN.max_message
    if knob == "tags.clock_skew":  # the skew and the age bound both judge tagger dates
        age = tags.age_limit
        return tags.clock_skew < _BUILT_IN.clock_skew or (
            age is not None and age < _BUILT_IN.clock_skew
        )
    if knob == "versions.increasing":
        return policy.versions_increasing
    if knob == "versions.registration":
        return policy.registration_required
    return False


def _max_age(value: Any) -> int | None:
    return MAX_AGE_OFF if value == "off" else value


def _budget(value: Any) -> float | None:
    if value == "off":
        return None
    return DEFAULT_BUDGET if value is None else float(value)


def _tighter_age(a: int | None, b: int | None) -> int | None:
    """The stricter of two max_age settings: unset defers to the other, off is no bound."""
    if a is None or a == MAX_AGE_OFF:
        return b if b is not None else a
    if b is None or b == MAX_AGE_OFF:
        return a
    return min(a, b)


def policy_from_data(data: Mapping[str, Any], source: str) -> Policy:
    """Data that passed ``schemas/policy.schema.json`` (and, for a repository policy, the
    server-only check); absent or null keys keep defaults."""
    tags = data.get("tags") or {}
    defaults = TagRules()
    rules = defaults._replace(
        annotated=_get(tags, "annotated", defaults.annotated),
        counter_required=_get(tags, "counter", "optional") == "required",
        allow_delete=_get(tags, "delete", "deny") == "allow",
        allow_move=_get(tags, "move", "deny") == "allow",
        allow_malformed=_get(tags, "malformed", "deny") == "allow",
        clock_skew=_get(tags, "clock_skew", defaults.clock_skew),
        max_message=_get(tags, "max_message", defaults.max_message),
        max_age=_max_age(tags.get("max_age")),
    )
    versions = data.get("versions") or {}
    groups = Groups(data.get("groups") or {})
    signers = data.get("signers") or {}
    return Policy(
        warn_only=data.get("mode") == "warn",
        tags=rules,
        versions_increasing=bool(versions.get("increasing")),
        registration_required=versions.get("registration") == "required",
        stages=tuple(
            _stage_rules(stage, entry or {}, groups, source)
            for stage, entry in (data.get("stages") or {}).items()
        ),
        signers=Signers(
            signers.get("ssh"), signers.get("gpg"), signers.get("gpg_min_trust") or "marginal"
        ),
        identity_variable=data.get("identity"),
        fail_open=data.get("fail") == "open",
        budget=_budget(data.get("budget")),
        sources=(source,),
        log=data.get("log"),
        refs_allow=tuple((data.get("refs") or {}).get("allow") or ()),
    )


def _stage_rules(stage: str, entry: Mapping[str, Any], groups: Groups, source: str) -> StageRules:
    pushers = entry.get("pushers")
    expanded = None if pushers is None else groups.expand(pushers)
    return StageRules(
        stage=stage,
        source=source,
        from_stages=_tuple(entry.get("from")),
        rollback=entry.get("rollback") is not False,
        branches=_tuple(entry.get("branches")),
        pushers=expanded,
        pushers_as_written=tuple(pushers or ()),
        signed=entry.get("signed") in (True, "repository"),
        bound=entry.get("signed") == "repository",
        message=entry.get("message"),
        freeze=tuple(_freeze(window) for window in entry.get("freeze") or ()),
        soak=tuple((held, seconds(span)) for held, span in (entry.get("soak") or {}).items()),
        files=tuple((entry.get("requires") or {}).get("files") or ()),
        metrics=tuple(
            Metrics(item["file"], tuple(_bar(k, v) for k, v in item["checks"].items()))
            for item in (entry.get("requires") or {}).get("metrics") or ()
        ),
        approvals=_approvals(entry.get("approvals"), groups),
    )


def _approvals(entry: Mapping[str, Any] | None, groups: Groups) -> Approvals | None:
    if not entry:
        return None
    written = tuple(entry.get("from") or ())
    age = entry.get("max_age")
    return Approvals(
        needed=int(entry.get("count") or 1),
        approvers=groups.expand(written),
        approvers_as_written=written,
        not_registrar="registrar" in (entry.get("not_by") or ()),
        max_age=None if age is None else seconds(age),
    )


def _bar(key: str, written: str) -> MetricCheck:
    """``">= 0.92"`` (the schema's form: an operator, then a number) as a check."""
    text = written.strip()
    op = text[:2] if text[:2] in (">=", "<=", "==", "!=") else text[:1]
    return MetricCheck(key, op, float(text[len(op) :]), text)


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def seconds(span: int | str) -> int:
    """A span of time as a policy writes one (its schema's ``duration``): a number of
    seconds, or digits and a unit: ``90s``, ``30m``, ``24h``, ``7d``, ``2w``."""
    if isinstance(span, int):
        return span
    return int(span[:-1]) * _UNITS[span[-1]]


def span_text(total: int) -> str:
    """A span of seconds in words, to the minute: ``23 h 5 min``, ``3 d 2 h``, ``40 s``."""
    if total < 60:
        return f"{max(total, 0)} s"
    days, rest = divmod(total // 60, 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts = [f"{days} d"] * bool(days) + [f"{hours} h"] * bool(hours)
    parts += [f"{minutes} min"] * bool(minutes and not days)
    return " ".join(parts) or "0 s"


def _freeze(window: Mapping[str, Any]) -> Freeze:
    if "timezone" in window:
        return Freeze(window["reason"], window["start"], window["end"], window["timezone"])
    return Freeze(window["reason"], window["from"], window["until"])


def _tuple(value: Any) -> tuple[str, ...] | None:
    return None if value is None else tuple(value)


def _get(section: Mapping[str, Any], key: str, default: Any) -> Any:
    value = section.get(key)
    return default if value is None else value
