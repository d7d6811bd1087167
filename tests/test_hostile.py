"""Hostile input and faults on real pushes: odd ref names, malformed tag objects, broken
files and a failing library. gtoguard never shows a traceback, always says what is wrong,
and a declined push leaves the server as it was."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fuzzing import Fuzzed, shared

from conftest import World, faulty_python, git, make_world, store_object


def _check_output(output: str) -> None:
    assert "Traceback" not in output and "internal-error" not in output, output


def test_non_utf8_ref_names(world: World) -> None:
    for raw in (b"churn#prod\xff", b"caf\xc3\xa9@v1.0.0", b"m\xe9@v1.0.0"):
        name = os.fsdecode(raw)
        git("tag", "-a", name, "-m", "x", cwd=world.clone)
        before = world.server_snapshot()
        pushed = world.push_tags(name)
        # a name that is not UTF-8 in the object is also one gto cannot read
        assert not pushed.ok and "tag-malformed" in pushed.rules(), pushed.output
        assert pushed.rules() <= {"tag-malformed", "tag-unreadable"}, pushed.output
        _check_output(pushed.output)
        assert "\\udc" not in pushed.output  # odd bytes are shown as \xNN, never mangled
        assert world.server_snapshot() == before


TAGGERS = st.one_of(
    st.none(),
    st.just("tagger A <a@b> 1700000000 +0000"),
    st.builds(
        lambda t, z: f"tagger A <a@b> {t} {z}",
        st.integers(-(10**12), 10**13),
        st.sampled_from(["+0000", "-1200", "+9999", "0000", "+00", "garbage"]),
    ),
    st.text(st.characters(blacklist_characters="\n\0"), max_size=40).map(lambda t: f"tagger {t}"),
)


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fuzzed]:
    yield from shared(lambda: make_world(tmp_path_factory.mktemp("objects")))


@settings(
    max_examples=20, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
@given(
    tagger=TAGGERS,
    encoding=st.sampled_from([None, "ISO-8859-1", "bogus"]),
    message=st.binary(max_size=200).filter(lambda b: b"\0" not in b),
    shape=st.sampled_from(["churn@v{n}.0.0", "churn#prod#{n}", "churn@deprecated#{n}", "x{n}"]),
)
def test_malformed_tag_objects(
    fuzzed: Fuzzed,
    tagger: str | None,
    encoding: str | None,
    message: bytes,
    shape: str,
) -> None:
    world = fuzzed.world
    name = shape.format(n=1000 + next(fuzzed.numbers))
    head = world.head()
    body = f"object {head}\ntype commit\ntag {name}\n".encode()
    if tagger is not None:
        body += tagger.encode("utf-8", "surrogateescape") + b"\n"
    if encoding is not None:
        body += f"encoding {encoding}\n".encode()
    body += b"\n" + message
    oid = store_object(world.clone, body, literally=True)
    git("update-ref", f"refs/tags/{name}", oid, cwd=world.clone)
    before = world.server_snapshot()
    pushed = world.push_tags(name)
    _check_output(pushed.output)
    fuzzed.verdicts[pushed.ok] += 1
    if not pushed.ok:
        assert "gtoguard:" in pushed.output and "[" in pushed.output, pushed.output
        assert world.server_snapshot() == before
    elif "@" in name or "#" in name:  # accepted: it had a usable tagger
        assert tagger is not None and "gtoguard:" in pushed.output, pushed.output


def test_a_tag_object_libgit2_cannot_parse(world: World) -> None:
    """No tagger line but an encoding header: git stores it, libgit2 refuses to parse it."""
    body = f"object {world.head()}\ntype commit\ntag churn@v1.0.0\nencoding x\n\nhi".encode()
    oid = store_object(world.clone, body, literally=True)
    git("update-ref", "refs/tags/churn@v1.0.0", oid, cwd=world.clone)
    pushed = world.push_tags("churn@v1.0.0")
    assert not pushed.ok and pushed.rules() == {"tagger-time", "tag-unreadable"}, pushed.output
    assert "no tagger line" in pushed.output and "odd header 'encoding'" in pushed.output


def test_a_huge_tag_message(world: World) -> None:
    message = world.root / "message"
    message.write_bytes(b"CHANGE-1 " + b"x" * 8_000_000)
    git("tag", "-a", "churn@v1.0.0", "-F", str(message), cwd=world.clone)
    before = world.server_snapshot()
    pushed = world.push_tags("churn@v1.0.0")  # every later push would read it again
    assert not pushed.ok and pushed.rules() == {"tag-too-large"}, pushed.output[-500:]
    assert world.server_snapshot() == before
    world.set_policy("tags: {max_message: 16777216}\n")  # a server that wants them
    pushed = world.push_tags("churn@v1.0.0")
    assert pushed.ok, pushed.output[-500:]


def test_a_tag_message_past_what_is_read(world: World) -> None:
    """A 40 MB message: only its head is read, and the size declines it."""
    message = world.root / "message"
    message.write_bytes(b"x" * 40_000_000)
    git("tag", "-a", "churn@v1.0.0", "-F", str(message), cwd=world.clone)
    pushed = world.push_tags("churn@v1.0.0")
    assert not pushed.ok and pushed.rules() == {"tag-too-large"}, pushed.output[-500:]


# --- faults ------------------------------------------------------------------------------


def test_unreadable_server_policy_declines_clearly(world: World) -> None:
    git("config", "gtoguard.policy", str(world.root), cwd=world.server)  # a directory
    world.tag("churn@v1.0.0")
    before = world.server_snapshot()
    pushed = world.push_tags("churn@v1.0.0")
    assert not pushed.ok and "[config-invalid]" in pushed.output, pushed.output
    assert "cannot read the server policy" in pushed.output and "Traceback" not in pushed.output
    assert world.server_snapshot() == before


def test_missing_object_on_the_hook_input(world: World) -> None:
    missing = "1" * 40
    done = subprocess.run(
        [sys.executable, "-m", "gtoguard.hooks", "pre-receive"],
        input=f"{'0' * 40} {missing} refs/tags/churn@v1.0.0\n".encode(),
        capture_output=True,
        cwd=world.server,
        check=False,
        env={**os.environ, "GIT_DIR": str(world.server)},
    )
    err = done.stderr.decode()
    assert done.returncode == 3, err
    assert f"object {missing} of refs/tags/churn@v1.0.0 is missing" in err
    assert "Traceback" not in err and "push declined" in err


def test_pygit2_raising_fails_closed(world: World, tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(
        "import pygit2\n"
        "def broken(self, *args, **kwargs):\n"
        "    raise pygit2.GitError('object store is corrupt')\n"
        "pygit2.Repository.get = broken\n"
    )
    world.tag("churn@v1.0.0")
    faulty_python(world, site)
    before = world.server_snapshot()
    pushed = world.push_tags("churn@v1.0.0")
    assert not pushed.ok
    assert "[internal-error]" in pushed.output and "object store is corrupt" in pushed.output
    assert "Traceback" not in pushed.output
    assert world.server_snapshot() == before


# --- the code paths that touch the outside -----------------------------------------------

SOURCE = Path(__file__).resolve().parent.parent / "src" / "gtoguard"


def test_no_shell_no_unsafe_yaml_no_eval() -> None:
    for path in SOURCE.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert "shell=True" not in text, path
        assert "os.system" not in text and "os.popen" not in text, path
        loads = re.findall(r"yaml\.(?:load|unsafe_load|full_load)\((.*)\)", text)
        assert all(args.endswith("Loader=_Loader") for args in loads), path
        assert "eval(" not in text and "exec(" not in text.replace('exec "$', ""), path
        assert "pickle" not in text, path

    import yaml

    from gtoguard.config.yamlfile import _Fast, _Loader

    assert issubclass(_Loader, yaml.SafeLoader)  # the loaders: safe, no Python objects
    assert issubclass(_Fast, (yaml.SafeLoader, yaml.CSafeLoader))
