"""Who is pushing: the account the server authenticated, from its environment. Pure.

The tagger name and email are never an identity: anyone can write them. Only what the
server (or the CI system) says about the authenticated user counts (docs/design.md §4).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

# (variable, who sets it), in the order docs/design.md §4 gives
SERVER_VARIABLES = (
    ("GL_USERNAME", "GitLab"),
    ("GITHUB_USER_LOGIN", "GitHub Enterprise Server"),
    ("GITEA_PUSHER_NAME", "Gitea/Forgejo"),
    ("GL_USER", "gitolite"),
    ("BB_USER_NAME", "Bitbucket"),
    ("REMOTE_USER", "the web server (git http-backend)"),
)
# the user whose push started a CI job, for `gtoguard check` in CI
CI_VARIABLES = (
    ("GITHUB_ACTOR", "GitHub Actions"),
    ("GITLAB_USER_LOGIN", "GitLab CI"),
)


class Pusher(NamedTuple):
    name: str
    source: str  # the variable it came from, for messages


def pusher(env: Mapping[str, str], variable: str | None = None, ci: bool = False) -> Pusher | None:
    """The pusher from ``variable`` (the server policy's ``identity``) if given, else from
    the first server convention that is set; with ``ci``, from the CI system's own
    variables only. A server's variables mean nothing in a CI job: anyone who can start
    a pipeline may set them (GitLab's ``git push -o ci.variable="GL_USERNAME=alice"``).
    Names starting with '@' are groups in a policy, never users. A name is taken as the
    server wrote it: ``'alice '`` is not alice (an account system may tell them apart)."""
    if variable:
        value = env.get(variable, "")
        return Pusher(value, variable) if _usable(value) else None
    candidates = CI_VARIABLES if ci else SERVER_VARIABLES
    for name, _ in candidates:
        value = env.get(name, "")
        if _usable(value):
            return Pusher(value, name)
    return None


def identity_sources(variable: str | None = None, ci: bool = False) -> str:
    """Where ``pusher`` looks, for a message that says what was not set."""
    if variable:
        return f"{variable} (the server policy's identity)"
    names = [name for name, _ in (CI_VARIABLES if ci else SERVER_VARIABLES)]
    return ", ".join(names[:-1]) + f" or {names[-1]}"


def _usable(value: str) -> bool:
    """Set, not blank, and not a group's name."""
    return bool(value.strip()) and not value.startswith("@")
