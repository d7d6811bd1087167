"""Read ``.gto`` and policy files: safe YAML, JSON Schema validation, errors with JSON paths.

Also derives, from ``.gto`` and the policy, the schema that every pushed tag must satisfy
(``schemas/tag-event.schema.json`` narrowed: the stage an enum of the allowed stages, a
counter where the policy requires one).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gtoguard.config.problems import ConfigInvalid, Problem, json_path
from gtoguard.config.schemas import load_schema, schema_problems
from gtoguard.config.verdictcache import VerdictCache, content_digest
from gtoguard.model.tagname import TagName
from gtoguard.policy.groups import group_problems
from gtoguard.policy.settings import (
    GTO_FILE,
    INDEX_FILE,
    POLICY_FILE,
    SERVER_ONLY_KEYS,
    GtoConfig,
    Policy,
    policy_from_data,
)

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator


# --- YAML, read the way gto reads it ---------------------------------------------------


def load_yaml(data: bytes, file: str) -> Any:
    """Parse one YAML document safely; every failure is a ``ConfigInvalid`` for ``file``."""
    from gtoguard.config.yamlfile import load  # yaml itself only when a file is really parsed

    return load(data, file)


# --- the files -------------------------------------------------------------------------


def parse_gto_config(data: bytes | None, file: str = GTO_FILE) -> GtoConfig:
    """``.gto`` as gto reads it; None (no file) means every valid stage is allowed."""
    if data is None:
        return GtoConfig()
    return gto_config_from(gto_document(data, file))


def gto_document(data: bytes, file: str = GTO_FILE) -> Any:
    """The YAML document of a ``.gto``, once it passed its schema."""
    doc = load_yaml(data, file)
    problems = schema_problems(doc, "gto-config", file)
    if problems:
        raise ConfigInvalid(problems)
    return doc


def gto_config_from(doc: Any) -> GtoConfig:
    values: dict[str, Any] = {}
    for key, value in (doc or {}).items():
        values.setdefault(str(key).lower(), value)  # gto: first spelling of a key wins
    stages, types = values.get("stages"), values.get("types")
    return GtoConfig(
        stages=None if stages is None else tuple(stages),
        types=None if types is None else tuple(types),
    )


def parse_policy(data: bytes | None, file: str = POLICY_FILE, server: bool = False) -> Policy:
    """A policy file. Only the server's (``server=True``) may set the server-only keys."""
    if data is None:
        return Policy()
    return policy_from_data(policy_document(data, file, server) or {}, source=file)


def policy_document(data: bytes, file: str = POLICY_FILE, server: bool = False) -> Any:
    """The YAML document of a policy, once it passed its schema and the checks after it."""
    doc = load_yaml(data, file)
    problems = schema_problems(doc, "policy", file)
    if not problems and doc:
        problems = _policy_problems(doc, file, server)
    if problems:
        raise ConfigInvalid(problems)
    return doc


def _policy_problems(doc: Mapping[str, Any], file: str, server: bool) -> list[Problem]:
    problems = []
    if not server:
        for key in SERVER_ONLY_KEYS:
            if doc.get(key) is not None:
                problems.append(
                    Problem(
                        file,
                        f"/{key}",
                        f"'{key}' is a server-only key: a repository cannot set it",
                        "move it to the server policy (git config gtoguard.policy, or GTOGUARD_POLICY)",
                    )
                )
        if (doc.get("tags") or {}).get("max_age") == "off":
            problems.append(
                Problem(
                    file,
                    "/tags/max_age",
                    "'max_age: off' accepts tags dated any time before the push; only the "
                    "server policy may switch the bound off (to mirror old history)",
                    "give a number of seconds, or set it in the server policy",
                )
            )
    log = doc.get("log")
    if server and isinstance(log, str) and not log.startswith("/"):
        problems.append(
            Problem(
                file,
                "/log",
                f"{log!r} is not an absolute path: hooks run in the repository, "
                "so a relative one would name a file in each repository",
                "give the whole path, such as /var/log/gtoguard/decisions.jsonl",
            )
        )
    from gtoguard.policy.patterns import (  # RE2: only to check a policy
        PatternError,
        compile_pattern,
    )

    for stage, entry in (doc.get("stages") or {}).items():
        pattern = (entry or {}).get("message")
        if isinstance(pattern, str):
            try:
                compile_pattern(pattern)
            except PatternError as exc:
                problems.append(
                    Problem(
                        file,
                        f"/stages/{stage}/message",
                        f"not a usable pattern: {exc}",
                        "message patterns are RE2 (linear time): no backreferences or lookaround",
                    )
                )
    for stage, entry in (doc.get("stages") or {}).items():
        for number, window in enumerate((entry or {}).get("freeze") or ()):
            problems += _window_problems(window, f"/stages/{stage}/freeze/{number}", file)
    for path, what in group_problems(doc):
        problems.append(
            Problem(
                file,
                path,
                what,
                "define each group under groups: {name: [user, '@other-group', ...]}, "
                "with no group inside itself",
            )
        )
    return problems


def _window_problems(window: Mapping[str, Any], path: str, file: str) -> list[Problem]:
    """A freeze window's times, cron expressions and zone (cronsim and zoneinfo read
    them only here and when a push meets the window)."""
    from gtoguard.policy.freeze import problems

    hints = {
        "timezone": "an IANA zone name, as in /usr/share/zoneinfo: Europe/Berlin, UTC",
        "start": "five fields: minute hour day-of-month month day-of-week ('0 16 * * 5')",
        "until": "until must come after from; both ISO 8601 with a zone",
    }
    hints["end"], hints["from"] = hints["start"], hints["until"]
    return [
        Problem(file, f"{path}/{key}", message, hints[key]) for key, message in problems(window)
    ]


