"""One server shared by every example of a hypothesis property that pushes (a world per
example would take minutes). A support module for test_hostile.py and test_integrity.py."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from itertools import count

from conftest import World


class Fuzzed:
    """The shared server, a fresh number for each example's tag name, and the verdicts
    counted: a property whose examples were all declined, or all accepted, proved less
    than it says."""

    def __init__(self, make: Callable[[], World]) -> None:
        self.make = make
        self.made: World | None = None
        self.numbers = count(1)
        self.verdicts: dict[bool, int] = {True: 0, False: 0}

    @property
    def world(self) -> World:
        """Made by the first example, inside a test: the suite's git settings (an
        autouse fixture's HOME) are in force then, not while a module fixture runs."""
        if self.made is None:
            self.made = self.make()
        return self.made


def shared(make: Callable[[], World]) -> Iterator[Fuzzed]:
    """The body of a module fixture: the shared server, and after the last example the
    check that both verdicts came."""
    fuzzed = Fuzzed(make)
    yield fuzzed
    assert all(fuzzed.verdicts.values()), f"accepted/declined: {fuzzed.verdicts}"
