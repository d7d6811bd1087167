"""The one exception family: gtoguard cannot run at all (exit code 3).

Everything else a check finds is a ``Violation`` record, never an exception.
"""

from __future__ import annotations

# The exit codes of every command and hook (docs/design.md §5)
EXIT_OK, EXIT_VIOLATIONS, EXIT_USAGE, EXIT_CANNOT_RUN = 0, 1, 2, 3


class CannotRun(Exception):
    """gtoguard cannot do its job: bad configuration, not a repository, internal failure.

    ``rule`` is the violation id a hook prints for it; ``hint`` says what to do.
    """

    rule = "internal-error"
    # A failure of the server's environment (git, the file system, gtoguard's own
    # installation, the server policy): the one kind the server policy's ``fail: open``
    # may accept a push through. What a push or the repository's files hold is never one.
    environmental = True

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class ContentFailure(CannotRun):
    """What a push or the repository holds cannot be judged (an object missing from the
    push): declined, whatever ``fail:`` says."""

    environmental = False


class NotARepository(CannotRun):
    pass


class UsageError(CannotRun):
    """Arguments that cannot work together (exit code 2)."""

    exit_code = 2


class Refused(UsageError):
    """A question gto 1.10.1 refuses with exit code 1, and gtoguard with it (``show``: an
    artifact it cannot find, two output formats, a count below -1)."""

    exit_code = 1


def environmental_failure(exc: BaseException) -> bool:
    """Whether an unexpected exception is a failure of the server's environment, the
    kind ``fail: open`` is for: the file system, or gtoguard's own libraries failing to
    load (anything raised while a module is being imported). Anything else was raised
    judging what a push or the repository holds, and a crafted input must never be what
    opens the gate: memory running out (a push can cause that), and pygit2's errors too
    (a pushed commit with an author line it cannot parse raises one)."""
    if isinstance(exc, (OSError, ImportError)):
        return True
    trace = exc.__traceback__  # from where it was caught down: a module's body running
    while trace is not None:  # below that is an import (importlib hides its own frames)
        code = trace.tb_frame.f_code
        if code.co_name == "<module>" or code.co_filename.startswith("<frozen importlib"):
            return True
        trace = trace.tb_next
    return False


REASON_MAX = 300  # characters of a failure's reason shown to a pusher or a page


def failure_reason(exc: BaseException) -> str:
    """A failure as one line for whoever pushed or clicked: its type and the first line
    of its message, at most ``REASON_MAX`` characters (never a traceback)."""
    return f"{type(exc).__name__}: {exc}".splitlines()[0][:REASON_MAX]
