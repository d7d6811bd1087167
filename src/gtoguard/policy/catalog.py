"""Every rule id gtoguard reports: part of the outside contract. The README's "Rules"
table describes each one; tests/test_meanings.py keeps the two equal."""

from __future__ import annotations

RULE_IDS = frozenset({
    "branch-deleted", "branch-not-allowed", "commit-has-version", "config-invalid",
    "counter-missing", "counter-not-increasing", "counter-too-high", "identity-unknown",
    "internal-error", "message-mismatch", "push-too-large", "pusher-not-allowed",
    "ref-namespaced", "ref-not-allowed", "signature-invalid", "signature-required",
    "stage-frozen", "stage-not-active", "stage-order", "stage-unknown", "tag-deleted",
    "tag-lightweight", "tag-malformed", "tag-moved", "tag-name-mismatch", "tag-reserved",
    "tag-target", "tag-too-large", "tag-unreadable", "tagger-time", "version-deregistered",
    "version-exists", "version-not-increasing", "version-not-registered",
})  # fmt: skip

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
