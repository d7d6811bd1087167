"""The shims: one template gives all three, byte for byte."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from gtoguard.server import shimtemplate
from gtoguard.server.install import shim_text
from gtoguard.server.shimtemplate import HOOKS, TemplateError, render

from conftest import REPO

TEMPLATE = shimtemplate.read_template(REPO / "hooks")


@pytest.mark.parametrize("hook", HOOKS)
def test_each_committed_shim_is_what_the_template_gives(hook: str) -> None:
    assert (REPO / "hooks" / hook).read_bytes() == render(TEMPLATE, hook).encode()


def test_a_shim_edited_alone_is_caught_and_rewritten(tmp_path: Path) -> None:
    hooks = shutil.copytree(REPO / "hooks", tmp_path / "hooks")
    assert shimtemplate.stale(hooks) == []
    with open(hooks / "pre-push", "ab") as shim:
        shim.write(b"# a fix made here only\n")
    assert shimtemplate.stale(hooks) == ["pre-push"]
    assert shimtemplate.write(hooks) == ["pre-push"]
    assert shimtemplate.stale(hooks) == []
    assert (hooks / "pre-push").read_bytes() == (REPO / "hooks" / "pre-push").read_bytes()


@pytest.mark.parametrize("hook", HOOKS)
def test_install_writes_the_template_with_the_interpreter(hook: str) -> None:
    rendered = render(TEMPLATE, hook)
    installed = shim_text(hook, "/opt/venv/bin/python3")
    assert installed == rendered.replace(
        "GTOGUARD_PYTHON=''", "GTOGUARD_PYTHON=/opt/venv/bin/python3"
    )
    assert "@HOOK@" not in installed and "#%" not in installed
    assert f"# gtoguard-shim: {hook}\n" in installed


@pytest.mark.parametrize(
    ("template", "hook", "text"),
    [
        ("a\n#%if pre-push\nb\n#%end\nc\n", "pre-push", "a\nb\nc\n"),
        ("a\n#%if pre-push\nb\n#%end\nc\n", "pre-receive", "a\nc\n"),
        ("#%if pre-push\nb\n#%else\nd\n#%end\n", "reference-transaction", "d\n"),
        (
            "#%if pre-push pre-receive\n#%if pre-push\nb\n#%else\nr\n#%end\n#%end\n",
            "pre-receive",
            "r\n",
        ),
        ("#% the template's own note\nx=@HOOK@\n#%\n", "pre-push", "x=pre-push\n"),
        ("no newline at the end", "pre-push", "no newline at the end"),
    ],
)
def test_blocks_keep_the_lines_of_their_hooks(template: str, hook: str, text: str) -> None:
    assert render(template, hook) == text


@pytest.mark.parametrize(
    ("template", "said"),
    [
        ("#%if pre-pus\nb\n#%end\n", "line 1: #%if names no known hook"),
        ("#%if\nb\n#%end\n", "line 1: #%if names no known hook"),
        ("b\n#%end\n", "line 2: not a directive here"),
        ("#%if pre-push\n#%else\n#%else\n#%end\n", "line 3: a second #%else"),
        ("#%if pre-push\nb\n", "ends inside an #%if block"),
        ("#%endif\n", "line 1: not a directive here"),
    ],
)
def test_a_template_whose_blocks_do_not_add_up_says_where(template: str, said: str) -> None:
    with pytest.raises(TemplateError, match=said.replace("#", "\\#")):
        render(template, "pre-push")
