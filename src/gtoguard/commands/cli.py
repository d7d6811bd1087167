"""The command line: a thin click layer over the commands in ``commands/``, one module
per family of verbs. Commands return exit codes (docs/design.md §5): 0 accepted, 1 violations,
2 usage error, 3 cannot run."""

from __future__ import annotations

from gtoguard.commands import (  # noqa: F401 (they register)
    approving,
    configs,
    create,
    demo,
    history,
    hooks,
    log,
    parse,
    read,
    show,
    ui,
)
from gtoguard.commands.base import main

__all__ = ["main"]

if __name__ == "__main__":
    main()
