"""GTO's tag grammar, both ways: ``parse_tag`` and ``format_tag``.

Pure: works on strings only. The grammar is gto 1.10.1's (docs/gto-format.md §1),
made strict where gto's regex is lenient by accident: only ASCII digits, no trailing
newline, and names that ``git check-ref-format`` refuses are rejected. ``NAME@created``
parses in gto but crashes every gto reader, so it is refused as reserved.
"""

from __future__ import annotations

import re
from enum import Enum
from typing import NamedTuple

NAME = r"[A-Za-z0-9](?:[A-Za-z0-9_/-]*[A-Za-z0-9])?"
DIRNAME = r"[A-Za-z0-9_./-]+"
_NUM = r"(?:0|[1-9][0-9]*)"
_PRE_ID = r"(?:0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*)"
_BUILD_ID = r"[0-9A-Za-z-]+"
SEMVER = (
    rf"{_NUM}\.{_NUM}\.{_NUM}(?:-{_PRE_ID}(?:\.{_PRE_ID})*)?(?:\+{_BUILD_ID}(?:\.{_BUILD_ID})*)?"
)
VERSION = rf"v{SEMVER}"

# Compiled when first asked for: a hook that decodes a push needs only _TAG_RE, and each
# pattern that spells out semver costs about half a millisecond to compile.
_lazy: dict[str, re.Pattern[str]] = {}


def _pattern(key: str, source: str) -> re.Pattern[str]:
    found = _lazy.get(key)
    if found is None:
        found = _lazy[key] = re.compile(source)
    return found


ARTIFACT = rf"(?:(?P<dir>{DIRNAME}):)?(?P<name>{NAME})"
_TAG_RE = re.compile(
    rf"(?:(?P<dir>{DIRNAME})=)?(?P<name>{NAME})"
    rf"(?:@(?P<version>{VERSION})(?P<vcancel>!)?"
    rf"|#(?P<stage>{NAME})(?P<scancel>!)?"
    r"|@(?P<deprecated>deprecated)"
    r"|@(?P<created>created))"
    r"(?:#(?P<counter>[0-9]+))?"
)

# gto 1.10.1's own reading of a name, quirks included: Python's ``\d`` (any Unicode decimal
# digit) in the version and ``$`` (which also matches before one final newline). A name
# this matches is a registry event to every gto reader, whatever gtoguard thinks of it.
_GTO_NAME = r"[a-zA-Z0-9](?:[a-zA-Z0-9/_-]*[a-zA-Z0-9])?"
_GTO_NUM = r"(?:0|[1-9]\d*)"
_GTO_PRE = r"(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)"
_GTO_SEMVER = (
    rf"{_GTO_NUM}\.{_GTO_NUM}\.{_GTO_NUM}(?:-{_GTO_PRE}(?:\.{_GTO_PRE})*)?"
    r"(?:\+[0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*)?"
)
GTO_SEMVER = _GTO_SEMVER  # gto's own reading of a version, for its show forms (gtoquery)
_GTO_TAG = (
    rf"^(?:[a-zA-Z0-9_./-]+=)?{_GTO_NAME}"
    rf"(?:(?:#{_GTO_NAME}|@v{_GTO_SEMVER})!?|@(?:deprecated|created))(?:#[0-9]+)?$"
)

MAX_TAG_BYTES = 255  # longer names: refs many filesystems and hosts cannot store
MAX_COUNTER_DIGITS = 18  # a counter must fit in 64 bits
GTO_MAX_DIGITS = 4300  # Python's int() limit: past it every gto reader fails

DIR_SEPARATOR_IN_NAME = ":"
DIR_SEPARATOR_IN_TAG = "="
COUNTER_SEPARATOR = "#"


class Action(str, Enum):
    REGISTER = "register"
    DEREGISTER = "deregister"
    ASSIGN = "assign"
    UNASSIGN = "unassign"
    DEPRECATE = "deprecate"


# The members under plain names, for the paths a registry replay runs per tag: on Python
# 3.11 ``Action.ASSIGN`` goes through the enum metaclass's ``__getattr__`` hook (84 ns
# against 8 ns for a module name), and a replay asks about ten times per tag.
REGISTER, DEREGISTER, ASSIGN = Action.REGISTER, Action.DEREGISTER, Action.ASSIGN
UNASSIGN, DEPRECATE = Action.UNASSIGN, Action.DEPRECATE

