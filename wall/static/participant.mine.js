// participant.mine.js: "Your posts" on the participant page: a copy of what this phone sent
// through the form, and where each stands ("Waiting for a moderator", "On the wall", "Not
// shown"), kept up to date.
//
//   import { createMine } from "/static/participant.mine.js";
//   const mine = createMine({ slug, section, list, heading });
//   mine.add(answer, {name, text, question});  // the form's answer: {post, token}
//   mine.onSocket(msg);                         // every public socket message
//
// The form's answer carries a token for the post; GET /e/{slug}/mine?token=… answers with that
// post's text and state, and nothing else (docs/API.md). The copies (the last 5) live in
// localStorage, so a reload still shows them. A waiting post is asked about every 4 s; the
// public socket, which only carries approved posts, says "on the wall" at once.

const KEEP = 5;
const POLL_MS = 4000;

const WORDS = {
  pending: "Waiting for a moderator",
  approved: "On the wall",
  rejected: "Not shown",
  gone: "No longer here",
};

export function createMine({ slug, section, list, heading }) {
  const key = "backchannel:mine:" + slug;
  let entries = load(); // newest first: {id, token, name, text, question, at, state}
  const seq = new Map(); // id -> changes made by the socket, so an older poll answer loses
  let timer = null;

  function load() {
    try {
      const v = JSON.parse(localStorage.getItem(key) || "[]");
      return Array.isArray(v) ? v.filter((e) => e && e.id && e.token).slice(0, KEEP) : [];
    } catch (e) {
      return []; // storage off (a private window) or damaged: start empty
    }
  }

  function save() {
    try { localStorage.setItem(key, JSON.stringify(entries)); } catch (e) { /* storage full or off */ }
  }

  function draw() {
    section.classList.toggle("hidden", entries.length === 0);
    heading.textContent = entries.length > 1 ? "Your posts" : "Your post";
    list.replaceChildren(...entries.map((e) => {
      const li = document.createElement("li");
      li.className = "mine-post";
      li.dataset.post = e.id; // not data-id: that names the public cards
      li.dataset.state = e.state;
      const state = document.createElement("span");
      state.className = "mine-state";
      state.textContent = WORDS[e.state] || WORDS.pending;
      const text = document.createElement("p");
      text.className = "mine-text";
      text.textContent = e.text || "";
      const meta = document.createElement("p");
      meta.className = "mine-meta";
      const at = new Date(e.at);
      meta.textContent = [
        e.name ? "as " + e.name : "",
        e.question ? "a question for the speakers" : "",
        Number.isFinite(at.getTime()) ? "sent " + at.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }) : "",
      ].filter(Boolean).join(" · ");
      li.append(state, text, meta);
      return li;
    }));
  }

  function set(id, patch) {
    const e = entries.find((x) => x.id === id);
    if (!e) return;
    Object.assign(e, patch);
    save();
    draw();
  }

  async function ask(e) {
    const before = seq.get(e.id) || 0;
    let res;
    try {
      res = await fetch("/e/" + encodeURIComponent(slug) + "/mine?token=" + encodeURIComponent(e.token), { credentials: "same-origin" });
    } catch (err) {
      return; // offline: ask again on the next round
    }
    if ((seq.get(e.id) || 0) !== before) return; // the socket said something newer meanwhile
    if (res.status === 404) {
      set(e.id, { state: "gone" });
    } else if (res.ok) {
      const p = await res.json().catch(() => null);
      if (p && p.id === e.id) set(e.id, { state: p.state, text: p.text, name: p.name, question: !!p.question });
    } // 429, 503: ask again on the next round
  }

  async function round() {
    timer = null;
    await Promise.all(entries.filter((e) => e.state === "pending").map(ask));
    schedule();
  }

  function schedule() {
    if (timer === null && entries.some((e) => e.state === "pending")) timer = setTimeout(round, POLL_MS);
  }

  function fromSocket(id, state) {
    if (!entries.some((e) => e.id === id)) return;
    seq.set(id, (seq.get(id) || 0) + 1);
    if (state) set(id, { state });
  }

  // On the public socket only approved posts travel: one of ours there is on the wall. One of ours
  // leaving it was taken down (or deleted): ask the server which.
  function onSocket(m) {
    const w = m && m.wall;
    if (!w) return;
    if (m.type === "snapshot") for (const p of w.posts || []) fromSocket(p.id, "approved");
    if (m.type !== "event") return;
    for (const p of w.upsert || []) fromSocket(p.id, "approved");
    for (const id of w.remove || []) {
      const e = entries.find((x) => x.id === id);
      if (e) { fromSocket(id, ""); ask(e).then(schedule); }
    }
  }

  function add(answer, sent) {
    if (!answer || !answer.post || !answer.token) return;
    entries = [{
      id: answer.post, token: answer.token, name: (sent.name || "").trim(), text: (sent.text || "").trim(),
      question: !!sent.question, at: Date.now(), state: "pending",
    }, ...entries.filter((e) => e.id !== answer.post)].slice(0, KEEP);
    save();
    draw();
    // On a phone the copy is below the Send button: bring it into view.
    const first = list.firstElementChild;
    if (first && first.scrollIntoView) first.scrollIntoView({ block: "nearest" });
    schedule();
  }

  // A phone that slept: look again as soon as the page is back.
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible" && timer !== null) { clearTimeout(timer); round(); }
  });

  draw();
  // A reload: every copy once (a post on the wall may have been taken down since), then the waiting ones.
  Promise.all(entries.map(ask)).then(schedule);
  return { add, onSocket, entries: () => entries.map((e) => ({ ...e, token: undefined })) };
}
