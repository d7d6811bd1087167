"""The JSON Schemas of the config files (``schemas/``): where they are, loaded once, and
each schema error told as ``json_path: message`` with a hint, never as ``str(error)``."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gtoguard.config.problems import Problem, json_path
from gtoguard.errors import CannotRun
from gtoguard.policy.settings import (
    GTO_FILE,
)

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import ValidationError

_GTO_KEYS = (
    "stages",
    "types",
    "enrichments",
    "autoload_enrichments",
    "INDEX",
    "LOG_LEVEL",
    "DEBUG",
    "EMOJIS",
    "CONFIG_FILE_NAME",
)


def schema_dir() -> Path:
    """The packaged ``gtoguard/schemas/`` beside this module (a wheel, an sdist, ``pip
    install .``), else the checkout's ``schemas/`` (an editable install maps the package
    there). Found from this file, not through ``importlib.resources``: the directory has
    no ``__init__.py``, so ``resources.files("gtoguard.schemas")`` would be a namespace
    package's ``MultiplexedPath``, whose ``str()`` is not a path; and the hook would pay
    for importing resources (and zipfile, tempfile) on every push."""
    package = Path(__file__).resolve().parents[1]  # gtoguard/, this file being config/schemas.py
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
    names = {
        bool: "boolean",
        int: "integer",
        float: "number",
        str: "string",
        list: "array",
        dict: "object",
        type(None): "null",
    }
    return names.get(type(value), type(value).__name__)


def _short(value: Any) -> str:
    text = repr(value)
    return f"({text[:60]}…)" if len(text) > 60 else f"({text})"
