// facilitate.js: the facilitator page, made for a phone on stage (docs/STAFF.md).
//
// The facilitator socket (/api/events/{slug}/ws/staff) sends a snapshot of the questions (open,
// in order, the one being read among them), the answered ones and the stage messages, then an
// event for every change to them. Question changes are re-read whole from GET .../questions,
// which the node answers from the same fold that sent the event, so the order on screen is
// always the server's. Reordering is by dragging a handle (pointer events: mouse, touch, pen)
// or with the up/down buttons, the accessible way.

import { connect } from "/static/ws.js";
import { api, requireSession, showIdentity, showConn, loadTitle, el, toast, clock, actorName, socketPath } from "/static/staff.js";

let open = []; // QuestionView, the facilitators' order
let answered = [];
let nowReading = null;
let stageSeenPos = Number(sessionStorage.getItem("stage-seen") || 0);
let latestStage = null;
const noteDrafts = new Map(); // question id -> the note being written
let dragging = null; // {li, id, pointerId, handle} while a question is dragged
// "hand": the shared order facilitators set; "votes": most voted first (ties in the shared
// order), re-sorted live as votes come in. Only this screen's view: "Keep this order" shares it.
let orderMode = localStorage.getItem("order-mode") === "votes" ? "votes" : "hand";

const $ = (id) => document.getElementById(id);

// ---- rendering ----

function whoLine(q) {
  const a = q.author || {};
  const who = q.name || a.name || a.handle || "";
  return (who ? who + " · " : "") + (q.post_id ? "online" : "in the room") + (q.asked_at ? " · " + clock(q.asked_at) : "");
}

function renderQuestion(q, i, n) {
  const li = el("li", { class: "q" + (q.state === "reading" ? " reading" : ""), dataset: { id: q.id, state: q.state } });
  if (q.state !== "answered" && orderMode === "hand") {
    const handle = el("button", { type: "button", class: "drag-handle", "aria-label": "drag to reorder", title: "drag to reorder", text: "⠿" });
    handle.addEventListener("pointerdown", (ev) => startDrag(ev, li, q.id));
    li.append(handle);
  }
  const body = el("div", { class: "q-body" });
  if (q.state === "reading") {
    // Its text is in the "now reading" box above: shown once, so on a phone the next question
    // stays in view. Its place in the list keeps its notes and buttons.
    body.append(el("span", { class: "reading-badge", text: "now reading" }));
    body.append(el("p", { class: "muted reading-stub", text: "shown above" }));
  } else {
    body.append(el("p", { class: "q-text", text: q.text }));
    if (q.state !== "answered") body.append(el("span", { class: "q-votes", dataset: { votes: String(q.votes || 0) }, text: (q.votes === 1 ? "1 vote" : (q.votes || 0) + " votes") }));
    body.append(el("p", { class: "who-line", text: whoLine(q) }));
  }
  if (q.notes && q.notes.length) {
    body.append(el("ul", { class: "notes" }, ...q.notes.map((n) => el("li", {}, n.text, el("span", { class: "muted", text: " — " + actorName(n.by) + " " + clock(n.at) })))));
  }
  // An open note form and its draft live in noteDrafts, so a re-render (any change to the
  // questions, from anyone) never takes a half-written note away.
  const drafting = noteDrafts.has(q.id);
  const input = el("input", { type: "text", id: "note-" + q.id, maxlength: "280", placeholder: "a note on this question", autocomplete: "off" });
  input.value = noteDrafts.get(q.id) || "";
  input.addEventListener("input", () => noteDrafts.set(q.id, input.value));
  const note = el("form", { class: "note-form" + (drafting ? "" : " hidden") },
    el("label", { class: "visually-hidden", for: "note-" + q.id, text: "Note" }),
    input,
    el("button", { type: "submit", class: "btn", text: "Save note" }));
  note.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    noteDrafts.delete(q.id);
    questionAction(q.id, "note", { note: text });
  });
  body.append(note);
  li.append(body);

  const btns = el("div", { class: "q-buttons" });
  if (q.state === "answered") {
    btns.append(el("button", { type: "button", class: "btn big", onclick: () => questionAction(q.id, "reopen"), text: "Reopen" }));
  } else {
    // The question being read has "Answered" in the box above; here only its note.
    if (q.state !== "reading") {
      if (orderMode === "hand") {
        btns.append(el("button", { type: "button", class: "btn big move", "aria-label": "move up", disabled: i === 0, onclick: () => moveBy(q.id, -1), text: "↑" }));
        btns.append(el("button", { type: "button", class: "btn big move", "aria-label": "move down", disabled: i === n - 1, onclick: () => moveBy(q.id, 1), text: "↓" }));
      }
      btns.append(el("button", { type: "button", class: "btn btn-primary big", onclick: () => questionAction(q.id, "reading"), text: "Read now" }));
    }
    btns.append(el("button", {
      type: "button", class: "btn big", text: "Note", onclick: () => {
        if (noteDrafts.has(q.id)) noteDrafts.delete(q.id);
        else noteDrafts.set(q.id, "");
        render();
        if (noteDrafts.has(q.id)) $("note-" + q.id).focus();
      },
    }));
  }
  li.append(btns);
  return li;
}

