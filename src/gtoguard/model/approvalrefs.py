"""gtoguard's own refs: requests and approvals of a promotion (four eyes). Pure.

A request is the exact promotion tag object, at ``refs/gtoguard/requests/<object id>/<requester>``;
an approval is a tag object that tags that object, at
``refs/gtoguard/approvals/<object id>/<approver>``. Neither is under ``refs/tags/``, so no
gto reader ever sees them; both are judged by gtoguard's server hook (docs/policy.md,
"Approvals").
"""

from __future__ import annotations

import re
from typing import NamedTuple

OWN_PREFIX = "refs/gtoguard/"
REQUESTS = OWN_PREFIX + "requests/"
APPROVALS = OWN_PREFIX + "approvals/"
_SHAPE = re.compile(r"refs/gtoguard/(requests|approvals)/([0-9a-f]{40}|[0-9a-f]{64})/([^/]+)")


class OwnRef(NamedTuple):
    kind: str  # "requests" or "approvals"
    oid: str  # the promotion tag object it is about
    person: str  # the requester or the approver


def own_ref(ref: str) -> OwnRef | None:
    """The parts of a request's or an approval's ref name; None for any other shape."""
    found = _SHAPE.fullmatch(ref)
    return OwnRef(found[1], found[2], found[3]) if found else None


def request_ref(oid: str, requester: str) -> str:
    return f"{REQUESTS}{oid}/{requester}"


def approval_ref(oid: str, approver: str) -> str:
    return f"{APPROVALS}{oid}/{approver}"


def usable_name(person: str) -> bool:
    """Whether a name can be one part of a ref name (git check-ref-format's rules for
    one component), as a request or an approval needs."""
    if not person or person.startswith(".") or person.endswith((".", ".lock")):
        return False
    if ".." in person or "@{" in person or person == "@":
        return False
    return not any(c in person for c in " ~^:?*[\\/") and all(
        ord(c) >= 32 and ord(c) != 127 for c in person
    )
