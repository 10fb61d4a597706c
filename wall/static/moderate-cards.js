// moderate-cards.js: draws the moderator page from the model: the focused tab's list of post
// cards (each a staff.js card with the moderator's footer: rules, checks with their matches
// marked, what was redacted and the original; cached until the post changes), the
// tab counts, the selection line, and the focus, which it scrolls to and reports as open.

import { renderPost, el, actorName, clock } from "/static/staff.js";
import { posts, selected, view, focus, pages, claimed, resolveFocus, setFocus, inQueue } from "/static/moderate-queue.js";
import { presence, openPresence } from "/static/moderate-presence.js";
import { renderRehearsal } from "/static/moderate-golive.js";

const MAX_RENDERED = 300; // cards in the DOM per tab; the counts say how many more there are

export const cards = new Map(); // id -> {card, key} rendered card cache
let lastScrolled = "";

const $ = (id) => document.getElementById(id);

// cardFor returns p's card, drawn again only when what it shows changed.
function cardFor(p) {
  const key = (p.last_pos || 0) + ":" + p.state + ":" + (p.pinned ? 1 : 0) + ":" + (p.question ? 1 : 0) + ":" + (p.media_hidden ? 1 : 0) + ":" + (p.edit ? p.edit_pos : 0);
  const c = cards.get(p.id);
  if (c && c.key === key) return c.card;
  const card = renderPost(p);
  if (p.edit) showEdit(card, p);
  const foot = el("div", { class: "mod-foot" });
  if (p.rule) foot.append(el("span", { class: "rule", title: "the rule that decided when it arrived" }, "rule: ", el("strong", { text: p.rule })));
  for (const c of p.checks || []) {
    foot.append(el("span", { class: "check", title: c.detail || "" }, c.rule + (c.score < 1 ? " " + Math.round(c.score * 100) + "%" : "") + (c.detail ? ": " + c.detail : "")));
  }
  if (p.question_candidate && !p.question && p.state === "pending") foot.append(el("span", { class: "candidate", text: "asked as a question: approving makes it one" }));
  for (const body of card.querySelectorAll(".post-body")) markSpans(body, p.checks);
  if (p.redactions && p.redactions.length) {
    // What the moderators hid: for moderators only; the wall reads █████ in its place.
    foot.append(el("span", { class: "redactions", title: "hidden on every public surface; d redacts more" },
      "redacted: ", ...p.redactions.map((t, i) => el("q", { text: t, class: i ? "sep" : "" }))));
  }
  if (p.revised || (p.edit && p.edit.revised)) foot.append(el("span", { class: "revised", text: "text edited by a moderator" }));
  if (p.original) {
    const o = el("details", { class: "original" }, el("summary", { text: "As the author wrote it (moderators only)" }));
    o.append(el("p", { text: p.original.text || "" }));
    foot.append(o);
  }
  if (p.state !== "pending" && p.decided_by && p.decided_by.role) {
    foot.append(el("span", { class: "decided" }, p.state + " by " + actorName(p.decided_by) + (p.decided_at ? " at " + clock(p.decided_at) : "")));
  }
  // Kept for the author's "this is a question" tick (issue 17), beside the rule.
  foot.append(el("span", { class: "asked-question", dataset: { slot: "question-tick" } }));
  foot.append(el("span", { class: "presence" }));
  foot.append(el("span", { class: "claim" }));
  if (p.url && /^https?:\/\//.test(p.url)) foot.append(el("a", { href: p.url, target: "_blank", rel: "noopener noreferrer", text: "original" }));
  card.append(foot);
  card.dataset.state = p.state;
  card.addEventListener("click", () => setFocus(p.id));
  cards.set(p.id, { card, key });
  return card;
}

// showEdit turns the card of an approved post edited at its source into an edit card: the
// version on the wall (the card itself) above the edit nobody has passed yet, text and media,
// each labelled, so a moderator compares them before pressing a (show the edit) or r (take
// the post off the wall).
function showEdit(card, p) {
  const e = p.edit;
  card.dataset.edit = "1";
  card.prepend(el("p", { class: "edit-banner", role: "note" },
    el("strong", { text: "Edited at the source after it was approved" }),
    e.edited_at ? el("time", { datetime: e.edited_at, text: " · edited " + clock(e.edited_at) }) : null,
    el("span", { class: "edit-keys", text: " · a shows the edit on the wall, r takes the post off" }),
    // The post's redaction was applied to the new version by itself: the moderator checks it.
    e.redacted ? el("span", { class: "edit-redacted", text: " · the earlier redaction was applied to the edit too: check nothing new needs hiding (d)" }) : null));
  const head = card.querySelector(".post-head");
  (head || card.firstChild).after(el("p", { class: "version-label version-shown", text: "On the wall now" }));
  const next = renderPost(Object.assign({}, e, { media_hidden: p.media_hidden }));
  next.className = "edit-version staff-post" + (e.sensitive ? " sensitive" : "");
  delete next.dataset.id;
  card.append(el("section", { class: "edit-new", "aria-label": "The edit, not on the wall" },
    el("p", { class: "version-label version-edit" }, "The edit, not on the wall until approved",
      p.edit_rule ? el("span", { class: "rule" }, " · held by: ", el("strong", { text: p.edit_rule })) : null),
    next));
}

// render draws the open tab, its counts and the focus.
export function render() {
  const list = resolveFocus();
  const f = focus[view.tab];
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
    const holder = view.tab === "queue" ? claimed.get(p.id) : undefined;
    card.classList.toggle("open-elsewhere", who.length > 0);
    card.classList.toggle("claimed", !!holder);
    const pr = card.querySelector(".presence");
    setText(pr, who.length && !holder ? "open by " + who.join(", ") : "");
    setText(card.querySelector(".claim"), holder ? holder + " has this one" : "");
    return card;
  });
  reconcile($("list"), nodes);
  $("empty").classList.toggle("hidden", list.length > 0);
  setText($("empty"), view.tab === "queue" ? "The queue is empty." : pages[view.tab] && pages[view.tab].loading ? "Loading…" : "Nothing here.");
  const pg = pages[view.tab];
  $("more").classList.toggle("hidden", !pg || !pg.before);
  // Drop cached cards of posts that are gone, so hours of posts do not pile up.
  for (const id of cards.keys()) if (!posts.has(id)) cards.delete(id);

  for (const b of document.querySelectorAll("#tabs .tab")) setAttr(b, "aria-selected", String(b.dataset.tab === view.tab));
  const n = { queue: 0, approved: 0, rejected: 0, pinned: 0 };
  for (const p of posts.values()) {
    if (inQueue(p)) n.queue++;
    if (p.state === "approved") n.approved++;
    else if (p.state === "rejected") n.rejected++;
    if (p.state === "approved" && p.pinned) n.pinned++;
  }
  // The server's counts are exact; this page may not hold every approved or rejected post.
  const counts = view.counts;
  if (counts) {
    n.queue = counts.pending + (counts.edits || 0);
    n.approved = Math.max(n.approved, counts.approved);
    n.rejected = Math.max(n.rejected, counts.rejected);
    n.pinned = Math.max(n.pinned, counts.pinned);
  }
  for (const s of document.querySelectorAll("[data-count]")) setText(s, String(n[s.dataset.count]));
  setText($("counts"), counts
    ? `${counts.pending + (counts.edits || 0)} waiting${counts.edits ? ` (${counts.edits} ${counts.edits === 1 ? "edit" : "edits"})` : ""} · ${counts.approved} approved · ${counts.rejected} rejected · ${counts.questions_open} ${counts.questions_open === 1 ? "question" : "questions"} open`
    : "");
  const sel = $("selection");
  sel.classList.toggle("hidden", selected.size === 0);
  setText(sel, selected.size + " selected: A approves them all, R rejects them all, Esc clears");
  renderRehearsal(counts);

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

// markSpans wraps what the personal-data and spam rules matched in <mark>, in the card's text
// nodes (the spans' texts, since the card shows the post's HTML, not its plain text).
function markSpans(root, checks) {
  const want = new Set();
  for (const c of checks || []) for (const s of c.spans || []) if (s.text) want.add(s.text);
  if (!root || !want.size) return;
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  const nodes = [];
  while (walker.nextNode()) nodes.push(walker.currentNode);
  for (const n of nodes) {
    for (const t of want) {
      const i = n.data.indexOf(t);
      if (i < 0) continue;
      const hit = n.splitText(i);
      hit.splitText(t.length);
      hit.replaceWith(el("mark", { class: "matched", title: "matched by a rule: redact before approving", text: t }));
      break;
    }
  }
}

export function setText(node, text) {
  if (node && node.textContent !== text) node.textContent = text;
}

function setAttr(node, name, value) {
  if (node.getAttribute(name) !== value) node.setAttribute(name, value);
}
