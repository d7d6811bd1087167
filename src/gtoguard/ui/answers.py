"""What the page's actions say back (``Answer``), a form value that cannot be used
(``Invalid``), and the check every text field of a form passes (``text``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from gtoguard.model.printable import printable
from gtoguard.policy.report import severity_label

MAX_FIELD = 255  # a tag name cannot be longer (tagname.MAX_TAG_BYTES)


@dataclass
class Answer:
    """What the page says back: the HTTP status, what happened, and the lines to show."""

    status: int
    # invalid | read-only | refused | written | accepted | declined | unpushed | failed,
    # or checked (check=1: the plan's verdict, nothing written)
    outcome: str
    summary: str
    hint: str | None = None
    violations: list[dict[str, Any]] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    remote_lines: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    verdict: str | None = None  # checked: "accepted" or "declined", as the push would be
    passed: list[str] = field(default_factory=list)  # what the stage rules found that passes

    @property
    def wrote(self) -> bool:
        return self.outcome in ("written", "accepted", "unpushed")

    @property
    def good(self) -> bool:
        """Good news: tags written, or a check whose tags would be accepted."""
        return self.wrote or self.verdict == "accepted"

    def document(self) -> dict[str, Any]:
        """The answer for the page's script, which shows it as text: what it quotes of
        pushed text (names, messages, the server's lines) escaped as on the page."""
        shown = asdict(self)
        for key in ("summary", "hint"):
            shown[key] = printable(shown[key]) if shown[key] is not None else None
        for key in ("tags", "remote_lines", "notes", "passed"):
            shown[key] = [printable(text) for text in shown[key]]
        shown["violations"] = [
            {
                **{k: printable(v) if isinstance(v, str) else v for k, v in each.items()},
                "label": severity_label(each["severity"]),
            }
            for each in shown["violations"]
        ]
        return {**shown, "ok": self.good}


class Invalid(Exception):
    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message, self.hint = message, hint


def text(form: Mapping[str, str], key: str, label: str, required: bool = True) -> str:
    value = form.get(key, "").strip()
    if not value and required:
        raise Invalid(f"{label} is required", f"fill in {label}")
    if len(value.encode("utf-8")) > MAX_FIELD or any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise Invalid(
            f"{label} {value[:60]!r} is not a name git can store",
            f"{label}: at most {MAX_FIELD} bytes, no control characters",
        )
    return value
