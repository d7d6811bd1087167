"""The three hook shims from one template, ``hooks/shim.sh.in`` of the source tree.

The shims differ in a few places (which hook, how it reads git's lines, what it says when
it stops one); the template holds their common text once, with the per-hook parts in
``#%if HOOK...`` / ``#%else`` / ``#%end`` blocks. The generated files are committed (they
are the package data ``gtoguard.shims``, what ``gtoguard install`` copies), and
tests/test_shims.py fails while one differs from what the template gives. A maintainer's
tool: ``python -m gtoguard.server.shimtemplate`` rewrites them after the template changed.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

HOOKS = ("pre-receive", "pre-push", "reference-transaction")
NAME = "@HOOK@"
DIRECTIVE = "#%"


class TemplateError(ValueError):
    """The template's blocks do not add up; says the line."""


def source_hooks() -> Path:
    return Path(__file__).resolve().parents[3] / "hooks"  # src/gtoguard/server/shimtemplate.py


def render(template: str, hook: str) -> str:
    """The shim of ``hook``: the lines its blocks keep, byte for byte, ``@HOOK@`` named."""
    if hook not in HOOKS:
        raise TemplateError(f"no such hook: {hook}")
    kept: list[str] = []
    blocks: list[tuple[frozenset[str], bool]] = []  # (hooks named at #%if, in its #%else)
    for number, line in enumerate(template.split("\n"), 1):
        if not line.startswith(DIRECTIVE):
            if all((hook in named) != flipped for named, flipped in blocks):
                kept.append(line.replace(NAME, hook))
            continue
        rest = line[len(DIRECTIVE) :]
        if rest == "" or rest.startswith(" "):
            continue  # the template's own comment
        word, *names = rest.split()
        if word == "if":
            unknown = [name for name in names if name not in HOOKS]
            if not names or unknown:
                raise TemplateError(f"line {number}: #%if names no known hook: {line}")
            blocks.append((frozenset(names), False))
        elif word in ("else", "end") and not names and blocks:
            named, flipped = blocks.pop()
            if word == "else":
                if flipped:
                    raise TemplateError(f"line {number}: a second #%else in one block")
                blocks.append((named, True))
        else:
            raise TemplateError(f"line {number}: not a directive here: {line}")
    if blocks:
        raise TemplateError("the template ends inside an #%if block")
    return "\n".join(kept)


def read_template(hooks: Path) -> str:
    return (hooks / "shim.sh.in").read_bytes().decode("utf-8")  # no newline translation


def stale(hooks: Path) -> list[str]:
    """The shims in ``hooks`` that are not what its template gives (edited alone)."""
    template = read_template(hooks)
    return [hook for hook in HOOKS if _bytes(hooks / hook) != render(template, hook).encode()]


def write(hooks: Path) -> list[str]:
    """Writes the shims the template gives into ``hooks``; returns those it changed."""
    template = read_template(hooks)
    changed = stale(hooks)
    for hook in changed:
        (hooks / hook).write_bytes(render(template, hook).encode())  # keeps the file's mode
    return changed


def _bytes(path: Path) -> bytes | None:
    return path.read_bytes() if path.is_file() else None


def main(argv: Sequence[str] | None = None) -> int:
    """Rewrites the source tree's hooks/ from its template; says which shims changed."""
    if list(sys.argv[1:] if argv is None else argv):
        sys.stderr.write("usage: python -m gtoguard.server.shimtemplate  (no arguments)\n")
        return 2
    for hook in write(source_hooks()):
        print(f"wrote hooks/{hook}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
