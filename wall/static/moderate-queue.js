// moderate-queue.js: the moderator page's model: every post the page knows with its state, the
// four tabs (queue, approved, rejected, pinned) with the focus in each, the selection, the posts
// whose decision is on its way, and the pages of decided posts read from the server. Nothing here
// draws: a change asks for a render (scheduleRender), which moderate-cards.js does.

import { api, toast } from "/static/staff.js";

const TABS = ["queue", "approved", "rejected", "pinned"];
const PAGE = 200; // posts per page of the approved and rejected lists

export const posts = new Map(); // id -> PostView (state pending | approved | rejected), every post this page knows
export const selected = new Set();
export const undoStack = []; // ids of posts I decided, newest last
// Posts whose decision is on its way to the server: out of the queue at once, so a moderator
// can press a, a, a without waiting, each key acting on the next post. Back if the call fails.
export const leaving = new Set();
export const inflight = new Map(); // id -> the promise of its decision's call
// The tab shown, and the server's counts (null until the snapshot or GET counts brings them).
export const view = { tab: "queue", counts: null };
export const focus = { queue: { id: "", idx: 0 }, approved: { id: "", idx: 0 }, rejected: { id: "", idx: 0 }, pinned: { id: "", idx: 0 } };
// Posts another moderator holds (opened first): id -> their name. The queue's focus passes over
// them, so two moderators are never on the same post (moderate-presence.js keeps it).
export const claimed = new Map();
// Per server-listed tab: the next page's before= (0: no more), and whether a load is under way.
export const pages = { approved: { before: 0, loading: false }, rejected: { before: 0, loading: false } };

let renderQueued = false;
let renderer = () => {};

/** Sets what scheduleRender calls (moderate-cards.js's render). */
export function onRender(fn) {
  renderer = fn;
}

/** Asks for one render on the next frame, however many changes come before it. */
export function scheduleRender() {
  if (renderQueued) return;
  renderQueued = true;
  requestAnimationFrame(() => {
    renderQueued = false;
    renderer();
  });
}

/**
 * Whether p waits for a moderator: a pending post, or an approved post edited at its source
 * whose edit no rule passed (p.edit: the wall keeps the approved version until a moderator
 * approves the edit).
 */
export function inQueue(p) {
  return p.state === "pending" || (p.state === "approved" && !!p.edit);
}

// queuePos places a post in the queue: an edit where it came, a post where it arrived.
function queuePos(p) {
  return (p.edit ? p.edit_pos : p.received_pos) || 0;
}

// upsert records a post's moderator view, from the socket or an API answer.
export function upsert(p) {
  if (!p || !p.id) return;
  const old = posts.get(p.id);
  // A view older than what we hold (an API answer racing the socket) is dropped.
  if (old && old.last_pos && p.last_pos && p.last_pos < old.last_pos) return;
  posts.set(p.id, p);
  if (!inQueue(p)) selected.delete(p.id);
}

// listOf returns the posts of tab name in its order.
export function listOf(name) {
  const out = [];
  for (const p of posts.values()) {
    if (name === "queue" ? inQueue(p) && !leaving.has(p.id) : name === "pinned" ? p.state === "approved" && p.pinned : p.state === name) out.push(p);
  }
  const rp = (p) => p.received_pos || 0;
  if (name === "queue") out.sort((a, b) => queuePos(a) - queuePos(b)); // oldest first
  else if (name === "pinned") out.sort((a, b) => (b.last_pos || 0) - (a.last_pos || 0));
  else out.sort((a, b) => (b.last_pos || 0) - (a.last_pos || 0) || rp(b) - rp(a)); // newest change first
  return out;
}

// resolveFocus returns the tab's list with focus[tab] pointing into it. Focus follows the
// queue: when the focused post left, the one now at its place takes focus.
export function resolveFocus() {
  const list = listOf(view.tab);
  const f = focus[view.tab];
  let idx = list.findIndex((p) => p.id === f.id);
  if (idx < 0) idx = Math.min(f.idx, list.length - 1);
  idx = Math.max(0, idx);
  // In the queue, a post another moderator holds is theirs: the focus moves on to the next one
  // nobody holds (or back, at the end of the queue).
  if (view.tab === "queue" && list.length && claimed.has(list[idx].id)) idx = freeNear(list, idx, 1);
  f.idx = idx;
  f.id = list.length ? list[idx].id : "";
  return list;
}

// focused returns the open tab's focused post, or null.
export function focused() {
  const list = resolveFocus();
  return list[focus[view.tab].idx] || null;
}

// setFocus moves the focus to post id in the open tab, move by d places, setTab to tab name.
export function setFocus(id) {
  const list = listOf(view.tab);
  const i = list.findIndex((p) => p.id === id);
  if (i >= 0) focus[view.tab] = { id, idx: i };
  scheduleRender();
}

// freeNear returns the index of the post nearest idx in direction d (then the other way) that no
// other moderator holds, or idx when every post is held.
function freeNear(list, idx, d) {
  for (let i = idx; i >= 0 && i < list.length; i += d) if (!claimed.has(list[i].id)) return i;
  for (let i = idx; i >= 0 && i < list.length; i -= d) if (!claimed.has(list[i].id)) return i;
  return idx;
}

export function move(d) {
  const list = resolveFocus();
  if (!list.length) return;
  let i = Math.min(list.length - 1, Math.max(0, focus[view.tab].idx + d));
  if (view.tab === "queue" && claimed.has(list[i].id)) {
    const j = freeNear(list, i, d);
    // Nothing free that way: stay put rather than jump back past the focus.
    i = (j - focus[view.tab].idx) * d > 0 ? j : focus[view.tab].idx;
  }
  focus[view.tab] = { id: list[i].id, idx: i };
  scheduleRender();
}

export function setTab(name) {
  if (!TABS.includes(name)) return;
  view.tab = name;
  // Read afresh each time the tab opens: what the socket brought since is kept, and what
  // happened before this page was open (or while it was offline) comes in.
  if (pages[name]) loadPosts(name, 0);
  scheduleRender();
}

// loadPosts reads one page of the posts in state (approved or rejected), newest change first;
// before 0 is the first page.
export async function loadPosts(state, before) {
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
