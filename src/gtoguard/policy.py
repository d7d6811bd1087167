"""The policy a check applies, built from already-validated data. Pure.

With no policy file at all the defaults below are the embedded default policy: the
hygiene that keeps every GTO reader working (DESIGN §2).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

GTO_FILE = ".gto"
POLICY_FILE = ".gtoguard.yaml"
CONFIG_FILES = (GTO_FILE, POLICY_FILE)


@dataclass(frozen=True)
class GtoConfig:
    """What gtoguard uses of ``.gto``. ``stages=None``: any valid stage; ``()``: none."""

    stages: tuple[str, ...] | None = None
    types: tuple[str, ...] | None = None

    def describe_stages(self) -> str:
        if self.stages is None:
            return "any"
        return ", ".join(self.stages) if self.stages else "none"


@dataclass(frozen=True)
class TagRules:
    annotated: bool = True
    counter_required: bool = False
    allow_delete: bool = False
    allow_move: bool = False
    allow_malformed: bool = False
    clock_skew: int = 300


@dataclass(frozen=True)
class Policy:
    warn_only: bool = False
    tags: TagRules = field(default_factory=TagRules)
    sources: tuple[str, ...] = ()

    def strictest(self, other: Policy) -> Policy:
        """A policy that a push satisfies only if it satisfies both (none can loosen the other)."""
        a, b = self.tags, other.tags
        tags = TagRules(
            annotated=a.annotated or b.annotated,
            counter_required=a.counter_required or b.counter_required,
            allow_delete=a.allow_delete and b.allow_delete,
            allow_move=a.allow_move and b.allow_move,
            allow_malformed=a.allow_malformed and b.allow_malformed,
            clock_skew=min(a.clock_skew, b.clock_skew),
        )
        return Policy(
            warn_only=self.warn_only and other.warn_only,
            tags=tags,
            sources=self.sources + other.sources,
        )


def policy_from_data(data: Mapping[str, Any], source: str) -> Policy:
    """Data that passed ``schemas/policy.schema.json``; absent or null keys keep defaults."""
    tags = data.get("tags") or {}
    defaults = TagRules()
    rules = replace(
        defaults,
        annotated=_get(tags, "annotated", defaults.annotated),
        counter_required=_get(tags, "counter", "optional") == "required",
        allow_delete=_get(tags, "delete", "deny") == "allow",
        allow_move=_get(tags, "move", "deny") == "allow",
        allow_malformed=_get(tags, "malformed", "deny") == "allow",
        clock_skew=_get(tags, "clock_skew", defaults.clock_skew),
    )
    return Policy(warn_only=data.get("mode") == "warn", tags=rules, sources=(source,))


def _get(section: Mapping[str, Any], key: str, default: Any) -> Any:
    value = section.get(key)
    return default if value is None else value
