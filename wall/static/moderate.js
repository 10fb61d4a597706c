// moderate.js: the moderator page, keyboard first (docs/STAFF.md lists the keys).
//
// State comes from the moderator socket (/api/events/{slug}/ws/staff, docs/PROTOCOL.md): a
// snapshot (queue oldest first, the wall's approved posts, counts), then one "event" message per
// log event with its effect, which carries the moderator view of every post it changed. Every
// moderator's page applies the same effects, so each sees the others' decisions as they happen.
// Actions are POSTs to the staff API; their answer is applied at once (read-your-write), and the
// same change arriving again on the socket is a no-op.
//
// The Approved and Rejected tabs are read from GET /api/events/{slug}/posts?state=… when opened
// (newest change first, a page at a time), so they list decisions made before the page was
// open; the socket keeps them current after that. The settings panel (key s) reads and writes
// GET/POST /api/events/{slug}/settings; others' changes arrive on the socket (effect.settings).

import { connect } from "/static/ws.js";
import {
  api, APIError, requireSession, showIdentity, showConn, loadTitle, renderPost, toggleCW,
  el, toast, clock, actorName, socketPath,
} from "/static/staff.js";

const TABS = ["queue", "approved", "rejected", "pinned"];
const MAX_RENDERED = 300; // cards in the DOM per tab; the counts say how many more there are
const PRESENCE_EVERY_MS = 3000;
const PRESENCE_RENEW_MS = 10000; // the server's TTL is 30 s
const SOURCES_EVERY_MS = 15000;
const PAGE = 200; // posts per page of the approved and rejected lists

const posts = new Map(); // id -> PostView (state pending | approved | rejected), every post this page knows
const presence = new Map(); // post id -> [moderator names] who have it open (not me)
const selected = new Set();
const undoStack = []; // ids of posts I decided, newest last
const cards = new Map(); // id -> {card, key} rendered card cache
// Posts whose decision is on its way to the server: out of the queue at once, so a moderator
// can press a, a, a without waiting, each key acting on the next post. Back if the call fails.
const leaving = new Set();
const inflight = new Map(); // id -> the promise of its decision's call
let counts = null;
let tab = "queue";
const focus = { queue: { id: "", idx: 0 }, approved: { id: "", idx: 0 }, rejected: { id: "", idx: 0 }, pinned: { id: "", idx: 0 } };
let blockFor = null; // the post whose author the block dialog is about
let renderQueued = false;
let lastOpened = "";
let lastScrolled = "";
// Per server-listed tab: the next page's before= (0: no more), and whether a load is under way.
const pages = { approved: { before: 0, loading: false }, rejected: { before: 0, loading: false } };
let settings = null; // the event's settings as they stand (SettingsView)
let me = null; // who is logged in, to tell others' settings changes from mine

const $ = (id) => document.getElementById(id);

// ---- the model ----

function upsert(p) {
  if (!p || !p.id) return;
  const old = posts.get(p.id);
  // A view older than what we hold (an API answer racing the socket) is dropped.
  if (old && old.last_pos && p.last_pos && p.last_pos < old.last_pos) return;
  posts.set(p.id, p);
  if (p.state !== "pending") selected.delete(p.id);
}

function listOf(name) {
  const out = [];
  for (const p of posts.values()) {
    if (name === "queue" ? p.state === "pending" && !leaving.has(p.id) : name === "pinned" ? p.state === "approved" && p.pinned : p.state === name) out.push(p);
  }
  const rp = (p) => p.received_pos || 0;
  if (name === "queue") out.sort((a, b) => rp(a) - rp(b)); // oldest first
  else if (name === "pinned") out.sort((a, b) => (b.last_pos || 0) - (a.last_pos || 0));
  else out.sort((a, b) => (b.last_pos || 0) - (a.last_pos || 0) || rp(b) - rp(a)); // newest change first
  return out;
}

