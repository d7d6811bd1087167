"""The tag's name: one gto decodes, and the same name in the ref and in the tag object."""

from __future__ import annotations

from gtoguard.model.refupdate import printable_ref
from gtoguard.model.tagname import (
    TagName,
    TagNameError,
    gto_reads,
    is_gto_shaped,
    parse_tag,
    ref_format_problem,
)
from gtoguard.policy.rules.violation import GitObject, Violation
from gtoguard.policy.settings import Policy


def check_name(ref: str, name: str, policy: Policy) -> tuple[TagName | None, Violation | None]:
    try:
        return parse_tag(name), None
    except TagNameError as err:
        if err.rule == "tag-malformed" and policy.tags.allow_malformed and not gto_reads(name):
            return None, None  # the knob admits names gto ignores, never names it decodes
        if err.rule == "tag-reserved":
            hint: str | None = (
                "register a version (NAME@vX.Y.Z) or assign a stage (NAME#STAGE) instead"
            )
            return None, Violation(err.rule, ref, f"'{printable_ref(name)}': {err.reason}", hint)
        hint = f"use '{err.suggestion}'" if err.suggestion else None
        message = f"'{printable_ref(name)}' is not a valid GTO tag: {err.reason}"
        return None, Violation(err.rule, ref, message, hint)


def check_one_name(ref: str, obj: GitObject) -> Violation | None:
    """gto decodes the name stored in the tag object, not the ref name: the two must agree
    (``git push origin 'm#prod#2:refs/tags/m#dev#2'`` is a prod tag to every gto reader)."""
    if obj.kind != "tag" or obj.name is None:
        return None
    name = ref.removeprefix("refs/tags/")
    if obj.name == name:
        return None
    shown = printable_ref(obj.name)
    if is_gto_shaped(obj.name) and ref_format_problem(obj.name) is None:
        hint = f"push the tag under its own name: git push origin 'refs/tags/{shown}'"
    else:  # a name no ref can have (a trailing space): only a new tag object mends it
        hint = f"create the tag under this name: git tag -a '{printable_ref(name)}' COMMIT"
    return Violation(
        "tag-name-mismatch",
        ref,
        f"the ref is named '{printable_ref(name)}' but its tag object is named '{shown}'; "
        f"gto reads the object's name{', a GTO event' if is_gto_shaped(obj.name) else ''}",
        hint,
    )
