"""Hook stdin → RefUpdate, and the hooks' answer to garbage: a clear line, exit 3."""

from __future__ import annotations

import io
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gtoguard.model.refupdate import BadHookInput, RefUpdate, parse_pre_push, parse_pre_receive
from gtoguard.server.hooks import pre_push, pre_receive

from conftest import World

A, B, Z = "a" * 40, "b" * 40, "0" * 40
A256, Z256 = "a" * 64, "0" * 64


def test_pre_receive_lines() -> None:
    data = f"{Z} {A} refs/tags/m@v1.0.0\n{A} {Z} refs/tags/m#prod\n{A} {B} refs/heads/main\n"
    updates = parse_pre_receive(data.encode())
    assert updates == [
        RefUpdate("refs/tags/m@v1.0.0", Z, A),
        RefUpdate("refs/tags/m#prod", A, Z),
        RefUpdate("refs/heads/main", A, B),
    ]
    assert updates[0].created and updates[1].deleted and not updates[2].is_tag
    assert updates[2].moved


def test_pre_push_lines_and_deletions() -> None:
    data = f"refs/tags/m#dev {A} refs/tags/m#dev {Z}\n(delete) {Z} refs/tags/x@v1.0.0 {B}\n"
    assert parse_pre_push(data.encode()) == [
        RefUpdate("refs/tags/m#dev", Z, A),
        RefUpdate("refs/tags/x@v1.0.0", B, Z),
    ]


def test_sha256_ids() -> None:
    (update,) = parse_pre_receive(f"{Z256} {A256} refs/tags/m#dev\n".encode())
    assert update.created


def test_non_utf8_ref_names_are_kept_and_printable() -> None:
    (update,) = parse_pre_receive(f"{Z} {A} ".encode() + b"refs/tags/m\xff#dev\n")
    assert update.tag_name.encode("utf-8", "surrogateescape") == b"m\xff#dev"


@pytest.mark.parametrize(
    "data",
    [
        f"{Z} {A}\n",
        f"{Z} {A} refs/tags/x extra\n",
        f"{Z}  {A} refs/tags/x\n",
        f"{Z} {A} refs/tags/x\r\n",
        f"{Z[:-1]} {A} refs/tags/x\n",
        f"{'g' * 40} {A} refs/tags/x\n",
        f"{Z} {A256} refs/tags/x\n",
        f"{Z} {A} tags/x\n",
        f"{Z} {A} refs/tags/x\0\n",
        "garbage\n",
    ],
)
def test_bad_pre_receive_input(data: str) -> None:
    with pytest.raises(BadHookInput):
        parse_pre_receive(data.encode())


def test_empty_input_is_no_update() -> None:
    assert parse_pre_receive(b"") == []
    assert parse_pre_push(b"") == []


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.binary(max_size=400))
def test_hook_stdin_fuzz(world: World, data: bytes) -> None:
    """Any bytes on stdin: exit 0, 1 or 3 with gtoguard's own lines, never a traceback."""
    import os

    os.environ["GIT_DIR"] = str(world.server)
    try:
        for hook, args in ((pre_receive, []), (pre_push, ["origin", "url"])):
            err = io.StringIO()
            code = hook(args, data, err, {})
            assert code in (0, 1, 3)
            assert "Traceback" not in err.getvalue()
            if code == 3:
                assert err.getvalue().startswith("gtoguard: ")
    finally:
        del os.environ["GIT_DIR"]


@given(
    st.lists(
        st.tuples(
            st.sampled_from([Z, A, B]),
            st.sampled_from([Z, A, B]),
            st.text(
                st.characters(codec="utf-8", exclude_categories=["Cc", "Zs"]),
                min_size=1,
                max_size=20,
            ).map(lambda s: "refs/tags/" + s),
        ),
        max_size=5,
    )
)
def test_well_formed_lines_always_parse(rows: list[tuple[str, str, str]]) -> None:
    data = "".join(f"{old} {new} {ref}\n" for old, new, ref in rows).encode()
    assert [(u.old, u.new, u.ref) for u in parse_pre_receive(data)] == rows


def test_garbage_through_the_installed_shim(world: World) -> None:
    """The real shim, as git would run it, fed garbage by hand."""
    done = subprocess.run([str(world.server / "hooks" / "pre-receive")], input=b"nonsense\n",
                          cwd=world.server, capture_output=True, check=False,
                          env={"GIT_DIR": str(world.server), "PATH": "/usr/bin:/bin"})  # fmt: skip
    assert done.returncode == 3
    assert done.stderr.decode().startswith("gtoguard: pre-receive: [internal-error] hook input")
    assert b"Traceback" not in done.stderr


def test_hook_usage_errors() -> None:
    err = io.StringIO()
    assert pre_push(["only-remote"], b"", err, {}) == 2
    assert pre_receive(["extra"], b"", err, {}) == 2
    assert "usage" in err.getvalue()


def test_module_entry_point_usage() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "gtoguard.hooks"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 2 and "usage" in done.stderr