STAGE_ACTIONS = frozenset({Action.ASSIGN, Action.UNASSIGN})


class TagName(NamedTuple):
    """One decoded GTO tag name. ``artifact`` is in the ``dir:name`` form users type.
    Immutable; a named tuple because a registry replay decodes every tag name, and a
    tuple is built at a fraction of a frozen dataclass's cost."""

    artifact: str
    action: Action
    version: str | None = None
    stage: str | None = None
    counter: int | None = None
    counter_width: int = 0  # zero padding of the counter as written (``#007`` → 3)

    @property
    def tag(self) -> str:
        return format_tag(self)

    def describe(self) -> str:
        """What the tag does, in the words every command uses."""
        if self.action is Action.DEPRECATE:
            return f"deprecates artifact {self.artifact}"
        what = f"stage {self.stage}" if self.action in STAGE_ACTIONS else f"version {self.version}"
        return f"{self.action.value}s {what} of artifact {self.artifact}"

    def as_event(self) -> dict[str, object]:
        """The JSON shape of ``schemas/tag-event.schema.json``."""
        return {
            "artifact": self.artifact,
            "action": self.action.value,
            "version": self.version,
            "stage": self.stage,
            "counter": self.counter,
        }


class TagNameError(ValueError):
    """A name that is not a usable GTO tag; ``rule`` is the violation id it maps to."""

    def __init__(
        self,
        name: str,
        reason: str,
        suggestion: str | None,
        rule: str,
        decoded: TagName | None = None,
    ) -> None:
        super().__init__(f"{name!r}: {reason}")
        self.name = name
        self.reason = reason
        self.suggestion = suggestion
        self.rule = rule
        # what gto reads all the same (a name or counter past gtoguard's limits): the
        # hook declines it, and the readers show it as gto does
        self.decoded = decoded


def gto_reads(name: str) -> bool:
    """Whether gto 1.10.1 decodes ``name`` as a registry event (its regex, quirks and all)."""
    return _pattern("gto", _GTO_TAG).search(name) is not None


def is_gto_shaped(name: str) -> bool:
    """Names with ``@`` or ``#`` are GTO's business; anything else is an ordinary tag."""
    return "@" in name or "#" in name


def artifact_to_tag(artifact: str) -> str:
    return artifact.replace(DIR_SEPARATOR_IN_NAME, DIR_SEPARATOR_IN_TAG)


def is_valid_name(value: str) -> bool:
    """gto's rule for stage, type and bare artifact names (1 character is fine)."""
    return _pattern("name", NAME).fullmatch(value) is not None


def is_valid_artifact(value: str) -> bool:
    """An artifact name as users type it: ``name`` or ``dir:name``."""
    return _pattern("artifact", ARTIFACT).fullmatch(value) is not None


def is_valid_version(value: str) -> bool:
    return _pattern("version", VERSION).fullmatch(value) is not None


def format_tag(tag: TagName) -> str:
    body = {
        Action.REGISTER: f"@{tag.version}",
        Action.DEREGISTER: f"@{tag.version}!",
        Action.ASSIGN: f"#{tag.stage}",
        Action.UNASSIGN: f"#{tag.stage}!",
        Action.DEPRECATE: "@deprecated",
    }[tag.action]
    text = artifact_to_tag(tag.artifact) + body
    if tag.counter is not None:
        text += f"{COUNTER_SEPARATOR}{tag.counter:0{tag.counter_width}d}"
    return text


