// moderate-actions.js: what a moderator does to posts: decide (approve, reject, pin, question),
// hide media, undo, select and bulk-approve or bulk-reject, block an author (with its dialog),
// redact parts of a post or edit a web-form post's text, and send a message to the stage. Each is a POST to the staff API whose answer is applied at
// once. A decision names the state the moderator saw: when another moderator decided otherwise
// moments before, the server refuses (409, reverses) and the page asks before sending it again
// with confirm.

import { api, APIError, toast, actorName, clock, el } from "/static/staff.js";
import {
  posts, selected, undoStack, leaving, inflight, view, listOf, focused, setFocus, move, upsert, scheduleRender, inQueue,
} from "/static/moderate-queue.js";

let blockFor = null; // the post whose author the block dialog is about
let reverseAsk = null; // {p, action, body, resolve} while the reversal question is open

const $ = (id) => document.getElementById(id);

async function act(p, action, body) {
  try {
    const res = await api("POST", "posts/" + encodeURIComponent(p.id) + "/" + action, body);
    if (res && res.post) upsert(res.post);
    scheduleRender();
    return res;
  } catch (e) {
    const rev = e instanceof APIError && e.status === 409 && e.body && e.body.reverses;
    if (rev) {
      if (e.body.post) upsert(e.body.post);
      scheduleRender();
      // Another moderator decided otherwise moments ago: ask, and send it again only on yes.
      if (await askReverse(p, action, rev)) return act(p, action, Object.assign({}, body, { confirm: true }));
      toast("Left as " + actorName(rev.by) + " decided.");
    } else if (e instanceof APIError && e.status === 409) {
      toast("Nothing changed: " + e.message);
    } else {
      toast(action + " failed: " + e.message, "error");
    }
    return null;
  }
}

async function decide(action) {
  const p = focused();
  if (!p) return;
  // Every decision on a pending post takes it out of the queue (pin and question approve it),
  // and so does approving or rejecting an edit (a shows it, r takes the post off the wall);
  // each is what u takes back next, even before the server has answered.
  const wasPending = p.state === "pending" || (!!p.edit && (action === "approve" || action === "reject"));
  // The version on screen goes with the decision: if the source sent another while the
  // moderator looked, the server refuses (409) rather than pass text nobody has seen.
  const call = act(p, action, { seen: p.version || 0, state: p.state });
  if (wasPending) {
    leaving.add(p.id);
    inflight.set(p.id, call);
    undoStack.push(p.id);
    if (undoStack.length > 100) undoStack.shift();
    scheduleRender();
  }
  const res = await call;
  if (wasPending) {
    leaving.delete(p.id);
    inflight.delete(p.id);
    if (!res) {
      const i = undoStack.lastIndexOf(p.id);
      if (i >= 0) undoStack.splice(i, 1);
    }
  }
  scheduleRender();
}

export function approve() { return decide("approve"); }
export function reject() { return decide("reject"); }
export function pin() {
  const p = focused();
  if (p) return decide(p.pinned ? "unpin" : "pin");
}
export function question() {
  const p = focused();
  if (p) return decide(p.question ? "unquestion" : "question");
}
export function hideMedia() {
  const p = focused();
  if (!p) return;
  if (!p.media || !p.media.length) {
    toast("This post has no media.");
    return;
  }
  return act(p, p.media_hidden ? "show-media" : "hide-media");
}

export async function undo() {
  let p = focused();
  // In the queue a post has no decision to undo (an edit waits for one): take back my last one
  // instead, waiting for it to reach the server if it is still on its way.
  if (!p || p.state === "pending" || (view.tab === "queue" && p.edit)) {
    p = null;
    let id;
    while (!p && (id = undoStack.pop())) {
      if (inflight.has(id)) await inflight.get(id);
      const q = posts.get(id);
      if (q && q.state !== "pending") p = q;
    }
    if (!p) {
      toast("Nothing of yours to undo.");
      return;
    }
  }
  const res = await act(p, "undo", { state: p.state });
  if (res) {
    toast("Undone: back in the queue.");
    view.tab = "queue";
    setFocus(p.id);
  }
}

