"""Every rule gtoguard reports, in one place: its ids (part of the outside contract), its
family and what it declines. The README's Rules table is this catalog, row for row
(tests/test_meanings.py), and no code writes an id that is not here."""

from __future__ import annotations

from typing import NamedTuple


class Rule(NamedTuple):
    """One row of the README's Rules table: the ids it names (a pair for two sides of one
    rule), the family of rules it belongs to, and what it declines."""

    ids: tuple[str, ...]
    family: str  # names, objects, counters, versions, stages, identity, signatures, ...
    declines: str  # the README's words, Markdown


RULES = (
    Rule(
        ("tag-malformed",),
        "names",
        "a name with `@` or `#` that is not a valid GTO tag (hint: the nearest valid form); also a name over 255 bytes or a counter over 18 digits",
    ),
    Rule(
        ("tag-name-mismatch",),
        "names",
        "a tag whose ref name and the tag object's own `tag` name differ (gto reads the object's), or a plain ref holding a GTO-named object",
    ),
    Rule(
        ("tag-unreadable",),
        "objects",
        "a tag object gto cannot read: text that is not UTF-8, a time zone outside ±2359 or not `±HHMM`, a time past year 9999, a tagger without name or e-mail, an odd header; or a tag on a commit dated outside the years 1–9999 (gto dates each version by its commit)",
    ),
    Rule(
        ("tag-reserved",),
        "names",
        "`NAME@created[#N]` — parses in GTO but crashes every GTO reader",
    ),
    Rule(("tag-too-large",), "objects", "a tag object over `tags.max_message` (64 KiB by default)"),
    Rule(
        ("push-too-large",),
        "push",
        "a push that would take the hook longer than the server policy's `budget` (5 s by default) to judge; split it",
    ),
    Rule(("tag-lightweight",), "objects", "a GTO-shaped tag that is not an annotated tag object"),
    Rule(("tag-target",), "objects", "a GTO tag that does not point directly at a commit"),
    Rule(
        ("tag-deleted", "tag-moved"),
        "history",
        "deleting or re-pointing an existing GTO tag (deleting one under `delete: allow` and making it again elsewhere is a move)",
    ),
    Rule(
        ("counter-not-increasing",),
        "counters",
        "a `#N` not greater than every counter of that artifact (whatever the tag's date)",
    ),
    Rule(("counter-missing",), "counters", "no `#N` where the policy requires one"),
    Rule(
        ("counter-too-high",),
        "counters",
        "a `#N` more than 1,000,000 past the artifact's highest counter (one at the 18-digit limit would leave later tags none to take)",
    ),
    Rule(("stage-unknown",), "stages", "a stage not allowed by `.gto` (hint: did you mean …)"),
    Rule(("stage-not-active",), "stages", "unassigning a stage the version does not hold"),
    Rule(
        ("version-exists",),
        "versions",
        "a version name the artifact already used (deregistered ones too)",
    ),
    Rule(
        ("version-not-registered",),
        "versions",
        "deregistering a version that is not registered and active on that commit; unassigning on a commit with no registered version (gto readers ignore that unassignment); with `versions.registration: required`, a stage on an unregistered commit",
    ),
    Rule(("commit-has-version",), "versions", "a second version name on one commit"),
    Rule(
        ("version-deregistered",),
        "versions",
        "a stage on a deregistered version (GTO readers hide it)",
    ),
    Rule(
        ("version-not-increasing",),
        "versions",
        "a version not greater than the earlier ones (`versions.increasing`)",
    ),
    Rule(
        ("stage-order",),
        "stages",
        "assigning a stage to a version that is not the one `gto show` shows in one of its `from` stages now (a rollback to a stage the version held is allowed unless `rollback: false`, which also covers giving a stage back by deleting its unassignment)",
    ),
    Rule(
        ("soak-too-short",),
        "stages",
        "assigning a stage to a version that has not held each of its `soak` stages for the span given, or does not hold it now, as `gto show` shows it (counted by tagger dates from when gto began to show it there without a break, to the push; a rollback is exempt unless `rollback: false`)",
    ),
    Rule(
        ("evidence-missing", "metric-failed"),
        "evidence",
        'assigning a stage to a commit without the evidence its `requires` names: a file, a metrics file that is missing or not JSON/YAML, a metric key that is not there; or a metric that misses its bar (`accuracy: ">= 0.92"`) or is not a number',
    ),
    Rule(
        ("approvals-missing", "approver-not-allowed"),
        "approvals",
        "assigning a stage whose `approvals` asks for more approvals of that exact tag object than it has (an approval counts if its approver may approve, is neither the promoter, the requester nor, with `not_by: [registrar]`, the registrar, and is younger than `max_age`); pushing an approval or request under `refs/gtoguard/` that names someone else than the pusher, comes from someone who may not approve, approves one's own request, or deletes or moves one",
    ),
    Rule(
        ("branch-not-allowed",),
        "stages",
        "a tagged commit not reachable from the stage's `branches`",
    ),
    Rule(
        ("pusher-not-allowed", "identity-unknown"),
        "identity",
        "a pusher not in `pushers`, or no identity where one is needed; every way a stage changes counts: assigning, unassigning, deregistering or deprecating what holds it, making a deprecated artifact active again, deleting its tags",
    ),
    Rule(
        ("signature-required", "signature-invalid"),
        "signatures",
        "an unsigned tag of a `signed` stage, or a signature the server's signers do not verify, dated more than `clock_skew` before the push, or (`signed: repository`) without the `Repository:` trailer that names this repository",
    ),
    Rule(("message-mismatch",), "stages", "a tag message not matching the stage's `message`"),
    Rule(
        ("stage-frozen",),
        "stages",
        "a change to a stage inside one of its `freeze` windows (the message names the reason and when it ends)",
    ),
    Rule(
        ("tagger-time",),
        "time",
        "a tagger date too far in the future, more than `max_age` (default `clock_skew`) before the push, behind the artifact's latest event, or none; a tag dated a little behind (inside `clock_skew`) is judged where gto places it in history",
    ),
    Rule(
        ("config-invalid",),
        "config",
        "`.gto`, `artifacts.yaml` or a policy that fails its schema or cannot be read (file and JSON path)",
    ),
    Rule(
        ("branch-deleted",),
        "refs",
        "deleting the default branch while it holds `.gto`, `.gtoguard.yaml` or `artifacts.yaml`: the next push would see no rules, and audits would lose their history (change the files by a commit instead)",
    ),
    Rule(
        ("ref-namespaced",),
        "refs",
        "a ref under `refs/namespaces/…` named from outside that namespace: its tags and config are judged only in a push through it (`GIT_NAMESPACE`)",
    ),
    Rule(
        ("ref-not-allowed",),
        "refs",
        "a ref that is neither a branch nor a tag, unless the server policy's `refs.allow` lists it; a replace ref (`refs/replace/…`) always: git would read another object in place of the one it names",
    ),
    Rule(
        ("internal-error",),
        "push",
        "gtoguard itself failed; the push is declined (unless the server policy says `fail: open` and the failure is the server's own, never the push's content)",
    ),
)

RULE_IDS = frozenset(rule_id for rule in RULES for rule_id in rule.ids)


def readme_table() -> str:
    """The README's Rules table, as this catalog writes it (tests/test_meanings.py)."""
    return "\n".join(
        f"| {' / '.join(f'`{rule_id}`' for rule_id in rule.ids)} | {rule.declines} |"
        for rule in RULES
    )


# What keeps every gto reader working: a tag or file these rules find makes `gto show` (or
# every gto command) fail on every clone once it lands, so no `mode: warn` lets one in. A
# warn-mode rollout reads what the team's rules would decline; it never breaks the readers.
KEEPS_READERS_WORKING = frozenset({
    "commit-has-version",  # "Multiple versions are not allowed on the same Git commit"
    "config-invalid",      # "Wrong config file" (.gto), or no rules the guard can read
    "tag-reserved",        # NAME@created: "Unexpected error: 'action'"
    "tag-target",          # a GTO tag on a tree or blob: "Unexpected error" everywhere
    "tag-unreadable",      # a tag object gto's readers fail on
    "version-exists",      # two registrations of one version: gto show NAME fails
})  # fmt: skip