def parse_tag(name: str) -> TagName:
    """Decode a tag name (without ``refs/tags/``); raise ``TagNameError`` if it is not GTO's."""
    match = _TAG_RE.fullmatch(name)
    bad_ref = ref_format_problem(name) if match is None or _may_break_ref(name) else None
    if match is None or bad_ref:
        reason = bad_ref if match is not None and bad_ref else _diagnose(name)
        raise TagNameError(name, reason, suggest(name), "tag-malformed")
    dirname, artifact, version, vcancel, stage, scancel, _, created, digits = match.groups()
    if dirname is not None:
        artifact = f"{dirname}{DIR_SEPARATOR_IN_NAME}{artifact}"
    if created:
        raise TagNameError(
            name,
            "'@created' is reserved: gto parses it but every gto reader then fails",
            None,
            "tag-reserved",
        )
    size = len(name)  # the grammar is ASCII only: characters are bytes
    too_big = None
    if size > MAX_TAG_BYTES:
        too_big = f"the name is {size} bytes long; at most {MAX_TAG_BYTES} are allowed"
    elif digits is not None and len(digits) > MAX_COUNTER_DIGITS:
        too_big = f"the counter has {len(digits)} digits; at most {MAX_COUNTER_DIGITS} are allowed"
    if digits is not None and len(digits) > GTO_MAX_DIGITS:  # gto's int() gives up: its
        raise TagNameError(name, str(too_big), None, "tag-malformed")  # readers fail
    counter = int(digits) if digits is not None else None
    width = len(digits) if digits is not None and len(digits) > 1 and digits[0] == "0" else 0
    if version:
        action = Action.DEREGISTER if vcancel else Action.REGISTER
        tag = TagName(artifact, action, version, None, counter, width)
    elif stage:
        action = Action.UNASSIGN if scancel else Action.ASSIGN
        tag = TagName(artifact, action, None, stage, counter, width)
    else:
        tag = TagName(artifact, Action.DEPRECATE, counter=counter, counter_width=width)
    if too_big is not None:
        raise TagNameError(name, too_big, None, "tag-malformed", decoded=tag)
    return tag


# --- git check-ref-format, for refs/tags/<name> ----------------------------------------

_REF_FORBIDDEN = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]")


# everything below in one pattern: the common, valid name costs one search
_REF_ANY_PROBLEM = re.compile(
    r"[\x00-\x20\x7f~^:?*\[\\]|//|^/|/$|\.\.|@\{|\.$|(?:^|/)\.|\.lock(?:/|$)"
)


def _may_break_ref(name: str) -> bool:
    """For a name the grammar took (ASCII letters, digits and ``_./-=@#!+``): whether
    ``ref_format_problem`` could find anything. What git refuses among those characters
    is a few sequences, each a substring test; ``parse_tag`` runs on every tag of a
    registry, and this costs a quarter of the full search."""
    return (
        "//" in name
        or ".." in name
        or "/." in name
        or ".lock" in name
        or name[0] in "./"
        or name[-1] in "./"
    )


def ref_format_problem(name: str) -> str | None:  # noqa: PLR0911 (one return per way a name breaks gto's grammar)
    """Why ``git check-ref-format refs/tags/<name>`` would refuse the name, or None."""
    if name and _REF_ANY_PROBLEM.search(name) is None:
        return None
    if not name:
        return "the name is empty"
    bad = _REF_FORBIDDEN.search(name)
    if bad:
        return f"git refuses {bad.group()!r} in a ref name"
    if "//" in name or name.startswith("/") or name.endswith("/"):
        return "git refuses empty path components ('//', or a leading or trailing '/')"
    if ".." in name:
        return "git refuses '..' in a ref name"
    if "@{" in name:
        return "git refuses '@{' in a ref name"
    if name.endswith("."):
        return "git refuses a ref name ending in '.'"
    for part in name.split("/"):
        if part.startswith("."):
            return "git refuses a path component starting with '.'"
        if part.endswith(".lock"):
            return "git refuses a path component ending in '.lock'"
    return None


# --- diagnosis and the nearest valid form ----------------------------------------------

_FORMS = (
    "expected NAME@vX.Y.Z, NAME@vX.Y.Z!, NAME#STAGE, NAME#STAGE!, or NAME@deprecated, "
    "each optionally followed by #N"
)


def _diagnose(name: str) -> str:  # noqa: PLR0911 (one return per way a name breaks gto's grammar)
    if not name:
        return "the name is empty"
    if name != name.strip() or any(ch.isspace() for ch in name):
        return "white space is not allowed in a tag name"
    if not name.isascii():
        return "only ASCII letters, digits and '_-/.' are allowed"
    artifact, sep, rest = _split_artifact(name)
    if not sep:
        return _FORMS
    if ":" in artifact:
        return "the directory separator in a tag is '=', not ':'"
    if not re.fullmatch(rf"(?:{DIRNAME}=)?{NAME}", artifact):
        return (
            f"artifact {artifact!r} is not a valid name: letters, digits, '_', '-', '/', "
            "starting and ending with a letter or digit (a 'dir=' prefix may also hold '.')"
        )
    if re.search(r"#[0-9]+!+$", rest):
        return "the cancel mark '!' goes before the counter (NAME#STAGE!#N, NAME@vX.Y.Z!#N)"
    body, _, counter = rest.partition("#") if sep == "@" else _split_stage(rest)
    if (counter and not counter.isdigit()) or (counter == "" and rest.endswith("#")):
        return f"the counter after '#' must be a whole number, got {counter!r}"
    if counter and not counter.isascii():
        return "the counter must use ASCII digits"
    if sep == "@":
        if body in ("latest", "greatest"):
            return f"'@{body}' is a gto lookup shortcut, not a registry event"
        if body == "deprecated!":
            return "there is no un-deprecate tag; a new registration or assignment re-activates"
        version = body[:-1] if body.endswith("!") and not body.endswith("!!") else body
        if not is_valid_version(version):
            return f"version {version!r} is not semver with a lower-case 'v' (e.g. v1.2.0)"
    else:
        stage = body[:-1] if body.endswith("!") and not body.endswith("!!") else body
        if not is_valid_name(stage):
            return f"stage {stage!r} is not a valid name"
    return _FORMS


