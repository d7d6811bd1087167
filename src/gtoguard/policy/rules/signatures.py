"""Signed stages: a signature, one the server trusts, bound to this repository, dated at
the push."""

from __future__ import annotations

import re

from gtoguard.model.signatureblock import split_signature
from gtoguard.model.state import TagEvent
from gtoguard.model.tagname import (
    TagName,
)
from gtoguard.policy.rules.stages import describe_change
from gtoguard.policy.rules.violation import UNCHECKED, Verifier, Violation
from gtoguard.policy.settings import StageRules


def check_signed(
    ref: str,
    tag: TagName,
    oid: str,
    message: str,
    rules: StageRules,
    verify: Verifier | None,
    will_sign: bool,
    restoring: bool = False,
) -> Violation | None:
    if not rules.signed:
        return None
    _, block = split_signature(message)
    if block is None and not will_sign:
        return Violation(
            "signature-required",
            ref,
            f"stage {rules.stage} takes only signed tags, and this tag would "
            f"{describe_change(tag, rules.stage, restoring=restoring)} unsigned ({rules.source})",
            f"sign it: gtoguard {tag.action.value} ... --sign (or git tag -s)",
        )
    if verify is None:  # no signers here (a clone): the server verifies
        return Violation(
            "signature-invalid",
            ref,
            f"stage {rules.stage} takes only tags signed by a key the server trusts; whether "
            "this signature verifies is known only to the server, which holds the signers",
            None,
            UNCHECKED,
        )
    if block is None:  # the helper signs it once it is written
        return None
    verdict = verify(oid, block)
    if verdict.ok:
        return None
    return Violation(
        "signature-invalid",
        ref,
        f"the signature does not verify: {verdict.detail}",
        "sign with a key the server trusts (ask the admin to add your public key to the signers)",
    )


def check_bound(
    ref: str, tag: TagName, message: str, rules: StageRules, repository: str | None, judge: bool
) -> Violation | None:
    """signed: repository. A signature binds the message, not the place: without the
    trailer alice's signed promotion from one repository is good in any other.
    ``judge``: this side verifies signatures (a server or CI), so it must know its name."""
    if not rules.bound:
        return None
    text, block = split_signature(message)
    if block is None and judge:
        return None  # unsigned: signature-required says so
    named = repository_trailers(text)
    if repository is None:
        if not judge:
            return None  # a client does not know the server's name: the server checks
        return Violation(
            "signature-invalid",
            ref,
            f"stage {rules.stage} takes only tags bound to this repository, and the server "
            f"has no name for it ({rules.source})",
            "the admin sets one: git config gtoguard.repository <id> in the server repository",
        )
    if repository in named:
        return None
    found = f"it names {', '.join(repr(n) for n in named)}" if named else "it has none"
    return Violation(
        "signature-invalid",
        ref,
        f"stage {rules.stage} takes only tags whose signed message ends with the trailer "
        f"'Repository: {repository}', and {found}: a signed tag from another repository "
        f"must not be replayed here ({rules.source})",
        f"sign a new tag with the trailer: -m 'promote ...' -m 'Repository: {repository}'",
    )


def repository_trailers(text: str) -> list[str]:
    """The values of ``Repository:`` trailers in the last paragraph of a message."""
    paragraphs = [p for p in re.split(r"\n[ \t]*\n", text.strip()) if p.strip()]
    if not paragraphs:
        return []
    found = []
    for line in paragraphs[-1].splitlines():
        key, colon, value = line.partition(":")
        if colon and key.strip().lower() == "repository" and value.strip():
            found.append(value.strip())
    return found


def check_signed_now(
    ref: str, tag: TagName, event: TagEvent, rules: StageRules, now: int, skew: int
) -> Violation | None:
    """git verifies a signature as of the tagger date, which the signer writes: an old date
    revives an expired key. A signed stage takes only tags dated at the push."""
    if not rules.signed or event.time >= now - skew:
        return None
    return Violation(
        "signature-invalid",
        ref,
        f"stage {rules.stage} takes only signed tags, and this one is dated "
        f"{now - event.time}s before the push (allowed: {skew}s, tags.clock_skew); a "
        "signature is checked as of that date, so an old date could revive an expired key "
        f"({rules.source})",
        "sign a new tag now",
    )
