"""What a rule returns and what it reads: the ``Violation`` record, the pushed
object (``GitObject``) and the facts a rule is given as functions."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from gtoguard.model.signatureblock import Verdict

# (commit, branch names or globs) -> (reachable from one of them, the branches looked at)
Reachability = Callable[[str, tuple[str, ...]], tuple[bool, list[str]]]
Verifier = Callable[[str, str], Verdict]  # (tag object id, its signature block) -> verdict


# Violation.severity: "error" declines; "warning" is printed and accepted (mode: warn);
# UNCHECKED: a rule that needs a fact this side cannot know (who pushed, on a clone or in
# an audit), said with the reason and never counted as a violation
UNCHECKED = "unchecked"


class Violation(NamedTuple):
    rule: str
    ref: str
    message: str
    hint: str | None = None
    severity: str = "error"  # "error" declines; "warning" is printed and accepted
    config_commit: str | None = None  # the commit whose .gto and policies judged it
    # whose rule it is, for the mode that applies (``Policy.warns``): a policy file (a
    # stage's rules), "knob:<key>" (a setting one policy made stricter), None: the built-in
    origin: str | None = None


class GitObject(NamedTuple):
    """What a pushed tag ref points at."""

    oid: str
    kind: str  # commit | tag | tree | blob
    target: str | None = None  # tag objects: the object tagged
    target_kind: str | None = None
    time: int | None = None  # tag objects: tagger time (None: no tagger line)
    offset: int = 0
    tagger: str = ""
    email: str = ""
    message: str = ""
    name: str | None = None  # tag objects: the object's own ``tag`` header (what gto reads)
    unreadable: str | None = None  # tag objects: why gto 1.10.1 cannot read it, if it cannot
    size: int = 0  # bytes of the object (for a tag beyond READ_CAP only its head was read)
    partial: bool = False  # tag objects: only the head was read (the message is cut short)
