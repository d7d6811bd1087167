"""YAML, read the way gto reads it (safe, YAML 1.2 scalars, no duplicate keys), with
limits on size and expansion. Imported only when a config file must really be parsed:
the hook's steady state takes validated documents from the verdict cache and never
imports yaml."""

from __future__ import annotations

import re
import sys
from typing import Any

import yaml

from gtoguard.config.problems import (
    MAX_CONFIG_BYTES,
    MAX_YAML_NODES,
    ConfigInvalid,
    Problem,
    json_path,
)


class _Rules(yaml.constructor.SafeConstructor):
    """What gtoguard reads differently from PyYAML's safe loader: YAML 1.2 scalars (as
    gto's ruamel loader resolves them): ``yes``/``on`` stay strings, ``1e3`` and ``0o17``
    are numbers, and duplicate keys are errors."""

    yaml_implicit_resolvers = {  # noqa: RUF012 - PyYAML's own class-level table
        first: [(tag, rx) for tag, rx in resolvers if not tag.endswith((":bool", ":int", ":float"))]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        if isinstance(node, yaml.MappingNode):
            self.flatten_mapping(node)  # resolve "<<" merge keys first, as the base class does
            seen: set[Any] = set()
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=True)
                if isinstance(key, str) and key in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"found duplicate key {key!r}", key_node.start_mark
                    )
                seen.add(key if isinstance(key, str) else id(key_node))
        return super().construct_mapping(node, deep=deep)

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int:
        text = str(self.construct_scalar(node)).replace("_", "")
        sign = -1 if text.startswith("-") else 1
        text = text.lstrip("+-")
        for prefix, base in (("0b", 2), ("0o", 8), ("0x", 16)):
            if text.startswith(prefix):
                return sign * int(text[2:], base)
        return sign * int(text)


# (the stubs want a Loader: this is the constructor half both loaders share)
_Rules.add_constructor("tag:yaml.org,2002:int", _Rules.construct_yaml_int)  # type: ignore[type-var]


class _Loader(_Rules, yaml.SafeLoader):
    """The safe loader, in Python."""


# libyaml's parser, where PyYAML has it: the same safe constructor and resolvers, and the
# parsing ten times faster (an 8,000-line policy: 0.4 s against 5 s), which a push's
# budget needs: pushed files are parsed while the push waits
_Fast: type[Any] = _Loader
if getattr(yaml, "__with_libyaml__", False):

    class _Fast(_Rules, yaml.CSafeLoader):  # type: ignore[no-redef]
        """The safe loader, parsed by libyaml."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:int",
    re.compile(r"^(?:[-+]?0b[0-1_]+|[-+]?0o?[0-7_]+|[-+]?[0-9_]+|[-+]?0x[0-9a-fA-F_]+)$"),
    list("-+0123456789"),
)
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"""^(?:[-+]?[0-9][0-9_]*\.[0-9_]*(?:[eE][-+]?[0-9]+)?
        |[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+
        |[-+]?\.[0-9_]+(?:[eE][-+][0-9]+)?
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""",
        re.X,
    ),
    list("-+0123456789."),
)
if _Fast is not _Loader:
    _Fast.yaml_implicit_resolvers = _Loader.yaml_implicit_resolvers

_DIRECTIVE = re.compile(r"^%YAML[ \t]+([0-9]+)\.([0-9]+)", re.M)


def load(data: bytes, file: str) -> Any:
    """Parse one YAML document safely; every failure is a ``ConfigInvalid`` for ``file``."""
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigInvalid([Problem(file, "/", f"file is larger than {MAX_CONFIG_BYTES} bytes")])
    try:
        text = data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        raise ConfigInvalid(
            [Problem(file, "/", f"not UTF-8 text (byte {exc.start})", "save the file as UTF-8")]
        ) from None
    try:
        loader = _Fast(text)
        try:
            doc = loader.get_single_data()
        finally:
            loader.dispose()
        found = _DIRECTIVE.search(text.split("\n---", 1)[0])  # before the document starts
        version = (int(found.group(1)), int(found.group(2))) if found else None
    except yaml.MarkedYAMLError as exc:
        if _Fast is not _Loader and len(text) <= SLOW_PARSE:
            exc = _python_says(text, exc)  # its words: "expected ',' or ']', but got ..."
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = exc.problem or exc.context or "invalid YAML"
        raise ConfigInvalid([Problem(file, "/", f"YAML error{where}: {problem}")]) from None
    except (yaml.YAMLError, RecursionError, ValueError, OverflowError) as exc:
        said = str(exc)
        if "integer string conversion" in said:  # Python's words name its own setting
            limit = getattr(sys, "get_int_max_str_digits", lambda: 4300)()
            said = f"a number of more than {limit} digits"
        raise ConfigInvalid([Problem(file, "/", f"YAML error: {said}")]) from None
    if version is not None and version != (1, 2):
        raise ConfigInvalid([Problem(
            file, "/", f"a %YAML {version[0]}.{version[1]} directive: gto then reads the file "
            "by that version (on, off, yes and no become booleans), gtoguard by YAML 1.2",
            "remove the %YAML line (and the --- after it, if nothing else needs it)",
        )])  # fmt: skip
    if _node_count(doc, MAX_YAML_NODES) > MAX_YAML_NODES:
        raise ConfigInvalid(
            [
                Problem(
                    file,
                    "/",
                    f"document expands to more than {MAX_YAML_NODES} values",
                    "remove the anchors and aliases (&a / *a) that repeat large parts",
                )
            ]
        )
    try:
        bad_key = _non_string_key(doc, ())
    except RecursionError:
        raise ConfigInvalid([Problem(file, "/", "the document is nested too deeply")]) from None
    if bad_key is not None:
        key_path, key = bad_key
        raise ConfigInvalid([Problem(file, json_path(key_path), f"key {key!r} is not a string",
                                     "quote the key or remove it")])  # fmt: skip
    return doc


SLOW_PARSE = 1 << 16  # characters: the Python parser rereads a broken file this small


def _python_says(text: str, found: yaml.MarkedYAMLError) -> yaml.MarkedYAMLError:
    """The Python parser's account of a YAML error (libyaml's words are terser)."""
    loader = _Loader(text)
    try:
        loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        return exc
    except (yaml.YAMLError, RecursionError, ValueError, OverflowError):
        return found
    finally:
        loader.dispose()
    return found


def _non_string_key(doc: Any, where: tuple[Any, ...]) -> tuple[tuple[Any, ...], Any] | None:
    """JSON (and so the schemas) only knows string keys; YAML allows any value as a key."""
    if isinstance(doc, dict):
        for key, value in doc.items():
            if not isinstance(key, str):
                return where, key
            found = _non_string_key(value, (*where, key))
            if found is not None:
                return found
    elif isinstance(doc, list):
        for index, value in enumerate(doc):
            found = _non_string_key(value, (*where, index))
            if found is not None:
                return found
    return None


def _node_count(doc: Any, budget: int) -> int:
    """Values in ``doc`` as if every alias were expanded, stopping once past ``budget``."""
    count, stack = 0, [doc]
    while stack and count <= budget:
        item = stack.pop()
        count += 1
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return count
