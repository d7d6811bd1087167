"""The registry page in a real headless Chromium (Debian's, through chromedriver), on a
real clone of a real bare server that runs the installed pre-receive hook: the seed's
Promote flow (steps 1-7), refusals and declines shown inline, Register and Unassign, the
dashboard, keyboard use and contrast. One browser for the module; a server per test."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from typing import Any

import pytest

from conftest import REPO, Page, World, git, make_world

pytest.importorskip("selenium")
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import Select, WebDriverWait

WAIT = 60


def _seed(world: World) -> None:
    world.tag("churn@v1.0.0")
    world.tag("churn#dev#1", "churn@v1.0.0^{commit}")
    pushed = world.push_tags("churn@v1.0.0", "churn#dev#1")
    assert pushed.ok, pushed.output


def _state(world: World) -> tuple[str, tuple[str, str]]:
    local = git("for-each-ref", "--format=%(refname) %(objectname)", cwd=world.clone).stdout
    return local, world.server_snapshot()


def _remote_tags(world: World) -> set[str]:
    listed = git("ls-remote", "--tags", "--refs", str(world.server), cwd=world.clone).stdout
    return {line.split("\trefs/tags/", 1)[1] for line in listed.splitlines()}


def _open(browser: Any, button: WebElement, kind: str) -> WebElement:
    button.click()
    dialog = browser.find_element(By.ID, f"{kind}-dialog")
    WebDriverWait(browser, WAIT).until(lambda _: dialog.get_attribute("open") is not None)
    return dialog


def _submit(browser: Any, dialog: WebElement, label: str) -> WebElement:
    """Click the dialog's ``label`` button; the answer, once shown (and the page's
    sections refreshed)."""
    dialog.find_element(By.XPATH, f".//button[normalize-space()='{label}']").click()
    answer = dialog.find_element(By.CLASS_NAME, "answer")
    WebDriverWait(browser, WAIT).until(lambda _: answer.get_attribute("data-answered"))
    return answer


def _stage_cell(browser: Any, stage: str) -> str:
    return str(
        browser.find_element(By.CSS_SELECTOR, f'#stages tr[data-stage="{stage}"] .version').text
    )


def test_seed_steps_promote_from_the_model_page(world: World, page_of: Any, browser: Any) -> None:
    _seed(world)
    page: Page = page_of(world.clone)
    browser.get(page.link("models/churn"))
    browser.execute_script("window.notReloaded = true")
    # 1. click Promote on the model details page
    button = browser.find_element(
        By.XPATH, "//div[@class='actions']/button[normalize-space()='Promote']"
    )
    dialog = _open(browser, button, "promote")
    labels = [e.text for e in dialog.find_elements(By.TAG_NAME, "label")]
    assert labels == ["Version", "Stage", "Message"]
    for label in dialog.find_elements(By.TAG_NAME, "label"):  # real labels, each on its field
        assert dialog.find_element(By.ID, label.get_attribute("for")).is_displayed()
    # 2. select the version; 3. the stage, only from .gto's list
    Select(dialog.find_element(By.ID, "promote-version")).select_by_visible_text("v1.0.0")
    stage = Select(dialog.find_element(By.ID, "promote-stage"))
    assert [o.text for o in stage.options] == ["dev", "staging", "prod"]
    stage.select_by_visible_text("prod")
    # 4. a message; 5. Promote version
    dialog.find_element(By.ID, "promote-message").send_keys("CHANGE-42: ship v1.0.0")
    answer = _submit(browser, dialog, "Promote version")
    assert "created churn#prod#2 and pushed to origin" in answer.text, answer.text
    assert "remote: gtoguard: 1 GTO tag checked; push accepted" in answer.text
    assert "remote: gtoguard: changed: churn: v1.0.0 → prod" in answer.text  # the receipt
    # 6. Stages and History show it without a reload, and after one
    assert browser.execute_script("return window.notReloaded") is True
    for reloaded in (False, True):
        if reloaded:
            browser.refresh()
            assert browser.execute_script("return window.notReloaded") is None
        assert _stage_cell(browser, "prod") == "v1.0.0"
        newest = browser.find_element(By.CSS_SELECTOR, "#history tbody tr")
        assert newest.get_attribute("data-tag") == "churn#prod#2"
        assert "CHANGE-42: ship v1.0.0" in newest.text and "Test User" in newest.text
    # 7. the new Git tag, on the server
    assert "churn#prod#2" in _remote_tags(world)
    message = git("tag", "-l", "--format=%(contents)", "churn#prod#2", cwd=world.server).stdout
    assert message.strip() == "CHANGE-42: ship v1.0.0"


def test_promote_from_a_dashboard_row(world: World, page_of: Any, browser: Any) -> None:
    _seed(world)
    page: Page = page_of(world.clone)
    browser.get(page.link())
    row = browser.find_element(By.CSS_SELECTOR, 'tr[data-name="churn"]')
    dialog = _open(
        browser, row.find_element(By.XPATH, ".//button[normalize-space()='Promote']"), "promote"
    )
    assert dialog.find_element(By.CLASS_NAME, "artifact-name").text == "churn"
    assert (
        Select(dialog.find_element(By.ID, "promote-version")).first_selected_option.text == "v1.0.0"
    )
    Select(dialog.find_element(By.ID, "promote-stage")).select_by_visible_text("staging")
    answer = _submit(browser, dialog, "Promote version")
    assert "pushed to origin" in answer.text, answer.text
    cell = browser.find_element(By.CSS_SELECTOR, 'tr[data-name="churn"] td[data-stage="staging"]')
    assert cell.text == "v1.0.0"
    assert "churn#staging#2" in _remote_tags(world)


def test_a_refusal_is_shown_inline_and_nothing_is_written(
    world: World, page_of: Any, browser: Any
) -> None:
    world.set_policy("stages:\n  prod:\n    from: [staging]\n")
    _seed(world)
    page: Page = page_of(world.clone)
    before = _state(world)
    browser.get(page.link("models/churn"))
    dialog = _open(
        browser, browser.find_element(By.CSS_SELECTOR, ".actions [data-open=promote]"), "promote"
    )
    Select(dialog.find_element(By.ID, "promote-stage")).select_by_visible_text("prod")
    answer = _submit(browser, dialog, "Promote version")
    text = answer.text
    assert "would be declined; nothing was written" in text, text
    assert answer.find_element(By.CLASS_NAME, "rule").text == "stage-order"
    assert "staging" in text and "hint:" in text
    assert _stage_cell(browser, "prod") == "none"
    assert _state(world) == before


# every element of the dialog's answer, the answer itself and the buttons: where each is
# drawn, and what overflows its box
GEOMETRY = """
const [dialog, answer] = arguments;
const box = (el) => { const r = el.getBoundingClientRect();
                      return {left: r.left, right: r.right, top: r.top, bottom: r.bottom}; };