export function toggleSelect() {
  const p = focused();
  if (!p || !inQueue(p)) return;
  if (selected.has(p.id)) selected.delete(p.id);
  else selected.add(p.id);
  move(1);
  scheduleRender();
}

export function bulkApprove() { return bulk("approve"); }
export function bulkReject() { return bulk("reject"); }

// bulk approves or rejects every selected post, each its own decision (and its own undo).
// Posts another moderator decided otherwise moments ago are left, and said so.
async function bulk(action) {
  const chosen = listOf("queue").filter((p) => selected.has(p.id));
  const ids = chosen.map((p) => p.id);
  const seen = Object.fromEntries(chosen.map((p) => [p.id, p.version || 0]));
  const states = Object.fromEntries(chosen.map((p) => [p.id, p.state]));
  if (!ids.length) {
    toast("Select posts with x first.");
    return;
  }
  for (const id of ids) leaving.add(id);
  scheduleRender();
  try {
    const res = await api("POST", "posts/" + action, { ids, seen, states });
    let others = 0;
    for (const it of (res && res.results) || []) {
      if (it.post) upsert(it.post);
      if (it.applied) undoStack.push(it.id);
      if (it.reverses) others++;
    }
    selected.clear();
    const n = res ? (action === "approve" ? res.approved : res.rejected) : ids.length;
    toast(n + (action === "approve" ? " approved." : " rejected.") + (others ? ` ${others} left as another moderator just decided.` : ""));
  } catch (e) {
    toast("Bulk " + action + " failed: " + e.message, "error");
  }
  for (const id of ids) leaving.delete(id);
  scheduleRender();
}

const pastTense = { approve: "approve", reject: "reject", undo: "undo that decision on" };

// askReverse shows the reversal question and resolves to the moderator's answer.
function askReverse(p, action, rev) {
  if (reverseAsk) reverseAsk.resolve(false);
  const a = p.author || {};
  $("reverse-text").textContent = `${actorName(rev.by) || "Another moderator"} ${rev.state} this post${a.handle ? " by " + a.handle : ""} at ${clock(rev.at)}, after you looked. Do you want to ${pastTense[action] || action} it anyway?`;
  $("reverse-dialog").classList.remove("hidden");
  document.body.dataset.asked = String(Number(document.body.dataset.asked || 0) + 1); // for tests
  $("reverse-no").focus();
  return new Promise((resolve) => { reverseAsk = { resolve }; });
}

/** Answers the open reversal question (true: change it anyway). */
export function answerReverse(yes) {
  const q = reverseAsk;
  reverseAsk = null;
  $("reverse-dialog").classList.add("hidden");
  $("list").focus({ preventScroll: true });
  if (q) q.resolve(yes);
}

export function reverseOpen() {
  return !$("reverse-dialog").classList.contains("hidden");
}

export function openBlock() {
  const p = focused();
  if (!p) return;
  blockFor = p;
  const a = p.author || {};
  $("block-who").textContent = (a.name ? a.name + " " : "") + (a.handle || a.id || "");
  const dom = domainOf(a.handle);
  $("block-domain").textContent = dom || "(none)";
  $("block-dialog").classList.remove("hidden");
  $("block-dialog").querySelector(".btn-primary").focus();
}

function closeBlock() {
  blockFor = null;
  $("block-dialog").classList.add("hidden");
  $("list").focus({ preventScroll: true });
}

function domainOf(handle) {
  const h = (handle || "").replace(/^@/, "");
  const i = h.lastIndexOf("@");
  if (i >= 0) return h.slice(i + 1).toLowerCase();
  return h.includes(".") ? h.toLowerCase() : "";
}

export async function block(choice) {
  const p = blockFor;
  closeBlock();
  if (!p || choice === "cancel") return;
  let body;
  if (choice === "domain") {
    const d = domainOf(p.author && p.author.handle);
    if (!d) {
      toast("This author's handle names no domain.", "error");
      return;
    }
    body = { domain: d };
  } else {
    body = { post_id: p.id, minutes: Number(choice) || 0 };
  }
  try {
    await api("POST", "authors/block", body);
    toast("Blocked " + (body.domain || (p.author && p.author.handle) || "the author") + (body.minutes ? " for " + (body.minutes >= 1440 ? "a day" : "an hour") : " for good") + ".");
  } catch (e) {
    toast("Block failed: " + e.message, "error");
  }
}

