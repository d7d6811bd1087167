"""Four eyes on the registry page, in a real headless Chromium: alice requests a promotion
to prod on her page, bob and carol approve it on theirs, and alice promotes the approved
object; each page runs in its user's own clone of one bare server with the installed hook,
which knows each pusher by REMOTE_USER. A screenshot of each step is written beside the
test's files (their paths are printed: ``pytest -s`` shows them); the Check button's
pre-check shows what passes (soak, evidence, approvals) and what does not."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from conftest import Page, World, git, make_world, run_gto

pytest.importorskip("selenium")
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import Select, WebDriverWait

WAIT = 60
ANSWERED = '#pending tr[data-request="churn#prod#2"] .answer[data-answered]'
POLICY = """\
groups:
  ml-leads: [bob, carol]
stages:
  prod:
    soak: {staging: 1s}
    requires:
      metrics:
        - file: metrics.json
          checks: {accuracy: ">= 0.9"}
    approvals:
      count: 2
      from: ["@ml-leads"]
"""


@pytest.fixture
def team(tmp_path: Path) -> tuple[World, dict[str, Path]]:
    world = make_world(tmp_path)
    world.set_server_policy("identity: REMOTE_USER\n")
    world.commit(
        "policy and a model", {".gtoguard.yaml": POLICY, "metrics.json": '{"accuracy": 0.93}'}
    )
    assert world.push("HEAD:main", env={"REMOTE_USER": "alice"}).ok
    world.tag("churn@v1.3.0", when=world.tick() - 60)
    world.tag("churn#staging#1", "churn@v1.3.0^{commit}", when=world.tick() - 30)
    assert world.push_tags("churn@v1.3.0", "churn#staging#1", env={"REMOTE_USER": "alice"}).ok
    clones = {}
    for name in ("alice", "bob", "carol"):
        clones[name] = tmp_path / name
        git("clone", "-q", str(world.server), str(clones[name]), cwd=tmp_path)
        git("config", "gtoguard.user", name, cwd=clones[name])
    return world, clones


class Shots:
    """Screenshots of a walk, numbered in order."""

    def __init__(self, browser: Any, folder: Path) -> None:
        self.browser, self.folder, self.taken = browser, folder, []
        folder.mkdir(parents=True, exist_ok=True)

    def __call__(self, name: str) -> None:
        path = self.folder / f"{len(self.taken) + 1:02d}-{name}.png"
        assert self.browser.save_screenshot(str(path)), path
        self.taken.append(path)


def _answer_of(browser: Any, form: WebElement, label: str) -> WebElement:
    form.find_element(By.XPATH, f".//button[normalize-space()='{label}']").click()
    answer = form.find_element(By.CLASS_NAME, "answer")
    WebDriverWait(browser, WAIT).until(lambda _: answer.get_attribute("data-answered"))
    return answer


def _promote_dialog(browser: Any) -> WebElement:
    browser.find_element(
        By.XPATH, "//div[@class='actions']/button[normalize-space()='Promote']"
    ).click()
    dialog = browser.find_element(By.ID, "promote-dialog")
    WebDriverWait(browser, WAIT).until(lambda _: dialog.get_attribute("open") is not None)
    Select(dialog.find_element(By.ID, "promote-version")).select_by_visible_text("v1.3.0")
    Select(dialog.find_element(By.ID, "promote-stage")).select_by_visible_text("prod")
    return dialog


def test_alice_requests_bob_and_carol_approve_alice_promotes(
    team: tuple[World, dict[str, Path]], page_of: Any, browser: Any, tmp_path: Path
) -> None:
    world, clones = team
    pages: dict[str, Page] = {
        name: page_of(clone, env={"REMOTE_USER": name}) for name, clone in clones.items()
    }
    shot = Shots(browser, tmp_path / "screenshots")
    # alice checks: soak and evidence pass, approvals are missing; then she requests
    browser.get(pages["alice"].link("models/churn"))
    dialog = _promote_dialog(browser)
    answer = _answer_of(browser, dialog.find_element(By.TAG_NAME, "form"), "Check")
    assert "approvals-missing" in answer.text, answer.text
    assert (
        "✓ staging held for" in answer.text
        and "✓ metrics.json: accuracy 0.93 >= 0.9" in answer.text
    )
    shot("alice-checks")
    answer = _answer_of(browser, dialog.find_element(By.TAG_NAME, "form"), "Request promotion")
    assert "requested churn#prod#2" in answer.text, answer.text
    shot("alice-requested")
    assert "churn#prod#2" not in world.server_tags()
    # bob and carol approve from the Pending panel of their own pages
    for name in ("bob", "carol"):
        browser.get(pages[name].link())  # the dashboard's Pending panel
        row = browser.find_element(By.CSS_SELECTOR, '#pending tr[data-request="churn#prod#2"]')
        assert "alice" in row.text
        row.find_element(By.XPATH, ".//button[normalize-space()='Approve']").click()
        WebDriverWait(browser, WAIT).until(lambda b: b.find_elements(By.CSS_SELECTOR, ANSWERED))
        answer = browser.find_element(By.CSS_SELECTOR, ANSWERED)
        assert "approved churn#prod#2" in answer.text, answer.text
        approved = browser.find_element(
            By.CSS_SELECTOR, '#pending tr[data-request="churn#prod#2"] .approved'
        )
        assert name in approved.text  # the list shows it, refreshed
        shot(f"{name}-approved")
    # alice's page: enough approvals; Promote pushes the requested object
    browser.get(pages["alice"].link("models/churn"))
    row = browser.find_element(By.CSS_SELECTOR, '#pending tr[data-request="churn#prod#2"]')
    assert "bob, carol" in row.text and "enough" in row.text, row.text
    shot("alice-sees-approvals")
    dialog = _promote_dialog(browser)
    answer = _answer_of(browser, dialog.find_element(By.TAG_NAME, "form"), "Promote version")
    assert "pushed churn#prod#2, the approved request" in answer.text, answer.text
    assert "churn: v1.3.0 → prod (approved by bob, carol)" in answer.text
    shot("alice-promoted")
    browser.refresh()
    newest = browser.find_element(By.CSS_SELECTOR, "#history tbody tr")
    assert newest.get_attribute("data-tag") == "churn#prod#2"
    assert "approved by bob, carol" in newest.text, newest.text
    shot("history")
    # the object that landed is the one requested and approved, and gto reads it
    landed = git("rev-parse", "refs/tags/churn#prod#2", cwd=world.server).stdout.strip()
    approvals = git(
        "for-each-ref",
        "--format=%(refname)",
        f"refs/gtoguard/approvals/{landed}/",
        cwd=world.server,
    ).stdout.split()
    assert [ref.rsplit("/", 1)[1] for ref in approvals] == ["bob", "carol"]
    git("fetch", "-q", "--tags", "origin", cwd=clones["bob"])
    shown = json.loads(run_gto("show", "--json", cwd=clones["bob"]).stdout)
    assert shown["churn"]["stage"]["prod"] == "v1.3.0"
    print("screenshots:", *shot.taken, sep="\n  ")
    keep = __import__("os").environ.get("GTOGUARD_SCREENSHOTS")
    if keep:  # a folder to keep them in (CI artifacts)
        for path in shot.taken:
            shutil.copy(path, Path(keep) / path.name)
    assert len(shot.taken) == 7 and all(p.stat().st_size > 1000 for p in shot.taken)
