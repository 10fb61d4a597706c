// feed.js: the public wall's state on a page, kept from the socket's messages, and drawn into
// a container with at most `cap` post nodes.
//
//   import { createFeed } from "/static/feed.js";
//   const feed = createFeed({ container, cap: 60, render: (post) => element, onChange(feed) {} });
//   feed.handle(msg);        // each socket message ("snapshot", "event"); others are ignored
//   feed.ordered()           // the posts, in wall order (pinned first, then newest first)
//   feed.nowReading          // the question being read, or null
//   feed.questions           // the open questions with their votes, the facilitators' order
//   feed.rerender()          // draw every card again (after a display option changed)
//
// Order: the server sends the snapshot in wall order and each later upsert as it happens, so
// a sequence number given on arrival keeps "newest first" without trusting anyone's clock.
// The feed keeps at most 2×cap posts (so a removal can be filled from below) and drops the
// nodes and state of anything past that: a wall left for hours does not grow.

export function createFeed({ container, cap = 60, render, onChange = () => {}, onTitle = () => {}, onDisplay = () => {}, animate = true }) {
  const posts = new Map(); // id -> {post, seq, pinSeq, node, dirty}
  let seq = 0;
  const feed = {
    nowReading: null,
    questions: [],
    handle,
    ordered,
    rerender() {
      for (const e of posts.values()) e.dirty = true;
      draw(false);
    },
    size: () => posts.size,
  };

  // One delegated listener for every card's entry animation.
  if (container) {
    container.addEventListener("animationend", (ev) => {
      if (ev.target.classList && ev.target.classList.contains("enter")) ev.target.classList.remove("enter");
    });
  }

  function ordered() {
    return Array.from(posts.values()).sort((a, b) => {
      if (!!a.post.pinned !== !!b.post.pinned) return a.post.pinned ? -1 : 1;
      if (a.post.pinned) return b.pinSeq - a.pinSeq;
      return b.seq - a.seq;
    });
  }

  function handle(m) {
    if (m.type === "snapshot") {
      const w = m.wall || {};
      const list = w.posts || [];
      for (const e of posts.values()) if (e.node) e.node.remove();
      posts.clear();
      seq = list.length;
      list.forEach((p, i) => posts.set(p.id, { post: p, seq: list.length - i, pinSeq: list.length - i, node: null, dirty: true }));
      feed.nowReading = w.now_reading || null;
      feed.questions = w.questions || [];
      trim();
      draw(false);
      onChange(feed, { snapshot: true, nowReadingChanged: true, questionsChanged: true });
      return;
    }
    if (m.type !== "event" || !m.wall) return;
    const w = m.wall;
    const added = [];
    for (const p of w.upsert || []) {
      const old = posts.get(p.id);
      if (old) {
        if (p.pinned && !old.post.pinned) old.pinSeq = ++seq;
        old.post = p;
        old.dirty = true;
      } else {
        seq++;
        posts.set(p.id, { post: p, seq, pinSeq: seq, node: null, dirty: true, fresh: true });
        added.push(p.id);
      }
    }
    for (const id of w.remove || []) {
      const e = posts.get(id);
      if (e) {
        if (e.node) e.node.remove();
        posts.delete(id);
      }
    }
    if (w.now_reading_changed) feed.nowReading = w.now_reading || null;
    // The whole list when it changed; else only new vote counts (counts, not increments).
    if (w.questions_changed) feed.questions = w.questions || [];
    if (w.votes) feed.questions = feed.questions.map((q) => (q.id in w.votes ? { ...q, votes: w.votes[q.id] } : q));
    const questionsChanged = !!(w.questions_changed || w.votes);
    if (w.title) onTitle(w.title);
    if (w.display) onDisplay(w.display);
    trim();
    draw(animate);
    onChange(feed, { added, nowReadingChanged: !!w.now_reading_changed, questionsChanged });
  }

  function trim() {
    if (posts.size <= cap * 2) return;
    const list = ordered();
    for (const e of list.slice(cap * 2)) {
      if (e.node) e.node.remove();
      posts.delete(e.post.id);
    }
  }

  function draw(anim) {
    if (!container) return;
    const list = ordered();
    const show = list.slice(0, cap);
    for (const e of list.slice(cap)) {
      // Past the cap: out of the page, and no node kept for it.
      if (e.node) { e.node.remove(); e.node = null; }
      e.dirty = true;
    }
    let i = 0;
    for (const e of show) {
      if (e.dirty || !e.node) {
        const node = render(e.post);
        if (anim && e.fresh) node.classList.add("enter");
        if (e.node) e.node.replaceWith(node);
        e.node = node;
        e.dirty = false;
      }
      e.fresh = false;
      const at = container.children[i];
      if (at !== e.node) container.insertBefore(e.node, at || null);
      i++;
    }
    // Anything else in the container is a node this feed no longer holds.
    while (container.children.length > show.length) container.lastElementChild.remove();
  }

  return feed;
}