export async function sendStage(ev) {
  ev.preventDefault();
  const input = $("stage-input");
  const message = input.value.trim();
  if (!message) return;
  try {
    await api("POST", "stage", { message });
    input.value = "";
    toast("Sent to the stage.");
    input.blur();
    $("list").focus({ preventScroll: true });
  } catch (e) {
    toast("Not sent: " + e.message, "error");
  }
}

// redactTexts is what d hides in post p: the text selected in its card, if any, else every part
// the personal-data rules matched that the post still shows (a part redacted already reads █████).
function redactTexts(p, card) {
  const sel = window.getSelection();
  if (sel && !sel.isCollapsed && card && card.contains(sel.anchorNode) && card.contains(sel.focusNode)) {
    const t = sel.toString().trim();
    if (t) return { texts: [t], from: "selection" };
  }
  const shown = [p.text || "", (p.edit && p.edit.text) || ""].join("\n").toLowerCase();
  const texts = [];
  for (const c of p.checks || []) {
    for (const s of c.spans || []) {
      if (s.text && shown.includes(s.text.toLowerCase()) && !texts.includes(s.text)) texts.push(s.text);
    }
  }
  return { texts, from: "rules" };
}

/** Redacts the selection in the focused card, or every part the rules matched (d). */
export async function redact(card) {
  const p = focused();
  if (!p) return;
  const { texts, from } = redactTexts(p, card);
  if (!texts.length) {
    toast("Nothing to redact: select the words in the card first, then press d.");
    return;
  }
  const res = await act(p, "redact", { texts: texts.slice(0, 20) });
  if (res && res.applied) {
    window.getSelection().removeAllRanges();
    toast((from === "selection" ? "Redacted the selection" : `Redacted ${texts.length} matched ${texts.length === 1 ? "part" : "parts"}`) + ": the wall will read █████.");
  }
}

let reviseFor = null; // the post the edit dialog is about

/** Opens the dialog to edit a web-form post's text (e); other posts keep their author's words. */
export function openRevise() {
  const p = focused();
  if (!p) return;
  if (p.source !== "form") {
    toast("Only a web-form post's text can be edited. Select words and press d to redact them.");
    return;
  }
  reviseFor = p;
  let dlg = $("revise-dialog");
  if (!dlg) {
    dlg = el("div", { id: "revise-dialog", class: "dialog hidden", role: "dialog", "aria-modal": "true", "aria-labelledby": "revise-title" },
      el("form", { id: "revise-form", onsubmit: (ev) => { ev.preventDefault(); revise(); } },
        el("h2", { id: "revise-title", text: "Edit the text of this web-form post" }),
        el("p", { class: "hint", text: "Fix a typo or shorten it. The wall says it was edited by the moderators; the original stays here and in the audit." }),
        el("textarea", { id: "revise-text", rows: "5", maxlength: "500", "aria-label": "The post's text" }),
        el("div", { class: "dialog-buttons" },
          el("button", { type: "submit", class: "btn btn-primary", text: "Save" }),
          el("button", { type: "button", class: "btn", text: "Cancel", onclick: closeRevise }))));
    document.body.append(dlg);
  }
  $("revise-text").value = (p.edit || p).text || "";
  dlg.classList.remove("hidden");
  $("revise-text").focus();
}

export function reviseOpen() {
  const d = $("revise-dialog");
  return !!d && !d.classList.contains("hidden");
}

export function closeRevise() {
  reviseFor = null;
  const d = $("revise-dialog");
  if (d) d.classList.add("hidden");
  $("list").focus({ preventScroll: true });
}

async function revise() {
  const p = reviseFor;
  const text = $("revise-text").value.trim();
  closeRevise();
  if (!p || !text) return;
  const res = await act(p, "revise", { text });
  if (res && res.applied) toast("Text edited: approve it to show it.");
}