return {
  view: {left: 0, right: innerWidth, top: 0, bottom: innerHeight},
  dialog: box(dialog), answer: box(answer),
  buttons: [...dialog.querySelectorAll(".buttons button")].map(box),
  parts: [...answer.querySelectorAll("*")].map((el) => ({...box(el), what: el.outerHTML.slice(0, 80)})),
  wide: {dialog: dialog.scrollWidth - dialog.clientWidth, answer: answer.scrollWidth - answer.clientWidth},
  scrolls: getComputedStyle(answer).overflowY,
};
"""


def _inside(inner: dict[str, float], outer: dict[str, float]) -> bool:
    return (
        inner["left"] >= outer["left"] - 1
        and inner["right"] <= outer["right"] + 1
        and inner["top"] >= outer["top"] - 1
        and inner["bottom"] <= outer["bottom"] + 1
    )


def test_a_long_refusal_and_the_identity_note_stay_inside_the_dialog(
    world: World, page_of: Any, browser: Any
) -> None:
    """A name with no place to break, a refusal quoting it and the note that only the
    server knows who pushes: the answer wraps and scrolls inside the dialog, whose
    buttons stay in view; each line is labelled as the CLI labels it."""
    world.set_policy("stages:\n  prod:\n    from: [staging]\n    pushers: [alice]\n")
    name = "emea_retail/customer_churn_propensity_gradient_boosted_ensemble_trained_nightly_v2"
    world.tag(f"{name}@v1.0.0")
    assert world.push_tags(f"{name}@v1.0.0").ok
    page: Page = page_of(world.clone)
    browser.get(page.link(f"models/{name}"))
    dialog = _open(
        browser, browser.find_element(By.CSS_SELECTOR, ".actions [data-open=promote]"), "promote"
    )
    Select(dialog.find_element(By.ID, "promote-stage")).select_by_visible_text("prod")
    answer = _submit(browser, dialog, "Promote version")
    items = answer.find_elements(By.CSS_SELECTOR, "ul.violations li")
    assert [i.find_element(By.CLASS_NAME, "rule").text for i in items] == [
        "stage-order",
        "identity-unknown",
    ]
    assert "prod#1: not checkable here: stage prod may only be changed by alice" in items[1].text
    shown = browser.execute_script(GEOMETRY, dialog, answer)
    assert _inside(shown["dialog"], shown["view"]), shown
    assert _inside(shown["answer"], shown["dialog"]), shown
    assert all(_inside(button, shown["dialog"]) for button in shown["buttons"]), shown
    wide = [
        part["what"]
        for part in shown["parts"]
        if part["left"] < shown["answer"]["left"] or part["right"] > shown["answer"]["right"]
    ]
    assert not wide and shown["wide"] == {"dialog": 0, "answer": 0}, shown
    assert shown["scrolls"] in ("auto", "scroll")  # a longer answer scrolls in its box
    # the page without its script says the same
    form = {"artifact": name, "version": "v1.0.0", "stage": "prod"}
    plain = re.sub(r"<[^>]+>", "", page.post("promote", form, headers={"Accept": "text/html"}).body)
    assert "prod#1: not checkable here: stage prod may only be changed by alice" in plain, plain
    # a warning is labelled "warning:", as the CLI labels it
    world.set_policy("mode: warn\nstages:\n  prod:\n    from: [staging]\n")
    answer = _submit(browser, dialog, "Promote version")
    assert "pushed to origin" in answer.text, answer.text
    warned = answer.find_element(By.CSS_SELECTOR, "ul.violations li.warning")
    assert warned.find_element(By.CLASS_NAME, "rule").text == "stage-order"
    assert f"prod#1: warning: '{name}' v1.0.0 must be in staging" in warned.text, warned.text


def test_a_server_decline_is_shown_with_its_remote_lines(
    world: World, page_of: Any, browser: Any
) -> None:
    _seed(world)
    world.set_server_policy("stages:\n  prod:\n    pushers: [alice]\n")  # unknown to the clone
    page: Page = page_of(world.clone)
    browser.get(page.link("models/churn"))
    dialog = _open(
        browser, browser.find_element(By.CSS_SELECTOR, ".actions [data-open=promote]"), "promote"
    )
    Select(dialog.find_element(By.ID, "promote-stage")).select_by_visible_text("prod")
    answer = _submit(browser, dialog, "Promote version")
    assert "origin declined the push" in answer.text, answer.text
    remote = answer.find_element(By.CSS_SELECTOR, "pre.remote").text
    assert "remote: gtoguard: refs/tags/churn#prod#2: [identity-unknown]" in remote, remote
    assert "push declined" in remote
    assert "churn#prod#2" not in _remote_tags(world)
    assert git("tag", "-l", "churn#prod*", cwd=world.clone).stdout == ""


def test_register_and_unassign_in_the_browser(world: World, page_of: Any, browser: Any) -> None:
    _seed(world)
    new = world.commit("retrained")
    git("push", "-q", "--no-verify", "origin", "HEAD:main", cwd=world.clone)
    page: Page = page_of(world.clone)
    browser.get(page.link("models/churn"))
    dialog = _open(
        browser, browser.find_element(By.CSS_SELECTOR, ".actions [data-open=register]"), "register"
    )
    assert dialog.find_element(By.ID, "register-artifact").get_attribute("value") == "churn"
    Select(dialog.find_element(By.ID, "register-commit")).select_by_value(new)
    Select(dialog.find_element(By.ID, "register-bump")).select_by_value("minor")
    answer = _submit(browser, dialog, "Register version")
    assert "created churn@v1.1.0 and pushed to origin" in answer.text, answer.text
    row = browser.find_element(By.CSS_SELECTOR, '#versions tr[data-version="v1.1.0"]')
    assert new[:12] in row.text and "registered" in row.text
    dialog.find_element(By.CSS_SELECTOR, "[data-close]").click()
    unassign = browser.find_element(
        By.CSS_SELECTOR, '#stages tr[data-stage="dev"] [data-open=unassign]'
    )
    dialog = _open(browser, unassign, "unassign")
    assert (
        Select(dialog.find_element(By.ID, "unassign-version")).first_selected_option.text
        == "v1.0.0"
    )
    assert Select(dialog.find_element(By.ID, "unassign-stage")).first_selected_option.text == "dev"
    answer = _submit(browser, dialog, "Unassign stage")
    assert "created churn#dev!#2 and pushed to origin" in answer.text, answer.text
    assert _stage_cell(browser, "dev") == "none"
    newest = browser.find_element(By.CSS_SELECTOR, "#history tbody tr")
    assert newest.get_attribute("data-tag") == "churn#dev!#2"
    assert {"churn@v1.1.0", "churn#dev!#2"} <= _remote_tags(world)


def test_free_text_stage_when_gto_defines_none(tmp_path: Path, page_of: Any, browser: Any) -> None:
    world = make_world(tmp_path, gto=None)
    _seed(world)
    page: Page = page_of(world.clone)
    browser.get(page.link("models/churn"))
    dialog = _open(
        browser, browser.find_element(By.CSS_SELECTOR, ".actions [data-open=promote]"), "promote"
    )
    stage = dialog.find_element(By.ID, "promote-stage")
    assert stage.tag_name == "input"
    stage.send_keys("canary")
    answer = _submit(browser, dialog, "Promote version")
    assert "created churn#canary#2" in answer.text, answer.text
    assert _stage_cell(browser, "canary") == "v1.0.0"


def test_the_dashboard_search_toggle_and_audit_badge(
    world: World, page_of: Any, browser: Any
) -> None:
    _seed(world)
    world.tag("fraud@v0.1.0")
    world.tag("fraud@deprecated", when=int(time.time()) + 1)  # after its commit's date
    world.tag("nlp@v2.0.0")
    assert world.push_tags("fraud@v0.1.0", "fraud@deprecated", "nlp@v2.0.0").ok
    world.tag("legacy@v1.0.0", lightweight=True)  # only in the clone: the audit finds it
    page: Page = page_of(world.clone)
    browser.get(page.link())
    headers = [th.text for th in browser.find_elements(By.CSS_SELECTOR, "#models thead th")]
    assert headers[:5] == ["Model", "Latest", "dev", "staging", "prod"]

    def shown() -> list[str]:
        rows = browser.find_elements(By.CSS_SELECTOR, "#models tbody tr[data-name]")
        return [r.get_attribute("data-name") for r in rows if r.is_displayed()]

    assert shown() == ["churn", "nlp"]
    browser.find_element(By.ID, "show-deprecated").click()
    assert sorted(shown()) == ["churn", "fraud", "nlp"]  # in gto show's order
    browser.find_element(By.ID, "search").send_keys("FR")
    assert shown() == ["fraud"]
    browser.find_element(By.ID, "search").send_keys("x")
    assert shown() == [] and browser.find_element(By.ID, "no-match").is_displayed()
    badge = browser.find_element(By.ID, "audit-badge")
    assert badge.text == "1 violation"
    badge.click()
    WebDriverWait(browser, WAIT).until(lambda d: d.current_url.endswith("/violations"))
    table = browser.find_element(By.CSS_SELECTOR, "table.violations").text
    assert "legacy@v1.0.0" in table and "tag-lightweight" in table


def test_keyboard_use_and_contrast(world: World, page_of: Any, browser: Any) -> None:
    _seed(world)
    page: Page = page_of(world.clone)
    browser.get(page.link("models/churn"))
    button = browser.find_element(By.CSS_SELECTOR, ".actions [data-open=promote]")
    browser.execute_script("arguments[0].focus()", button)
    button.send_keys(Keys.ENTER)
    dialog = browser.find_element(By.ID, "promote-dialog")
    WebDriverWait(browser, WAIT).until(lambda _: dialog.get_attribute("open") is not None)
    focused = browser.switch_to.active_element
    assert focused.get_attribute("id") == "promote-version"
    focused.send_keys(Keys.TAB)
    assert browser.switch_to.active_element.get_attribute("id") == "promote-stage"
    browser.switch_to.active_element.send_keys(Keys.ESCAPE)
    WebDriverWait(browser, WAIT).until(lambda _: dialog.get_attribute("open") is None)
    assert browser.switch_to.active_element == button  # focus goes back where it was
    ratios = browser.execute_script(CONTRAST)
    low = {what: ratio for what, ratio in ratios.items() if ratio < 4.5}
    assert not low and len(ratios) >= 6, ratios


# WCAG's contrast ratio of each kind of text against the background it is drawn on
CONTRAST = """
const lum = (c) => {
  const [r, g, b] = c.match(/[\\d.]+/g).slice(0, 3).map(Number).map((v) => {
    v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
  });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
};
const background = (el) => {
  for (; el; el = el.parentElement) {
    const bg = getComputedStyle(el).backgroundColor;
    if (bg && !bg.endsWith(", 0)") && bg !== "transparent") return bg;
  }
  return "rgb(255, 255, 255)";
};
const ratios = {};
for (const sel of ["body", "h1", "#stages td", ".none", "button.action", "#history code",
                   ".badge", "a", "th"]) {
  const el = document.querySelector(sel);
  if (!el) continue;
  const a = lum(getComputedStyle(el).color), b = lum(background(el));
  ratios[sel] = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
}
return ratios;
"""


def test_a_forged_token_is_refused_in_the_page(world: World, page_of: Any, browser: Any) -> None:
    _seed(world)
    page: Page = page_of(world.clone)
    before = _state(world)
    browser.get(page.link("models/churn"))
    browser.execute_script(
        "document.querySelector('meta[name=csrf-token]').content = 'forged';"
        "for (const f of document.querySelectorAll('input[name=csrf]')) f.value = 'forged';"
    )
    dialog = _open(
        browser, browser.find_element(By.CSS_SELECTOR, ".actions [data-open=promote]"), "promote"
    )
    answer = _submit(browser, dialog, "Promote version")
    assert "missing or wrong CSRF token: nothing was written" in answer.text, answer.text
    assert _state(world) == before


def test_open_and_the_printed_address_lead_a_browser_in(
    world: World, page_of: Any, browser: Any, tmp_path: Path
) -> None:
    """--open hands the browser a private file that leads to the printed address: a
    navigation another site started, after which a redirect would carry no SameSite=Strict
    cookie (the page's own refresh does). Without the address, the browser is refused."""
    _seed(world)
    said, fake = tmp_path / "browser-args", tmp_path / "browser"
    fake.write_text(f'#!/bin/sh\nprintf "%s" "$1" > {said}\n')
    fake.chmod(0o755)
    page: Page = page_of(world.clone, "--open", env={"BROWSER": f"{fake} %s"})
    browser.delete_all_cookies()
    browser.get(page.url + "models/churn")
    assert browser.find_element(By.TAG_NAME, "h1").text == "Not yours"
    assert page.request("/static/ui.css").status == 200  # serving: the browser was run
    browser.get(said.read_text())  # file:///.../ui-PORT-open.html
    WebDriverWait(browser, WAIT).until(lambda b: b.current_url == page.url)
    assert browser.find_element(By.TAG_NAME, "h1").text == "Models"
    assert page.secret not in browser.current_url
    cookie = browser.get_cookie(page.cookie.split("=")[0])
    assert cookie and cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    browser.get(page.url + "models/churn")  # the cookie, from now on
    assert browser.find_element(By.TAG_NAME, "h1").text == "churn"


def test_the_readme_screenshot(world: World, page_of: Any, browser: Any, tmp_path: Path) -> None:
    """docs/ui.png: UI_SCREENSHOT=1 writes it again from this run."""
    _seed(world)
    world.tag("churn#staging#2", "churn@v1.0.0^{commit}")
    assert world.push_tags("churn#staging#2").ok
    page: Page = page_of(world.clone)
    browser.get(page.link("models/churn"))
    dialog = _open(
        browser, browser.find_element(By.CSS_SELECTOR, ".actions [data-open=promote]"), "promote"
    )
    Select(dialog.find_element(By.ID, "promote-stage")).select_by_visible_text("prod")
    dialog.find_element(By.ID, "promote-message").send_keys("CHANGE-7: ship the retrained model")
    _submit(browser, dialog, "Promote version")
    browser.execute_script("document.querySelector('.where').textContent = '~/src/models'")
    target = REPO / "docs" / "ui.png" if os.environ.get("UI_SCREENSHOT") else tmp_path / "ui.png"
    assert browser.save_screenshot(str(target))
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
