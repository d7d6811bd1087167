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
