// audit.js: the audit trail (every human and rule decision), newest first, live.
//
// GET /api/events/{slug}/audit gives the entries with their summaries; the moderator socket
// says when the log moved, and the page then reads the entries after the newest it holds.

import { connect } from "/static/ws.js";
import { api, requireSession, showIdentity, showConn, loadTitle, el, toast, clock, actorName, socketPath } from "/static/staff.js";

const LIMIT = 500; // rows kept on the page
let entries = []; // newest first
let newest = 0;
let loading = false;
let again = false;

const $ = (id) => document.getElementById(id);

function row(a, fresh) {
  const tr = el("tr", { class: (a.applied === false ? "noop" : "") + (fresh ? " new" : ""), dataset: { pos: String(a.pos), kind: a.kind, role: (a.actor && a.actor.role) || "" } },
    el("td", { class: "a-pos", text: String(a.pos) }),
    el("td", { class: "a-time" }, el("time", { datetime: a.time, title: new Date(a.time).toString(), text: clock(a.time) })),
    el("td", { class: "a-who", text: actorName(a.actor) }),
    el("td", { class: "a-what", text: a.summary || a.kind }),
    el("td", { class: "a-on", text: a.post_id ? "post " + a.post_id.slice(0, 8) : a.question_id ? "question " + a.question_id.slice(0, 8) : "" }));
  if (a.applied === false) tr.title = "changed nothing (already so, or the post was gone)";
  return tr;
}

const rows = new Map(); // pos -> its row: an entry never changes once written, so neither does its row

function render(freshFrom) {
  const hide = $("hide-rules").checked;
  // A rule decides as the post arrives (actor: its source) or later as the system (expiries).
  const shown = entries.filter((a) => !(hide && a.actor && (a.actor.role === "system" || a.actor.role === "source")));
  const want = shown.map((a) => {
    let r = rows.get(a.pos);
    if (!r) {
      r = row(a, freshFrom && a.pos > freshFrom);
      rows.set(a.pos, r);
    }
    return r;
  });
  // New entries are added at the top and old ones leave at the bottom; the rows in between
  // stay where they are, so a busy event does not rebuild 500 rows each time.
  const body = $("audit");
  const keep = new Set(want);
  for (const child of [...body.children]) if (!keep.has(child)) child.remove();
  let cur = body.firstElementChild;
  for (const r of want) {
    if (r === cur) cur = cur.nextElementSibling;
    else body.insertBefore(r, cur);
  }
  const held = new Set(entries.map((a) => a.pos));
  for (const pos of rows.keys()) if (!held.has(pos)) rows.delete(pos);
  $("audit-empty").classList.toggle("hidden", shown.length > 0);
}

async function load() {
  if (loading) {
    again = true;
    return;
  }
  loading = true;
  const before = newest;
  try {
    const data = await api("GET", "audit?limit=" + LIMIT);
    entries = (data && data.entries) || [];
    newest = entries.length ? entries[0].pos : newest;
    render(before);
  } catch (e) {
    toast("Could not load the audit: " + e.message, "error");
  } finally {
    loading = false;
    if (again) {
      again = false;
      load();
    }
  }
}

let timer = 0;
function soon() {
  clearTimeout(timer);
  timer = setTimeout(load, 300);
}

async function main() {
  let id;
  try {
    id = await requireSession(["moderator"]);
  } catch (e) {
    toast(e.message, "error");
    return;
  }
  showIdentity(id);
  loadTitle();
  $("hide-rules").addEventListener("change", () => render(0));
  await load();
  connect(socketPath, {
    onStatus: showConn,
    onMessage(m) {
      // Posts arriving are not decisions unless a rule decided them; the audit says which.
      if (m.type === "snapshot" || (m.type === "event" && m.pos > newest)) soon();
    },
  });
  document.body.dataset.ready = "1";
}

main();
