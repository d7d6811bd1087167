"""Verdicts already reached, kept on disk: config blobs found valid, and jsonschema's
verdicts on decoded tag shapes, so a steady-state hook neither parses YAML nor imports
jsonschema."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

from gtoguard.config.problems import MAX_CONFIG_BYTES
from gtoguard.config.schemas import schema_dir

try:  # the digest without hashlib, whose OpenSSL binding costs the hook 2-3 ms to load
    from _blake2 import blake2b as _digest
except ImportError:  # pragma: no cover - an interpreter built without it
    from hashlib import blake2b as _digest


def content_digest(data: bytes) -> str:
    """A 128-bit digest (hex) for cache keys: pushed content chooses what it covers, so
    it must resist a made-up collision."""
    return _digest(data, digest_size=16).hexdigest()


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

    def document(
        self, kind: str, blob: str, data: Callable[[], bytes], parse: Callable[[bytes], Any]
    ) -> Any:
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

    def tag_verdict(
        self, schema: str, shape: tuple[object, ...]
    ) -> list[tuple[str, str, str]] | None:
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

    def keep_tag_verdict(
        self, schema: str, shape: tuple[object, ...], verdict: list[tuple[str, str, str]]
    ) -> None:
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