function render() {
  if (dragging) return; // never pull the list from under a finger; re-rendered on drop
  // Keep the caret where it was if the facilitator is typing a note.
  const active = document.activeElement;
  const typingIn = active && active.id && active.id.startsWith("note-") ? { id: active.id, start: active.selectionStart, end: active.selectionEnd } : null;
  const shown = shownOpen();
  $("open").replaceChildren(...shown.map((q, i) => renderQuestion(q, i, shown.length)));
  $("open").dataset.order = orderMode;
  $("order-hand").setAttribute("aria-pressed", String(orderMode === "hand"));
  $("order-votes").setAttribute("aria-pressed", String(orderMode === "votes"));
  $("order-keep").classList.toggle("hidden", orderMode !== "votes");
  $("hand-hint").classList.toggle("hidden", orderMode !== "hand");
  $("answered").replaceChildren(...answered.map((q, i) => renderQuestion(q, i, answered.length)));
  $("open-n").textContent = "(" + open.length + ")";
  $("answered-n").textContent = "(" + answered.length + ")";
  $("open-empty").classList.toggle("hidden", open.length > 0);
  if (typingIn && $(typingIn.id)) {
    const input = $(typingIn.id);
    input.focus();
    input.setSelectionRange(typingIn.start, typingIn.end);
  }
  const now = $("now");
  now.classList.toggle("hidden", !nowReading);
  if (nowReading) {
    $("now-text").textContent = nowReading.text;
    $("now-who").textContent = whoLine(nowReading);
  }
  renderStage();
}

function renderStage() {
  const box = $("stage");
  if (!latestStage || latestStage.pos <= stageSeenPos || latestStage.read_at) {
    box.classList.add("hidden");
    return;
  }
  $("stage-text").textContent = latestStage.text;
  $("stage-meta").textContent = actorName(latestStage.by) + " · " + clock(latestStage.at);
  box.classList.remove("hidden");
}

// shownOpen is the open list in this screen's order.
function shownOpen() {
  if (orderMode !== "votes") return open;
  return open.map((q, i) => ({ q, i })).sort((a, b) => (b.q.votes || 0) - (a.q.votes || 0) || a.i - b.i).map((x) => x.q);
}

function setOrderMode(m) {
  orderMode = m;
  localStorage.setItem("order-mode", m);
  render();
}

// ---- state from the server ----

function setQuestions(v) {
  open = v.open || v.questions || [];
  answered = v.answered || [];
  nowReading = v.now_reading || open.find((q) => q.state === "reading") || null;
  render();
}

let refetchTimer = 0;
let refetching = false;
let refetchAgain = false;
function refetch() {
  clearTimeout(refetchTimer);
  refetchTimer = setTimeout(async () => {
    if (refetching) {
      refetchAgain = true;
      return;
    }
    refetching = true;
    try {
      setQuestions(await api("GET", "questions"));
    } catch (e) {
      toast("Could not load the questions: " + e.message, "error");
    } finally {
      refetching = false;
      if (refetchAgain) {
        refetchAgain = false;
        refetch();
      }
    }
  }, 50);
}

function onMessage(m) {
  if (m.type === "snapshot") {
    setQuestions({ open: m.questions, answered: m.answered, now_reading: m.now_reading });
    const st = (m.stage || [])[0];
    if (st) latestStage = st;
    render();
    return;
  }
  if (m.type !== "event" || !m.effect) return;
  const eff = m.effect;
  if (eff.stage && (!latestStage || eff.stage.pos >= latestStage.pos)) {
    latestStage = eff.stage; // a new message, or the one shown read (by anyone on stage)
    renderStage();
  }
  if ((eff.questions && eff.questions.length) || (eff.questions_gone && eff.questions_gone.length) || (eff.wall && eff.wall.now_reading_changed)) refetch();
}

// ---- actions ----

async function questionAction(id, action, body) {
  try {
    await api("POST", "questions/" + encodeURIComponent(id) + "/" + action, body);
    if (action === "note") toast("Note saved.");
  } catch (e) {
    toast(action + " failed: " + e.message, e.status === 409 ? "info" : "error");
  }
  refetch();
}