def _split_artifact(name: str) -> tuple[str, str, str]:
    cut = min((i for i in (name.find("@"), name.find("#")) if i >= 0), default=-1)
    if cut < 0:
        return name, "", ""
    return name[:cut], name[cut], name[cut + 1 :]


def _split_stage(rest: str) -> tuple[str, str, str]:
    stage, sep, counter = rest.partition("#")
    return stage, sep, counter


def _fix_space(name: str) -> str:
    return re.sub(r"\s+", "-", name.strip())


def _fix_prefix(name: str) -> str:
    return name.removeprefix("refs/tags/")


_NO_DECOMPOSITION = str.maketrans(
    {"ø": "o", "Ø": "O", "æ": "ae", "Æ": "AE", "œ": "oe", "ß": "ss", "ł": "l", "Ł": "L", "đ": "d"}
)


def _fix_ascii(name: str) -> str:
    import unicodedata  # only to suggest a fix for a name with non-ASCII letters

    folded = unicodedata.normalize("NFKD", name.translate(_NO_DECOMPOSITION))
    digits = (str(unicodedata.digit(ch)) if ch.isdigit() else ch for ch in folded)
    return "".join(ch for ch in digits if ch.isascii())


def _fix_dir_separator(name: str) -> str:
    artifact, sep, rest = _split_artifact(name)
    return artifact.replace(":", "=") + sep + rest


def _fix_version(name: str) -> str:
    def repair(match: re.Match[str]) -> str:
        nums = [str(int(n)) for n in match["nums"].split(".")]
        nums += ["0"] * (3 - len(nums))
        return "@v" + ".".join(nums[:3]) + (match["tail"] or "")

    return re.sub(
        r"@[vV]?(?P<nums>[0-9]+(?:\.[0-9]+){0,2})(?P<tail>[-+][0-9A-Za-z.+-]*)?(?=[!#]|$)",
        repair,
        name,
        count=1,
    )


def _fix_cancel_order(name: str) -> str:
    return re.sub(r"#([0-9]+)!+$", r"!#\1", re.sub(r"!!+", "!", name))


def _fix_counter(name: str) -> str:
    artifact, sep, rest = _split_artifact(name)
    head, hash_, counter = rest.rpartition("#") if sep == "#" else rest.partition("#")
    if hash_ and not (counter.isascii() and counter.isdigit()):
        return artifact + sep + head
    return name


def _fix_name_chars(name: str) -> str:
    artifact, sep, rest = _split_artifact(name)
    prefix, eq, bare = artifact.rpartition("=")
    bare = re.sub(r"[^A-Za-z0-9_/-]+", "-", bare).strip("-_/")
    if sep == "#":
        stage, csep, counter = rest.partition("#")
        cancel = "!" if stage.endswith("!") else ""
        stage = re.sub(r"[^A-Za-z0-9_/-]+", "-", stage.rstrip("!")).strip("-_/")
        rest = stage + cancel + csep + counter
    return prefix + eq + bare + sep + rest


_REPAIRS = (
    _fix_space,
    _fix_prefix,
    _fix_ascii,
    _fix_dir_separator,
    _fix_cancel_order,
    _fix_version,
    _fix_counter,
    _fix_name_chars,
)


def suggest(name: str) -> str | None:
    """The nearest valid GTO tag name, trying small repairs one after another."""
    candidate = name
    for repair in _REPAIRS:
        candidate = repair(candidate)
        match = _TAG_RE.fullmatch(candidate)
        if match and not match["created"] and ref_format_problem(candidate) is None:
            return candidate if candidate != name else None
    return None
