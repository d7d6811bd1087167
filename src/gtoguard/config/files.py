"""Read ``.gto`` and policy files: safe YAML, JSON Schema validation, errors with JSON paths.

Also derives, from ``.gto`` and the policy, the schema that every pushed tag must satisfy
(``schemas/tag-event.schema.json`` narrowed: the stage an enum of the allowed stages, a
counter where the policy requires one).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from gtoguard.errors import CannotRun
from gtoguard.model.tagname import TagName
from gtoguard.policy.settings import (
    GTO_FILE,
    INDEX_FILE,
    POLICY_FILE,
    SERVER_ONLY_KEYS,
    GtoConfig,
    Policy,
    group_problems,
    policy_from_data,
)

try:  # the digest without hashlib, whose OpenSSL binding costs the hook 2-3 ms to load
    from _blake2 import blake2b as _digest
except ImportError:  # pragma: no cover - an interpreter built without it
    from hashlib import blake2b as _digest


def content_digest(data: bytes) -> str:
    """A 128-bit digest (hex) for cache keys: pushed content chooses what it covers, so
    it must resist a made-up collision."""
    return _digest(data, digest_size=16).hexdigest()


if TYPE_CHECKING:
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import ValidationError

MAX_CONFIG_BYTES = 1 << 20
MAX_YAML_NODES = 100_000

_GTO_KEYS = (
    "stages", "types", "enrichments", "autoload_enrichments", "INDEX", "LOG_LEVEL", "DEBUG",
    "EMOJIS", "CONFIG_FILE_NAME",
)  # fmt: skip


class Problem(NamedTuple):
    """One reason a configuration file is unusable."""

    file: str
    path: str  # JSON pointer into the document, "/" for the whole file
    message: str
    hint: str | None = None

    def __str__(self) -> str:
        return f"{self.file}: {self.path}: {self.message}"


class ConfigInvalid(CannotRun):
    """A configuration file that cannot be used. The repository's files are content, so
    by default this is no environmental failure; the server policy's is (``server_policy``
    marks it)."""

    rule = "config-invalid"
    environmental = False

    def __init__(self, problems: list[Problem]) -> None:
        first = problems[0]
        super().__init__(str(first), first.hint)
        self.problems = problems


# --- YAML, read the way gto reads it ---------------------------------------------------


def load_yaml(data: bytes, file: str) -> Any:
    """Parse one YAML document safely; every failure is a ``ConfigInvalid`` for ``file``."""
    from gtoguard.config.yamlfile import load  # yaml itself only when a file is really parsed

    return load(data, file)


# --- schemas ---------------------------------------------------------------------------


def schema_dir() -> Path:
    """The packaged ``gtoguard/schemas/`` beside this module (a wheel, an sdist, ``pip
    install .``), else the checkout's ``schemas/`` (an editable install maps the package
    there). Found from this file, not through ``importlib.resources``: the directory has
    no ``__init__.py``, so ``resources.files("gtoguard.schemas")`` would be a namespace
    package's ``MultiplexedPath``, whose ``str()`` is not a path; and the hook would pay
    for importing resources (and zipfile, tempfile) on every push."""
    package = Path(__file__).resolve().parents[1]  # gtoguard/, this file being config/files.py
    packaged = package / "schemas"
    if (packaged / "tag-event.schema.json").is_file():
        return packaged
    return package.parents[1] / "schemas"


@cache
def load_schema(name: str) -> dict[str, Any]:
    path = schema_dir() / f"{name}.schema.json"
    try:
        schema: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CannotRun(f"cannot read schema {path}: {exc}", "reinstall gtoguard") from None
    return schema


@cache
def _validator(name: str) -> Draft202012Validator:
    import jsonschema  # only when a file is really validated (the verdict cache spares it)

    return jsonschema.Draft202012Validator(
        load_schema(name), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


def json_path(parts: Iterator[Any] | Any) -> str:
    items = [str(p).replace("~", "~0").replace("/", "~1") for p in parts]
    return "/" + "/".join(items)


def schema_problems(doc: Any, schema: str, file: str) -> list[Problem]:
    validator = _validator(schema)
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(map(str, e.absolute_path)))
    return [_describe(error, file) for error in errors]


def _describe(error: ValidationError, file: str) -> Problem:
    hint = _schema_of(error).get("x-hint")
    if error.validator in ("anyOf", "oneOf") and error.context and not hint:
        from jsonschema.exceptions import best_match

        error = best_match(error.context)
        hint = _schema_of(error).get("x-hint")
    path = json_path(error.absolute_path)
    value = error.instance
    schema = _schema_of(error)
    if error.validator == "additionalProperties" and isinstance(value, dict):
        allowed = sorted(schema.get("properties", {})) or list(_GTO_KEYS)
        extra = [k for k in value if not _key_allowed(schema, k)]
        message = f"unknown key {', '.join(map(repr, extra))}"
        hint = f"allowed keys: {', '.join(allowed)}"
        if file.endswith(GTO_FILE):
            hint += " (gto refuses any other key; gtoguard's rules go in .gtoguard.yaml)"
        return Problem(file, path, message, hint)
    if error.validator == "pattern":
        return Problem(file, path, f"{value!r} is not a valid name", hint)
    if error.validator == "enum":
        options = ", ".join(map(str, schema.get("enum", [])))
        return Problem(file, path, f"{value!r} is not one of: {options}", hint)
    if error.validator == "type":
        types = schema.get("type", "")
        wanted = " or ".join(types) if isinstance(types, list) else str(types)
        message = f"expected {wanted}, got {_json_type(value)} {_short(value)}"
        if wanted.startswith("array") and isinstance(value, str):
            hint = hint or f"write a list: [{value}]"
        return Problem(file, path, message, hint)
    if error.validator in ("anyOf", "oneOf"):
        return Problem(file, path, f"{value!r} is not accepted here", hint)
    return Problem(file, path, error.message, hint)


def _schema_of(error: ValidationError) -> Mapping[str, Any]:
    return error.schema if isinstance(error.schema, Mapping) else {}


def _key_allowed(schema: Mapping[str, Any], key: Any) -> bool:
    if key in schema.get("properties", {}):
        return True
    return any(re.search(p, str(key)) for p in schema.get("patternProperties", {}))


def _json_type(value: Any) -> str:
    names = {bool: "boolean", int: "integer", float: "number", str: "string",
             list: "array", dict: "object", type(None): "null"}  # fmt: skip
    return names.get(type(value), type(value).__name__)


def _short(value: Any) -> str:
    text = repr(value)
    return f"({text[:60]}…)" if len(text) > 60 else f"({text})"


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
                problems.append(Problem(
                    file, f"/{key}",
                    f"'{key}' is a server-only key: a repository cannot set it",
                    "move it to the server policy (git config gtoguard.policy, or GTOGUARD_POLICY)",
                ))  # fmt: skip
        if (doc.get("tags") or {}).get("max_age") == "off":
            problems.append(Problem(
                file, "/tags/max_age",
                "'max_age: off' accepts tags dated any time before the push; only the "
                "server policy may switch the bound off (to mirror old history)",
                "give a number of seconds, or set it in the server policy",
            ))  # fmt: skip
    log = doc.get("log")
    if server and isinstance(log, str) and not log.startswith("/"):
        problems.append(Problem(
            file, "/log", f"{log!r} is not an absolute path: hooks run in the repository, "
            "so a relative one would name a file in each repository",
            "give the whole path, such as /var/log/gtoguard/decisions.jsonl",
        ))  # fmt: skip
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
                problems.append(Problem(
                    file, f"/stages/{stage}/message", f"not a usable pattern: {exc}",
                    "message patterns are RE2 (linear time): no backreferences or lookaround",
                ))  # fmt: skip
    for stage, entry in (doc.get("stages") or {}).items():
        for number, window in enumerate((entry or {}).get("freeze") or ()):
            problems += _window_problems(window, f"/stages/{stage}/freeze/{number}", file)
    for path, what in group_problems(doc):
        problems.append(Problem(
            file, path, what,
            "define each group under groups: {name: [user, '@other-group', ...]}, "
            "with no group inside itself",
        ))  # fmt: skip
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
    return [Problem(file, f"{path}/{key}", message, hints[key])
            for key, message in problems(window)]  # fmt: skip


def stage_problems(gto: GtoConfig, policy: Policy, file: str) -> list[Problem]:
    """Stages a repository policy names (as a stage or in 'from') that .gto does not
    allow: rules for them would never apply, which is how a typo unprotects prod."""
    problems = []
    seen: dict[str, str] = {}
    for rules in policy.stages:
        other = seen.setdefault(rules.stage.lower(), rules.stage)
        if other != rules.stage and rules.source == file:
            problems.append(Problem(
                file, f"/stages/{rules.stage}",
                f"stages {other!r} and {rules.stage!r} differ only in case; a tag matches one",
                "use the stage name exactly as the tags spell it",
            ))  # fmt: skip
    if gto.stages is None:
        return problems
    for rules in policy.stages:
        named = [(f"/stages/{rules.stage}", rules.stage)]
        named += [(f"/stages/{rules.stage}/from", s) for s in rules.from_stages or ()]
        for path, stage in named:
            if stage not in gto.stages:
                problems.append(Problem(
                    file, path,
                    f"stage {stage!r} is not allowed by .gto (allowed: {gto.describe_stages()})",
                    "fix the stage name, or add the stage to .gto first",
                ))  # fmt: skip
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
            key: tuple[object, ...] = (event.action._value_, event.stage,
                                       event.version is None, event.counter is None)  # fmt: skip
        else:
            key = (event.get("action"), event.get("stage"), event.get("version") is None,
                   event.get("counter") is None)  # fmt: skip
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


# --- verdicts already reached ----------------------------------------------------------


class VerdictCache:
    """Config blobs found valid before, by blob id, with their documents: the same ``.gto``
    is not parsed and validated again on every push. A blob id names its content, so an
    entry never goes stale; the key also holds gtoguard's version and a digest of the
    schemas, so a new release validates again. Invalid blobs are never cached (their
    messages are wanted). Kept as JSON in ``<git dir>/gtoguard-cache/`` (a name Python
    cannot import: hooks run with the git dir as the current directory); if it cannot be read or
    written the files are simply validated."""

    def __init__(self, directory: Path | None) -> None:
        self.path = directory / "verdicts.json" if directory is not None else None
        self._entries: dict[str, Any] | None = None
        self._dirty = False

    @staticmethod
    @cache
    def _salt() -> str:
        from gtoguard import __version__

        digest = _digest(__version__.encode(), digest_size=16)
        for name in ("gto-config", "policy", "artifacts-index"):
            digest.update((schema_dir() / f"{name}.schema.json").read_bytes())
        return digest.hexdigest()

    def _load(self) -> dict[str, Any]:
        if self._entries is None:
            self._entries = {}
            if self.path is not None:
                try:
                    loaded = json.loads(self.path.read_bytes()[: 4 * MAX_CONFIG_BYTES])
                    if isinstance(loaded, dict):
                        self._entries = loaded
                except (OSError, ValueError):
                    pass
        return self._entries

    def document(self, kind: str, blob: str, data: Callable[[], bytes],
                 parse: Callable[[bytes], Any]) -> Any:  # fmt: skip
        """The validated document of blob ``blob``: cached, or ``parse(data())``."""
        key = f"{kind}:{blob}:{self._salt()}"
        entries = self._load()
        found = self._unsealed(key, entries.get(key))
        if found is not None:
            return found[0]
        doc = parse(data())
        try:
            entries[key] = self._sealed(key, doc)
        except (TypeError, ValueError):
            return doc  # not JSON-shaped: use it, but do not keep it
        self._dirty = True
        return doc

    def tag_verdict(self, schema: str, shape: tuple[object, ...]
                    ) -> list[tuple[str, str, str]] | None:  # fmt: skip
        """jsonschema's verdict on a decoded tag of ``shape`` under the schema of digest
        ``schema``, if one was reached before (see ``tag_checker``)."""
        key = self._tag_key(schema, shape)
        found = self._unsealed(key, self._load().get(key))
        if found is None or not isinstance(found[0], list):
            return None
        try:
            return [(str(p), str(k), str(m)) for p, k, m in found[0]]
        except (TypeError, ValueError):
            return None  # a damaged entry: validate again

    def keep_tag_verdict(self, schema: str, shape: tuple[object, ...],
                         verdict: list[tuple[str, str, str]]) -> None:  # fmt: skip
        key = self._tag_key(schema, shape)
        self._load()[key] = self._sealed(key, [list(v) for v in verdict])
        self._dirty = True

    # Each entry is kept with a seal: the digest of its key and its JSON. An entry that
    # was damaged or edited by hand no longer matches its seal, and is validated again
    # instead of trusted (or crashing whatever reads it).

    def _sealed(self, key: str, value: Any) -> dict[str, Any]:
        text = json.dumps(value, sort_keys=True)
        return {"seal": content_digest(f"{key}\n{text}".encode()), "value": value}

    def _unsealed(self, key: str, entry: Any) -> tuple[Any] | None:
        if not isinstance(entry, dict) or "value" not in entry:
            return None
        try:
            if entry.get("seal") == self._sealed(key, entry["value"])["seal"]:
                return (entry["value"],)
        except (TypeError, ValueError):
            pass
        return None

    def _tag_key(self, schema: str, shape: tuple[object, ...]) -> str:
        return f"tag:{schema}:{json.dumps(list(shape))}:{self._salt()}"

    def save(self) -> None:
        if not self._dirty or self.path is None or self._entries is None:
            return
        entries = dict(list(self._entries.items())[-200:])  # a bounded history
        try:
            self.path.parent.mkdir(exist_ok=True)
            temporary = self.path.with_name(f".verdicts.{os.getpid()}.tmp")
            temporary.write_text(json.dumps(entries), encoding="utf-8")
            os.replace(temporary, self.path)
        except OSError:
            pass  # a read-only repository: validate next time too
        self._dirty = False
