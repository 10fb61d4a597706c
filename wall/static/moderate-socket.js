// moderate-socket.js: the moderator socket's messages applied to the model: a snapshot replaces
// what the page knows, an event's effect updates the posts it names, the settings and the
// activity list, and has the blocks and counts read again.

import { el, clock, actorName } from "/static/staff.js";
import { posts, selected, view, pages, upsert, loadPosts, scheduleRender } from "/static/moderate-queue.js";
import { applySettings } from "/static/moderate-settings.js";
import { refreshBlocks, refreshCounts, applyStage } from "/static/moderate-panels.js";

let me = null; // who is logged in, to tell others' settings changes from mine

/** Sets who is logged in, before the socket connects. */
export function setMe(id) {
  me = id;
}

const $ = (id) => document.getElementById(id);

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

export function onMessage(m) {
  if (m.type === "snapshot") {
    posts.clear();
    for (const p of (m.wall && m.wall.posts) || []) posts.set(p.id, Object.assign({ state: "approved" }, p));
    for (const p of m.queue || []) posts.set(p.id, p);
    view.counts = m.counts || null;
    if (m.settings) applySettings(m.settings);
    applyStage(m.stage);
    // A (re)connect may have missed decisions: the open server-listed tab is read again.
    if (pages[view.tab]) loadPosts(view.tab, 0);
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
  if (eff.stage) applyStage([eff.stage]);
  if (eff.settings) {
    const mine = me && m.actor && m.actor.name === me.name && m.actor.role === "moderator";
    applySettings(eff.settings, mine ? "" : actorName(m.actor) || "another moderator");
  }
  // A node's connections sample (for the report, once a minute) is not a decision.
  if (m.actor && m.actor.role !== "source" && m.kind !== "connections.sampled") activity(m);
  if (m.kind === "author.blocked" || m.kind === "author.unblocked") refreshBlocks();
  refreshCounts();
  scheduleRender();
}
