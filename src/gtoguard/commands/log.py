"""``gtoguard log``: read the server's decision log (server policy ``log:``)."""

from __future__ import annotations

import re
import time
from typing import Any

import click

from gtoguard.commands.base import exits, main, say
from gtoguard.errors import CannotRun, UsageError
from gtoguard.model.printable import printable

_SPAN = re.compile(r"([0-9]+)([smhd])")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@main.command("log")
@click.option("--json", "as_json", is_flag=True, help="The matching lines as they are (JSON).")
@click.option(
    "--since",
    metavar="T",
    help="Only decisions from T on: a span back from now (90m, 12h, 7d), ISO "
    "8601 with a zone, or epoch seconds.",
)
@click.option("--rule", metavar="R", help="Only decisions with a violation of rule R.")
@click.option(
    "--file",
    "path",
    metavar="PATH",
    help="Read PATH (say, a rotated log) instead of the server policy's log.",
)
@click.option(
    "--repo",
    default=".",
    show_default=True,
    help="The server repository whose server policy names the log.",
)
@exits
def log(as_json: bool, since: str | None, rule: str | None, path: str | None, repo: str) -> int:
    """Show the decisions the pre-receive hook logged, oldest first.

    The server policy's 'log: PATH' makes the hook append one JSON line per push it
    decides, accepted or declined: time, repository, pusher (and the variable it came
    from), each ref with its old and new id, the verdict and each violation's rule.
    """
    from gtoguard.registry import decisionlog

    if rule is not None:
        _known_rule(rule)
    start = None if since is None else _since(since)
    path = path or _log_path(repo)
    shown = 0
    try:
        for number, line in decisionlog.read(path):
            if line is None:
                say(
                    f"gtoguard: warning: {printable(path)}:{number} is not a decision line",
                    err=True,
                )
                continue
            if not _wanted(line, start, rule):
                continue
            shown += 1
            if as_json:
                click.echo(_json(line))
            else:
                say(_text(line))
    except BrokenPipeError:  # the reader went away (gtoguard log | head): not the log's fault
        raise
    except OSError as exc:
        raise CannotRun(
            f"cannot read the decision log {path}: {exc.strerror or exc}",
            "run it where the log is, as a user who may read it",
        ) from None
    if not shown and not as_json:
        say("no decisions match" if start or rule else "no decisions logged yet")
    return 0


def _known_rule(rule: str) -> None:
    import difflib

    from gtoguard.policy.catalog import RULE_IDS

    if rule in RULE_IDS:
        return
    near = difflib.get_close_matches(rule, sorted(RULE_IDS), n=1)
    raise UsageError(
        f"--rule {printable(rule)!r} is not a rule id",
        f"did you mean --rule {near[0]}? (the README's Rules table lists every id)"
        if near
        else "the README's Rules table lists every id, e.g. stage-frozen",
    )


def _log_path(repo: str) -> str:
    from gtoguard.git.repo import open_repo
    from gtoguard.registry.rulefiles import server_policy

    policy = server_policy(open_repo(repo))
    if policy is None or policy.log is None:
        raise UsageError(
            "no decision log is configured here",
            "set 'log: PATH' in the server policy (git config gtoguard.policy), "
            "or read one with --file PATH",
        )
    return policy.log


def _since(text: str) -> int:
    from gtoguard.commands.read import _epoch

    span = _SPAN.fullmatch(text.strip())
    if span is not None:
        return int(time.time()) - int(span[1]) * _SECONDS[span[2]]
    try:
        return _epoch(text, "--since")
    except UsageError as exc:
        raise UsageError(
            exc.message,
            "give a span back from now (90m, 12h, 7d), ISO 8601 with "
            "a zone (2026-12-01T06:00:00Z) or epoch seconds",
        ) from None


def _wanted(line: dict[str, Any], start: int | None, rule: str | None) -> bool:
    from gtoguard.registry.decisionlog import moment

    if start is not None:
        when = moment(line)
        if when is None or when.timestamp() < start:
            return False
    if rule is not None:
        return any(
            isinstance(v, dict) and v.get("rule") == rule for v in line.get("violations") or ()
        )
    return True


def _json(line: dict[str, Any]) -> str:
    import json

    return json.dumps(line, ensure_ascii=False)


def _text(line: dict[str, Any]) -> str:
    """``TIME VERDICT PUSHER REPOSITORY``, then each ref with its rules; every field one
    line, escaped (the pusher is whatever the server's variable held)."""
    who = printable(str(line.get("pusher") or "-"))
    if line.get("pusher_from"):
        who += f" ({printable(str(line['pusher_from']))})"
    rules: dict[str, list[str]] = {}
    for violation in line.get("violations") or ():
        if isinstance(violation, dict):
            rules.setdefault(str(violation.get("ref")), []).append(str(violation.get("rule")))
    when, verdict, where = (
        printable(str(line.get(k) or "-")) for k in ("time", "verdict", "repository")
    )
    lines = [f"{when}  {verdict}  {who}  {where}"]
    for ref in line.get("refs") or ():
        name = str(ref.get("ref")) if isinstance(ref, dict) else str(ref)
        marks = " ".join(f"[{printable(r)}]" for r in rules.pop(name, []))
        lines.append(f"  {printable(name)} {marks}".rstrip())
    for ref, found in rules.items():  # a violation of no ref (internal-error, config)
        lines.append(f"  {printable(ref)} {' '.join(f'[{printable(r)}]' for r in found)}")
    shown = len(line.get("refs") or ())
    if isinstance(line.get("refs_total"), int) and line["refs_total"] > shown:
        lines.append(
            f"  (and {line['refs_total'] - shown} more refs; the log lists the first {shown})"
        )
    if line.get("output_dropped"):
        lines.append(
            f"  (the pusher stopped reading: {printable(str(line['output_dropped']))} bytes of the "
            "report were not delivered)"
        )
    return "\n".join(lines)
