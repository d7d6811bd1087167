// gtoguard registry page: opens the dialogs, posts them, shows the answer inline and
// refreshes the sections a new tag changes. Everything works from the server's HTML;
// this script adds no markup the server did not send, only text.
"use strict";

const token = () => document.querySelector('meta[name="csrf-token"]').content;
let opener = null;

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

async function fillVersions(dialog, artifact, chosen) {
  const select = dialog.querySelector('select[name="version"]');
  select.replaceChildren();
  const reply = await fetch("/api/models/" + encodeURI(artifact), {headers: {Accept: "application/json"}});
  if (!reply.ok) {
    select.append(el("option", "", "no versions"));
    return;
  }
  const data = await reply.json();
  for (const version of data.versions) {
    const option = el("option", "", version);
    option.value = version;
    select.append(option);
  }
  if (chosen) select.value = chosen;
}

async function openDialog(button) {
  const kind = button.dataset.open;
  const dialog = document.getElementById(kind + "-dialog");
  if (!dialog) return;
  const form = dialog.querySelector("form");
  const artifact = button.dataset.artifact || "";
  opener = button;
  const box = form.querySelector(".answer");
  box.replaceChildren();
  box.className = "answer";
  box.removeAttribute("data-answered");
  form.elements.artifact.value = artifact;
  form.elements.artifact.readOnly = kind === "register" && artifact !== "";
  for (const name of dialog.querySelectorAll(".artifact-name")) name.textContent = artifact;
  if (form.elements.message) form.elements.message.value = "";
  if (form.elements.version && form.elements.version.tagName === "SELECT") {
    await fillVersions(dialog, artifact, button.dataset.version);
  }
  if (button.dataset.stage && form.elements.stage) form.elements.stage.value = button.dataset.stage;
  dialog.showModal();
  const first = [...form.elements].find((e) => e.type !== "hidden" && !e.readOnly && !e.disabled);
  if (first) first.focus();
}

function showAnswer(box, data) {
  box.replaceChildren();
  box.className = "answer " + (data.ok ? "good" : "bad");
  box.append(el("p", "summary outcome-" + data.outcome, data.summary));
  if (data.violations.length) {
    const list = el("ul", "violations");
    for (const v of data.violations) {
      const item = el("li", v.severity);
      item.append(el("code", "rule", v.rule), " ", el("code", "", v.ref), ":");
      // "warning:" or "not checkable here:", as the CLI says it (the server sends it)
      if (v.label) item.append(" ", el("span", v.severity + "-label", v.label));
      item.append(" " + v.message);
      if (v.hint) item.append(el("br"), el("span", "hint", "hint: " + v.hint));
      list.append(item);
    }
    box.append(list);
  }
  if (data.hint) box.append(el("p", "hint", "hint: " + data.hint));
  if (data.remote_lines.length) box.append(el("pre", "remote", data.remote_lines.join("\n")));
  if (data.passed && data.passed.length) {
    const list = el("ul", "passed");
    for (const line of data.passed) list.append(el("li", "", "✓ " + line));
    box.append(list);
  }
  for (const note of data.notes) box.append(el("p", "note", "note: " + note));
}

async function refresh() {
  const reply = await fetch(location.href, {headers: {Accept: "text/html"}});
  if (!reply.ok) return;
  const fresh = new DOMParser().parseFromString(await reply.text(), "text/html");
  for (const part of document.querySelectorAll("[data-live][id]")) {
    const update = fresh.getElementById(part.id);
    if (update) part.replaceChildren(...update.childNodes);
  }
  for (const id of ["audit-badge"]) {
    const now = document.getElementById(id), update = fresh.getElementById(id);
    if (now && update) { now.textContent = update.textContent; now.className = update.className; }
  }
  applyFilter();
}

async function submit(form, submitter) {
  let box = form.querySelector(".answer");
  const button = submitter || form.querySelector('button[type="submit"]');
  // read before the button is disabled: a disabled button's name=value is not sent
  const body = new URLSearchParams(new FormData(form, submitter || undefined));
  button.disabled = true;
  box.removeAttribute("data-answered");
  box.className = "answer";
  box.replaceChildren(el("p", "summary", "Checking with the policy engine…"));
  try {
    // the button pressed says where (Request promotion) and what (Check: check=1)
    const action = submitter && submitter.hasAttribute("formaction") ? submitter.formAction : form.action;
    const reply = await fetch(action, {
      method: "POST",
      headers: {Accept: "application/json", "X-CSRF-Token": token(),
                "Content-Type": "application/x-www-form-urlencoded"},
      body,
    });
    let data;
    try {
      data = await reply.json();
    } catch (err) {
      data = {ok: false, outcome: "failed", summary: "the page answered " + reply.status,
              violations: [], remote_lines: [], notes: [], hint: null};
    }
    showAnswer(box, data);
    if (data.ok) {
      await refresh();
      box = again(form, box, data);
    }
  } catch (err) {
    showAnswer(box, {ok: false, outcome: "failed", summary: "the page cannot be reached: " + err,
                     violations: [], remote_lines: [], notes: [], hint: "is gtoguard ui still running?"});
  } finally {
    button.disabled = false;
    box.setAttribute("data-answered", String(Date.now()));
  }
}

// A form inside a refreshed section (Approve, in the Pending list) was replaced by the
// server's new one: the answer is shown in that one, if it is still there.
function again(form, box, data) {
  if (document.contains(form) || !form.dataset.key) return box;
  const fresh = document.querySelector(`form[data-inline][data-key="${CSS.escape(form.dataset.key)}"]`);
  if (!fresh) return box;
  const shown = fresh.querySelector(".answer");
  showAnswer(shown, data);
  return shown;
}

function applyFilter() {
  const search = document.getElementById("search");
  const deprecated = document.getElementById("show-deprecated");
  if (!search) return;
  const query = search.value.trim().toLowerCase();
  let shown = 0;
  for (const row of document.querySelectorAll("#models tbody tr[data-name]")) {
    const hide = (row.dataset.active === "no" && !deprecated.checked) ||
                 (query && !row.dataset.name.toLowerCase().includes(query));
    row.hidden = hide;
    if (!hide) shown += 1;
  }
  const none = document.getElementById("no-match");
  if (none) none.hidden = shown > 0 || !document.querySelector("#models tbody tr[data-name]");
}

document.addEventListener("click", (event) => {
  const open = event.target.closest("[data-open]");
  if (open && !open.disabled) { openDialog(open); return; }
  const close = event.target.closest("[data-close]");
  if (close) close.closest("dialog").close();
});

document.addEventListener("submit", (event) => {
  const form = event.target.closest("dialog form, form[data-inline]");
  if (!form) return;
  event.preventDefault();
  submit(form, event.submitter);
});

document.addEventListener("close", (event) => {
  if (event.target.tagName === "DIALOG" && opener && document.contains(opener)) opener.focus();
}, true);

document.addEventListener("DOMContentLoaded", () => {
  const search = document.getElementById("search");
  if (!search) return;
  search.addEventListener("input", applyFilter);
  document.getElementById("show-deprecated").addEventListener("change", applyFilter);
  applyFilter();
});