async function sendOrder(ids) {
  try {
    await api("POST", "questions/order", { order: ids });
  } catch (e) {
    if (e.status !== 409) toast("Reorder failed: " + e.message, "error");
  }
  refetch();
}

function moveBy(id, d) {
  const i = open.findIndex((q) => q.id === id);
  const j = i + d;
  if (i < 0 || j < 0 || j >= open.length) return;
  const next = open.slice();
  [next[i], next[j]] = [next[j], next[i]];
  open = next; // shown at once; the server's answer follows
  render();
  const btn = document.querySelector(`#open li[data-id="${CSS.escape(id)}"] .move[aria-label="${d < 0 ? "move up" : "move down"}"]`);
  if (btn && !btn.disabled) btn.focus();
  sendOrder(next.map((q) => q.id));
}

// ---- drag to reorder ----

function startDrag(ev, li, id) {
  if (ev.button !== undefined && ev.button !== 0) return;
  ev.preventDefault();
  const handle = ev.currentTarget;
  dragging = { li, id, pointerId: ev.pointerId, handle };
  li.classList.add("dragging");
  capture();
  // On the document, not the handle: moving the item in the DOM releases pointer capture, and
  // the events that follow go to whatever is under the pointer; they all bubble up to here.
  document.addEventListener("pointermove", onDragMove);
  document.addEventListener("pointerup", endDrag);
  document.addEventListener("pointercancel", endDrag);
}

function capture() {
  try {
    dragging.handle.setPointerCapture(dragging.pointerId);
  } catch (e) { /* the pointer is gone; pointerup or pointercancel follows */ }
}

function onDragMove(ev) {
  if (!dragging || ev.pointerId !== dragging.pointerId) return;
  ev.preventDefault();
  const list = $("open");
  const items = [...list.children].filter((n) => n !== dragging.li);
  // The dragged item goes before the first item whose middle is below the pointer.
  let before = null;
  for (const n of items) {
    const r = n.getBoundingClientRect();
    if (ev.clientY < r.top + r.height / 2) {
      before = n;
      break;
    }
  }
  if (before !== dragging.li.nextSibling) {
    list.insertBefore(dragging.li, before);
    capture();
  }
}

function endDrag(ev) {
  if (!dragging || ev.pointerId !== dragging.pointerId) return;
  const d = dragging;
  document.removeEventListener("pointermove", onDragMove);
  document.removeEventListener("pointerup", endDrag);
  document.removeEventListener("pointercancel", endDrag);
  d.li.classList.remove("dragging");
  dragging = null;
  const ids = [...$("open").children].map((n) => n.dataset.id);
  const changed = ids.join(",") !== open.map((q) => q.id).join(",");
  if (ev.type === "pointercancel" || !changed) {
    render();
    return;
  }
  const byID = new Map(open.map((q) => [q.id, q]));
  open = ids.map((i) => byID.get(i)).filter(Boolean);
  render();
  sendOrder(ids);
}

// ---- start ----

async function addQuestion(ev) {
  ev.preventDefault();
  const text = $("add-text").value.trim();
  if (!text) return;
  const name = $("add-name").value.trim();
  try {
    await api("POST", "questions", name ? { text, name } : { text });
    $("add-text").value = "";
    $("add-name").value = "";
    toast("Question added.");
  } catch (e) {
    toast("Not added: " + e.message, "error");
  }
  refetch();
}

async function main() {
  let id;
  try {
    id = await requireSession(["facilitator", "moderator"]);
  } catch (e) {
    toast(e.message, "error");
    return;
  }
  showIdentity(id);
  loadTitle();
  $("add-form").addEventListener("submit", addQuestion);
  $("order-hand").addEventListener("click", () => setOrderMode("hand"));
  $("order-votes").addEventListener("click", () => setOrderMode("votes"));
  $("order-keep").addEventListener("click", () => sendOrder(shownOpen().map((q) => q.id)));
  $("now-answered").addEventListener("click", () => nowReading && questionAction(nowReading.id, "answered"));
  $("stage-seen").addEventListener("click", async () => {
    const m = latestStage;
    if (!m) return;
    stageSeenPos = m.pos;
    sessionStorage.setItem("stage-seen", String(stageSeenPos));
    renderStage();
    // The sender sees "read at 11:04": the receipt is an event like any other.
    try {
      const res = await api("POST", "stage/" + m.pos + "/read");
      if (res && res.stage && latestStage && latestStage.pos === res.stage.pos) latestStage = res.stage;
    } catch (e) {
      if (e.status !== 409) toast("The sender was not told you read it: " + e.message, "error");
    }
  });
  connect(socketPath, { onMessage, onStatus: showConn });
  document.body.dataset.ready = "1";
}

main();
