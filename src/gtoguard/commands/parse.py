"""``gtoguard parse``: decode tag names."""

from __future__ import annotations

from typing import Any

import click

from gtoguard.commands.base import exits, main, say
from gtoguard.model.printable import printable


@main.command()
@click.argument("tags", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per tag, one per line.")
@exits
def parse(tags: tuple[str, ...], as_json: bool) -> int:
    """Decode GTO tag names (without refs/tags/). Exit 1 if any is invalid.

    \b
    Example:
      gtoguard parse 'churn@v1.2.0' 'cv=seg#prod#7' 'churn#prod!'
    """
    from gtoguard.model.tagname import TagNameError, parse_tag
    from gtoguard.policy.report import dumps

    invalid = 0
    for name in tags:
        try:
            tag = parse_tag(name)
        except TagNameError as err:
            invalid += 1
            if as_json:
                click.echo(
                    dumps(
                        {
                            "tag": name,
                            "valid": False,
                            "artifact": None,
                            "action": None,
                            "version": None,
                            "stage": None,
                            "counter": None,
                            "error": err.reason,
                            "rule": err.rule,
                            "suggestion": err.suggestion,
                        }
                    )
                )
            else:
                hint = f" (did you mean '{err.suggestion}'?)" if err.suggestion else ""
                say(printable(f"{name}: invalid [{err.rule}]: {err.reason}{hint}"))
            continue
        if as_json:
            click.echo(dumps({"tag": name, "valid": True, **tag.as_event(), "error": None}))
        else:
            say(printable(f"{name}: {_describe(tag)}"))
    return 1 if invalid else 0


def _describe(tag: Any) -> str:
    counter = f" (counter {tag.counter})" if tag.counter is not None else ""
    return f"{tag.describe()}{counter}"