// resolveFocus returns the tab's list with focus[tab] pointing into it. Focus follows the
// queue: when the focused post left, the one now at its place takes focus.
function resolveFocus() {
  const list = listOf(tab);
  const f = focus[tab];
  let idx = list.findIndex((p) => p.id === f.id);
  if (idx < 0) idx = Math.min(f.idx, list.length - 1);
  idx = Math.max(0, idx);
  f.idx = idx;
  f.id = list.length ? list[idx].id : "";
  return list;
}

function focused() {
  const list = resolveFocus();
  return list[focus[tab].idx] || null;
}

// ---- rendering ----

function scheduleRender() {
  if (renderQueued) return;
  renderQueued = true;
  requestAnimationFrame(() => {
    renderQueued = false;
    render();
  });
}

function cardFor(p) {
  const key = (p.last_pos || 0) + ":" + p.state + ":" + (p.pinned ? 1 : 0) + ":" + (p.question ? 1 : 0) + ":" + (p.media_hidden ? 1 : 0);
  const c = cards.get(p.id);
  if (c && c.key === key) return c.card;
  const card = renderPost(p);
  const foot = el("div", { class: "mod-foot" });
  if (p.rule) foot.append(el("span", { class: "rule", title: "the rule that decided when it arrived" }, "rule: ", el("strong", { text: p.rule })));
  if (p.state !== "pending" && p.decided_by && p.decided_by.role) {
    foot.append(el("span", { class: "decided" }, p.state + " by " + actorName(p.decided_by) + (p.decided_at ? " at " + clock(p.decided_at) : "")));
  }
  foot.append(el("span", { class: "presence" }));
  if (p.url && /^https?:\/\//.test(p.url)) foot.append(el("a", { href: p.url, target: "_blank", rel: "noopener noreferrer", text: "original" }));
  card.append(foot);
  card.dataset.state = p.state;
  card.addEventListener("click", () => setFocus(p.id));
  cards.set(p.id, { card, key });
  return card;
}

function render() {
  const list = resolveFocus();
  const f = focus[tab];
  const idx = f.idx;

  const shown = list.slice(0, Math.max(MAX_RENDERED, idx + 1));
  // Only what changed is written: a card whose state is the same is not touched, so a
  // decision costs the browser one card's work, not the whole list's.
  const nodes = shown.map((p) => {
    const card = cardFor(p);
    const isFocus = p.id === f.id;
    card.classList.toggle("focused", isFocus);
    setAttr(card, "aria-current", isFocus ? "true" : "false");
    card.classList.toggle("selected", selected.has(p.id));
    const who = presence.get(p.id) || [];
    card.classList.toggle("open-elsewhere", who.length > 0);
    const pr = card.querySelector(".presence");
    setText(pr, who.length ? "open by " + who.join(", ") : "");
    return card;
  });
  reconcile($("list"), nodes);
  $("empty").classList.toggle("hidden", list.length > 0);
  setText($("empty"), tab === "queue" ? "The queue is empty." : pages[tab] && pages[tab].loading ? "Loading…" : "Nothing here.");
  const pg = pages[tab];
  $("more").classList.toggle("hidden", !pg || !pg.before);
  // Drop cached cards of posts that are gone, so hours of posts do not pile up.
  for (const id of cards.keys()) if (!posts.has(id)) cards.delete(id);

  for (const b of document.querySelectorAll("#tabs .tab")) setAttr(b, "aria-selected", String(b.dataset.tab === tab));
  const n = { queue: 0, approved: 0, rejected: 0, pinned: 0 };
  for (const p of posts.values()) {
    if (p.state === "pending") n.queue++;
    else if (p.state === "approved") n.approved++;
    else if (p.state === "rejected") n.rejected++;
    if (p.state === "approved" && p.pinned) n.pinned++;
  }
  // The server's counts are exact; this page may not hold every approved or rejected post.
  if (counts) {
    n.queue = counts.pending;
    n.approved = Math.max(n.approved, counts.approved);
    n.rejected = Math.max(n.rejected, counts.rejected);
    n.pinned = Math.max(n.pinned, counts.pinned);
  }
  for (const s of document.querySelectorAll("[data-count]")) setText(s, String(n[s.dataset.count]));
  setText($("counts"), counts
    ? `${counts.pending} waiting · ${counts.approved} approved · ${counts.rejected} rejected · ${counts.questions_open} ${counts.questions_open === 1 ? "question" : "questions"} open`
    : "");
  const sel = $("selection");
  sel.classList.toggle("hidden", selected.size === 0);
  setText(sel, selected.size + " selected: A approves them all, Esc clears");

  const fc = f.id && cards.get(f.id);
  if (fc) {
    // Scrolled only when the focus moved, so others' decisions never yank the view away from
    // where a moderator scrolled with the mouse.
    if (f.id !== lastScrolled) fc.card.scrollIntoView({ block: "nearest" });
    lastScrolled = f.id;
    openPresence(f.id);
  }
}

// reconcile makes parent's children exactly nodes, in order, moving or removing only the
// children that differ (replaceChildren would re-insert every card and make the browser
// restyle and lay out the whole list on each decision).
function reconcile(parent, nodes) {
  const keep = new Set(nodes);
  for (const child of [...parent.children]) if (!keep.has(child)) child.remove();
  let cur = parent.firstElementChild;
  for (const n of nodes) {
    if (n === cur) {
      cur = cur.nextElementSibling;
      continue;
    }
    parent.insertBefore(n, cur);
  }
}

function setText(node, text) {
  if (node && node.textContent !== text) node.textContent = text;
}

function setAttr(node, name, value) {
  if (node.getAttribute(name) !== value) node.setAttribute(name, value);
}

function setFocus(id) {
  const list = listOf(tab);
  const i = list.findIndex((p) => p.id === id);
  if (i >= 0) focus[tab] = { id, idx: i };
  scheduleRender();
}

function move(d) {
  const list = resolveFocus();
  if (!list.length) return;
  const i = Math.min(list.length - 1, Math.max(0, focus[tab].idx + d));
  focus[tab] = { id: list[i].id, idx: i };
  scheduleRender();
}

function setTab(name) {
  if (!TABS.includes(name)) return;
  tab = name;
  // Read afresh each time the tab opens: what the socket brought since is kept, and what
  // happened before this page was open (or while it was offline) comes in.
  if (pages[name]) loadPosts(name, 0);
  scheduleRender();
}

// loadPosts reads one page of the posts in state (approved or rejected), newest change first;
// before 0 is the first page.
async function loadPosts(state, before) {
  const pg = pages[state];
  if (pg.loading) return;
  pg.loading = true;
  scheduleRender();
  try {
    const res = await api("GET", "posts?state=" + state + "&limit=" + PAGE + (before ? "&before=" + before : ""));
    for (const p of (res && res.posts) || []) upsert(p);
    // A first page read again must not forget that older pages exist.
    if (!before || pg.before === before) pg.before = (res && res.before) || 0;
  } catch (e) {
    toast("Could not list the " + state + " posts: " + e.message, "error");
  } finally {
    pg.loading = false;
    scheduleRender();
  }
}

// ---- actions ----

async function act(p, action, body) {
  try {
    const res = await api("POST", "posts/" + encodeURIComponent(p.id) + "/" + action, body);
    if (res && res.post) upsert(res.post);
    scheduleRender();
    return res;
  } catch (e) {
    if (e instanceof APIError && e.status === 409) {
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
  const wasPending = p.state === "pending";
  const call = act(p, action);
  // Every decision on a pending post takes it out of the queue (pin and question approve it),
  // and is what u takes back next, even before the server has answered.
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

function approve() { return decide("approve"); }
function reject() { return decide("reject"); }
function pin() {
  const p = focused();
  if (p) return decide(p.pinned ? "unpin" : "pin");
}
function question() {
  const p = focused();
  if (p) return decide(p.question ? "unquestion" : "question");
}
function hideMedia() {
  const p = focused();
  if (!p) return;
  if (!p.media || !p.media.length) {
    toast("This post has no media.");
    return;
  }
  return act(p, p.media_hidden ? "show-media" : "hide-media");
}

async function undo() {
  let p = focused();
  // In the queue a post has no decision to undo: take back my last one instead, waiting for
  // it to reach the server if it is still on its way.
  if (!p || p.state === "pending") {
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
  const res = await act(p, "undo");
  if (res) {
    toast("Undone: back in the queue.");
    tab = "queue";
    setFocus(p.id);
  }
}

function toggleSelect() {
  const p = focused();
  if (!p || p.state !== "pending") return;
  if (selected.has(p.id)) selected.delete(p.id);
  else selected.add(p.id);
  move(1);
  scheduleRender();
}

async function bulkApprove() {
  const ids = listOf("queue").filter((p) => selected.has(p.id)).map((p) => p.id);
  if (!ids.length) {
    toast("Select posts with x first.");
    return;
  }
  for (const id of ids) leaving.add(id);
  scheduleRender();
  try {
    const res = await api("POST", "posts/approve", { ids });
    for (const it of (res && res.results) || []) if (it.post) upsert(it.post);
    for (const id of ids) undoStack.push(id);
    selected.clear();
    toast((res ? res.approved : ids.length) + " approved.");
  } catch (e) {
    toast("Bulk approve failed: " + e.message, "error");
  }
  for (const id of ids) leaving.delete(id);
  scheduleRender();
}

function openBlock() {
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

async function block(choice) {
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

// ---- presence: which posts other moderators have open ----

let presenceTimer = 0;
let lastOpenedAt = 0;
function openPresence(id) {
  if (!id || (id === lastOpened && Date.now() - lastOpenedAt < PRESENCE_RENEW_MS)) return;
  lastOpened = id;
  lastOpenedAt = Date.now();
  clearTimeout(presenceTimer);
  // Only the post a moderator settles on counts, not every post j flies past. Opening a post
  // lets go of the one this login had open before (the server keeps one per login).
  presenceTimer = setTimeout(async () => {
    try {
      const res = await api("POST", "posts/" + encodeURIComponent(id) + "/open");
      const names = ((res && res.others) || []).map(viewerName);
      if (names.length) presence.set(id, names);
      else presence.delete(id);
      scheduleRender();
    } catch (e) { /* presence is a hint */ }
  }, 250);
}

function viewerName(o) {
  return (o.by && o.by.name) || "another moderator";
}

async function pollPresence() {
  // The server forgets an open post after its TTL: renew the focused one now and then.
  const f = focus[tab];
  if (f.id && Date.now() - lastOpenedAt >= PRESENCE_RENEW_MS) openPresence(f.id);
  try {
    applyPresence(await api("GET", "presence"));
  } catch (e) {
    /* presence is a hint; the next poll tries again */
  }
}

function applyPresence(data) {
  presence.clear();
  for (const o of (data && data.open) || []) {
    if (o.you) continue;
    const names = presence.get(o.post_id) || [];
    names.push(viewerName(o));
    presence.set(o.post_id, names);
  }
  scheduleRender();
}

// ---- sources and counts ----

async function pollSources() {
  try {
    const data = await api("GET", "sources");
    const ul = $("sources");
    const items = ((data && data.sources) || []).map((s) =>
      el("li", { class: "source-row", dataset: { state: s.state || "" } },
        el("span", { class: "src-name", text: s.source }),
        el("span", { class: "src-state", text: s.state || "?" }),
        s.last_error ? el("span", { class: "src-err", title: s.last_error, text: s.last_error }) : null,
        el("span", { class: "muted src-n", text: (s.appended || 0) + " in" + (s.last_success ? " · ok " + clock(s.last_success) : "") })));
    ul.replaceChildren(...(items.length ? items : [el("li", { class: "muted", text: "no sources run on this node" })]));
  } catch (e) {
    /* shown stale until the next poll */
  }
}

// The blocks in force, each with a button to lift it. Read again when a block changes.
let blocksTimer = 0;
function refreshBlocks() {
  clearTimeout(blocksTimer);
  blocksTimer = setTimeout(async () => {
    try {
      const data = await api("GET", "blocks");
      const items = ((data && data.blocks) || []).map((b) => {
        const who = b.domain ? "everyone on " + b.domain : b.handle || b.author_id;
        const until = b.until ? "until " + clock(b.until) : "for good";
        const lift = el("button", { type: "button", class: "btn unblock", text: "Unblock" });
        lift.addEventListener("click", async () => {
          try {
            await api("POST", "authors/unblock", b.domain ? { domain: b.domain } : { author_id: b.author_id });
            toast("Unblocked " + who + ".");
          } catch (e) {
            toast("Unblock failed: " + e.message, "error");
          }
          refreshBlocks();
        });
        return el("li", { class: "block-row", dataset: { key: b.domain ? "domain:" + b.domain : "author:" + b.author_id } },
          el("span", { class: "block-who", text: who }), " ", el("span", { class: "muted", text: until + " · " + actorName(b.by) }), " ", lift);
      });
      $("blocks").replaceChildren(...(items.length ? items : [el("li", { class: "muted", text: "none" })]));
    } catch (e) { /* shown stale until the next change */ }
  }, 100);
}

let countsTimer = 0;
function refreshCounts() {
  clearTimeout(countsTimer);
  countsTimer = setTimeout(async () => {
    try {
      counts = await api("GET", "counts");
      scheduleRender();
    } catch (e) { /* keep the last counts */ }
  }, 300);
}

// ---- settings ----

const LAYOUT_DEFAULT = "default";

function describeSettings(v) {
  const d = (v && v.display) || {};
  return [
    v.moderation === "auto" ? "Auto-approve" : "Pre-moderation",
    "layout " + (d.layout || LAYOUT_DEFAULT),
    "theme " + (d.theme || LAYOUT_DEFAULT),
    d.show_avatars === "false" ? "no avatars" : "avatars",
    d.show_handles === "false" ? "no handles" : "handles",
  ].join(" · ");
}

// applySettings takes the settings as they now stand (from the snapshot, the socket or a POST's
// answer) and shows them; by says who changed them, when it was someone else.
function applySettings(v, by) {
  if (!v) return;
  settings = v;
  document.body.dataset.moderation = v.moderation || "";
  document.body.dataset.wallLayout = (v.display && v.display.layout) || "";
  setText($("settings-summary"), describeSettings(v));
  $("mode-badge").classList.toggle("hidden", v.moderation !== "auto");
  if (v.title) setText($("event-title"), v.title);
  if (by && !$("settings-dialog").classList.contains("hidden")) {
    // The form shows what stands now; a moderator half-way through a change is told why it moved.
    fillSettings();
    const note = $("settings-note");
    note.textContent = by + " changed the settings meanwhile: the form shows them now.";
    note.classList.remove("hidden");
  }
}

function fillSettings() {
  const v = settings || { moderation: "pre" };
  const d = v.display || {};
  $("settings-pre").checked = v.moderation !== "auto";
  $("settings-auto").checked = v.moderation === "auto";
  $("settings-layout").value = d.layout || "";
  $("settings-theme").value = d.theme || "";
  $("settings-avatars").checked = d.show_avatars !== "false";
  $("settings-handles").checked = d.show_handles !== "false";
  disarmAuto();
}

function disarmAuto() {
  $("settings-confirm").classList.add("hidden");
  $("settings-save").textContent = "Save";
  delete $("settings-save").dataset.armed;
}

// openSettings shows the panel filled with the settings as the socket last said (its snapshot
// carries them, its events every change), so nothing is read again that could overwrite what
// the moderator starts changing; only a page that has none yet asks for them first.
async function openSettings() {
  if (!settings) {
    try {
      applySettings(await api("GET", "settings"));
    } catch (e) {
      toast("Could not read the settings: " + e.message, "error");
      return;
    }
  }
  $("settings-note").classList.add("hidden");
  fillSettings();
  $("settings-dialog").classList.remove("hidden");
  (settings.moderation === "auto" ? $("settings-auto") : $("settings-pre")).focus();
}

function closeSettings() {
  $("settings-dialog").classList.add("hidden");
  disarmAuto();
  $("list").focus({ preventScroll: true });
}

// settingsChange is the POST body: only what the form changed.
function settingsChange() {
  const cur = settings || { moderation: "pre" };
  const d = cur.display || {};
  const change = {};
  const mode = $("settings-auto").checked ? "auto" : "pre";
  if (mode !== cur.moderation) change.moderation = mode;
  const display = {};
  if ($("settings-layout").value !== (d.layout || "")) display.layout = $("settings-layout").value;
  if ($("settings-theme").value !== (d.theme || "")) display.theme = $("settings-theme").value;
  const avatars = String($("settings-avatars").checked);
  if (avatars !== (d.show_avatars === "false" ? "false" : "true")) display.show_avatars = avatars;
  const handles = String($("settings-handles").checked);
  if (handles !== (d.show_handles === "false" ? "false" : "true")) display.show_handles = handles;
  if (Object.keys(display).length) change.display = display;
  return change;
}

async function saveSettings(ev) {
  ev.preventDefault();
  const change = settingsChange();
  if (!Object.keys(change).length) {
    closeSettings();
    return;
  }
  // Switching to auto-approve puts posts on the projected wall with nobody looking first: the
  // first press says so, the second switches.
  const save = $("settings-save");
  if (change.moderation === "auto" && !save.dataset.armed) {
    save.dataset.armed = "1";
    save.textContent = "Yes, switch to auto-approve";
    $("settings-confirm").classList.remove("hidden");
    save.focus();
    return;
  }
  try {
    applySettings(await api("POST", "settings", change));
    closeSettings();
    toast(change.moderation === "auto" ? "Auto-approve is on: posts the rules pass go straight to the wall."
      : change.moderation === "pre" ? "Pre-moderation is on: every post waits for a moderator." : "Settings saved.");
  } catch (e) {
    toast("Settings not saved: " + e.message, "error");
  }
}

// ---- the socket ----

function activity(m) {
  const ol = $("activity");
  const verb = String(m.kind || "").replace(/^post\./, "").replace(/[._]/g, " ");
  const post = m.effect && m.effect.posts && m.effect.posts[0];
  const what = post ? " · " + (post.author && (post.author.handle || post.author.name) || "") + " “" + (post.text || "").slice(0, 60) + "”" : "";
  const li = el("li", { dataset: { kind: m.kind } }, el("time", { text: clock(m.time) }), " ", el("strong", { text: actorName(m.actor) || "?" }), " " + verb + what);
  if (m.effect && m.effect.applied === false) li.classList.add("noop");
  ol.prepend(li);
  while (ol.children.length > 30) ol.lastChild.remove();
}

function onMessage(m) {
  if (m.type === "snapshot") {
    posts.clear();
    for (const p of (m.wall && m.wall.posts) || []) posts.set(p.id, Object.assign({ state: "approved" }, p));
    for (const p of m.queue || []) posts.set(p.id, p);
    counts = m.counts || null;
    if (m.settings) applySettings(m.settings);
    // A (re)connect may have missed decisions: the open server-listed tab is read again.
    if (pages[tab]) loadPosts(tab, 0);
    for (const id of [...selected]) if (!posts.has(id)) selected.delete(id);
    refreshBlocks();
    scheduleRender();
    return;
  }
  if (m.type !== "event" || !m.effect) return;
  const eff = m.effect;
  for (const p of eff.posts || []) upsert(p);
  for (const id of eff.gone || []) {
    posts.delete(id);
    selected.delete(id);
  }
  // A block removes the author's posts from the wall and the queue: the wall delta says which.
  for (const id of (eff.wall && eff.wall.remove) || []) {
    const p = posts.get(id);
    if (p && p.state === "approved" && !(eff.posts || []).some((q) => q.id === id)) posts.delete(id);
  }
  if (eff.settings) {
    const mine = me && m.actor && m.actor.name === me.name && m.actor.role === "moderator";
    applySettings(eff.settings, mine ? "" : actorName(m.actor) || "another moderator");
  }
  if (m.actor && m.actor.role !== "source") activity(m);
  if (m.kind === "author.blocked" || m.kind === "author.unblocked") refreshBlocks();
  refreshCounts();
  scheduleRender();
}

// ---- keys ----

let focusOnKeyUp = "";
function onKeyUp() {
  if (!focusOnKeyUp) return;
  $(focusOnKeyUp).focus();
  focusOnKeyUp = "";
}

function typing(t) {
  return t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT" || t.isContentEditable);
}

function onKey(ev) {
  if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
  if (!$("settings-dialog").classList.contains("hidden")) {
    if (ev.key === "Escape") {
      ev.preventDefault();
      closeSettings();
    }
    return; // the form's own keys (tab, space, arrows) work as in any form
  }
  if (!$("block-dialog").classList.contains("hidden")) {
    const map = { "1": "60", "2": "1440", "3": "0", d: "domain", Escape: "cancel" };
    if (map[ev.key] !== undefined) {
      ev.preventDefault();
      block(map[ev.key]);
    }
    return;
  }
  if (typing(ev.target)) {
    if (ev.key === "Escape") {
      ev.target.blur();
      $("list").focus({ preventScroll: true });
    }
    return;
  }
  const keys = {
    j: () => move(1), ArrowDown: () => move(1), k: () => move(-1), ArrowUp: () => move(-1),
    a: approve, r: reject, p: pin, q: question, b: openBlock, h: hideMedia, u: undo,
    x: toggleSelect, A: bulkApprove,
    c: () => { const p = focused(); const c = p && cards.get(p.id); if (c) toggleCW(c.card); },
    // Focused on keyup, so the "m" itself is never typed into the field (some input paths
    // deliver the character after keydown, to whatever has focus by then).
    m: () => { focusOnKeyUp = "stage-input"; },
    s: openSettings,
    "1": () => setTab("queue"), "2": () => setTab("approved"), "3": () => setTab("rejected"), "4": () => setTab("pinned"),
    Escape: () => { selected.clear(); scheduleRender(); },
    "?": () => $("legend").classList.toggle("hidden"),
  };
  const f = keys[ev.key];
  if (!f) return;
  ev.preventDefault();
  f();
}

async function sendStage(ev) {
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

// ---- start ----

async function main() {
  let id;
  try {
    id = await requireSession(["moderator"]);
  } catch (e) {
    toast(e.message, "error");
    $("empty").textContent = e.message;
    $("empty").classList.remove("hidden");
    return;
  }
  showIdentity(id);
  me = id;
  loadTitle();
  document.addEventListener("keydown", onKey);
  document.addEventListener("keyup", onKeyUp);
  $("stage-form").addEventListener("submit", sendStage);
  for (const b of document.querySelectorAll("#tabs .tab")) b.addEventListener("click", () => setTab(b.dataset.tab));
  for (const b of document.querySelectorAll("[data-block]")) b.addEventListener("click", () => block(b.dataset.block));
  $("settings-open").addEventListener("click", openSettings);
  $("settings-cancel").addEventListener("click", closeSettings);
  $("settings-form").addEventListener("submit", saveSettings);
  $("settings-auto").addEventListener("change", () => $("settings-save").focus());
  $("settings-pre").addEventListener("change", disarmAuto);
  $("more").addEventListener("click", () => { if (pages[tab] && pages[tab].before) loadPosts(tab, pages[tab].before); });
  connect(socketPath, { onMessage, onStatus: showConn });
  pollSources();
  pollPresence();
  setInterval(pollSources, SOURCES_EVERY_MS);
  setInterval(pollPresence, PRESENCE_EVERY_MS);
  setInterval(refreshBlocks, 60000); // a block for a time ends with no event to say so
  document.body.dataset.ready = "1"; // for tests and people: the page is wired
}

main();