def stage_problems(gto: GtoConfig, policy: Policy, file: str) -> list[Problem]:
    """Stages a repository policy names (as a stage or in 'from') that .gto does not
    allow: rules for them would never apply, which is how a typo unprotects prod."""
    problems = []
    seen: dict[str, str] = {}
    for rules in policy.stages:
        other = seen.setdefault(rules.stage.lower(), rules.stage)
        if other != rules.stage and rules.source == file:
            problems.append(
                Problem(
                    file,
                    f"/stages/{rules.stage}",
                    f"stages {other!r} and {rules.stage!r} differ only in case; a tag matches one",
                    "use the stage name exactly as the tags spell it",
                )
            )
    if gto.stages is None:
        return problems
    for rules in policy.stages:
        named = [(f"/stages/{rules.stage}", rules.stage)]
        named += [(f"/stages/{rules.stage}/from", s) for s in rules.from_stages or ()]
        named += [(f"/stages/{rules.stage}/soak/{s}", s) for s, _ in rules.soak]
        for path, stage in named:
            if stage not in gto.stages:
                problems.append(
                    Problem(
                        file,
                        path,
                        f"stage {stage!r} is not allowed by .gto (allowed: {gto.describe_stages()})",
                        "fix the stage name, or add the stage to .gto first",
                    )
                )
    return problems


def index_document(data: bytes, file: str = INDEX_FILE) -> Any:
    """The document of gto's ``artifacts.yaml``, once it passed its schema: gto reads it
    at HEAD for every registry, and one it cannot load fails them all."""
    doc = load_yaml(data, file)
    problems = schema_problems(doc, "artifacts-index", file)
    if problems:
        raise ConfigInvalid(problems)
    return doc


def config_file_kind(path: str) -> str:
    """``gto`` for a file named ``.gto`` (GTO's config), ``repository-policy`` for one
    named ``.gtoguard.yaml``, ``index`` for ``artifacts.yaml`` (gto's artifact index),
    else ``server-policy``. ``path`` may be ``REV:PATH``."""
    name = Path(path).name.rsplit(":", 1)[-1]
    if name == GTO_FILE:
        return "gto"
    if name == INDEX_FILE:
        return "index"
    return "repository-policy" if name == POLICY_FILE else "server-policy"


def validate_file(data: bytes, file: str) -> list[Problem]:
    """Problems of one file (empty when valid), by its kind."""
    try:
        kind = config_file_kind(file)
        if kind == "gto":
            parse_gto_config(data, file)
        elif kind == "index":
            index_document(data, file)
        else:
            parse_policy(data, file, server=kind == "server-policy")
    except ConfigInvalid as exc:
        return exc.problems
    return []


# --- the schema each pushed tag must satisfy -------------------------------------------


def tag_schema(gto: GtoConfig, policy: Policy) -> dict[str, Any]:
    """``tag-event.schema.json`` narrowed by ``.gto`` and the policy (docs/design.md §4 point 2)."""
    narrowing: dict[str, Any] = {}
    if gto.stages is not None:
        narrowing["if"] = {"properties": {"action": {"enum": ["assign", "unassign"]}}}
        narrowing["then"] = {"properties": {"stage": {"enum": list(gto.stages)}}}
    required: dict[str, Any] = {}
    if policy.tags.counter_required:
        required = {"properties": {"counter": {"type": "integer"}}}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "allOf": [load_schema("tag-event"), narrowing, required],
    }


def tag_checker(
    gto: GtoConfig, policy: Policy, cache: VerdictCache | None = None
) -> Callable[[TagName | dict[str, object]], Iterator[tuple[str, str, str]]]:
    """Validate decoded tags with jsonschema: yields (json pointer, keyword, message).
    Takes a ``TagName`` (its ``as_event()`` document) or the document itself.

    Decoded tags come from parse_tag, so artifact, version and counter already have the
    grammar's shape; what ``.gto`` and the policy narrow is the stage (by action) and
    whether a counter is there. jsonschema decides each such shape once: the verdict is
    kept here for the rest of the batch (a 100,000-tag replay validates a handful of
    documents) and, with ``cache``, across pushes, keyed by the schema's digest, so a
    steady-state hook never imports jsonschema. A hypothesis test holds the kept
    verdicts to fresh validation."""
    schema = tag_schema(gto, policy)
    digest = content_digest(json.dumps(schema, sort_keys=True).encode())
    verdicts: dict[tuple[object, ...], list[tuple[str, str, str]]] = {}
    validator: list[Draft202012Validator] = []

    def validate(event: dict[str, object]) -> list[tuple[str, str, str]]:
        if not validator:
            import jsonschema  # only for a shape no verdict is kept for

            validator.append(jsonschema.Draft202012Validator(schema))
        found = []
        for error in validator[0].iter_errors(event):
            leaves = (
                error.context
                if error.validator in ("anyOf", "allOf") and error.context
                else [error]
            )
            for leaf in leaves:
                found.append((json_path(leaf.absolute_path), str(leaf.validator), leaf.message))
        return found

    def errors(event: TagName | dict[str, object]) -> Iterator[tuple[str, str, str]]:
        if isinstance(event, TagName):
            key: tuple[object, ...] = (
                event.action._value_,
                event.stage,
                event.version is None,
                event.counter is None,
            )
        else:
            key = (
                event.get("action"),
                event.get("stage"),
                event.get("version") is None,
                event.get("counter") is None,
            )
        found = verdicts.get(key)
        if found is None:
            kept = cache.tag_verdict(digest, key) if cache is not None else None
            if kept is None:
                kept = validate(event.as_event() if isinstance(event, TagName) else event)
                if cache is not None:
                    cache.keep_tag_verdict(digest, key, kept)
            found = verdicts[key] = kept
        return iter(found)

    return errors
