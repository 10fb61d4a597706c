// participant.js: the participant's page (/e/{slug}): the live wall as a list, the web form and
// a copy of what this phone sent with its state (participant.mine.js).

import { connect } from "/static/ws.js";
import { createFeed } from "/static/feed.js";
import { renderPost } from "/static/post.js";
import { startClock } from "/static/time.js";
import { pageConfig, applyBrand, showStatus, eventPhase, applyDisplay } from "/static/page.js";
import { voteWord } from "/static/questions.js";
import { createMine } from "/static/participant.mine.js";

const cfg = pageConfig();
applyBrand(cfg.brand);
const $ = (id) => document.getElementById(id);
const postsEl = $("posts");

const feed = createFeed({
  container: postsEl,
  cap: cfg.cap,
  render: (p) => renderPost(p, cfg),
  onChange: (f, info) => {
    document.body.classList.toggle("has-posts", postsEl.children.length > 0);
    if (info.nowReadingChanged) {
      const q = f.nowReading;
      $("now-reading").classList.toggle("hidden", !q);
      $("nr-text").textContent = q ? q.text || "" : "";
      const who = q ? (q.author && (q.author.name || q.author.handle)) || q.name || "" : "";
      $("nr-who").textContent = who ? "asked by " + who : "";
    }
    if (info.questionsChanged) drawQuestions();
  },
  onTitle: (t) => { $("title").textContent = t; document.title = t; },
  onDisplay: (d) => { if (applyDisplay(cfg, d).cards) feed.rerender(); },
});
startClock(postsEl);
// "Your posts": what this phone sent through the form, and where each stands.
const mine = createMine({ slug: cfg.slug, section: $("mine"), list: $("mine-list"), heading: $("mine-title") });
// The indicator says "Live" only while the event is on: "Starts at 14:00" before, "Ended" after.
let connStatus = "connecting";
const drawStatus = () => showStatus($("conn"), connStatus, eventPhase(cfg));
setInterval(drawStatus, 15000);
connect(cfg.ws, {
  onMessage: (m) => { feed.handle(m); mine.onSocket(m); },
  onStatus: (s) => { connStatus = s; drawStatus(); },
});

// The form: sent as JSON so the page stays put and can say what happened.
// Fetching it first hands this phone its device token (an HttpOnly cookie), so
// the phones sharing the venue's address each get their own share of posts.
const device = () => fetch(cfg.form, { credentials: "same-origin" }).catch(() => {});
let deviceReady = device();

// ---- questions and votes: one vote per phone per question, a second tap takes it back ----

const myVotes = new Set(); // ids of the questions this phone votes for
const busy = new Set(); // ids with a vote on its way

function drawQuestions() {
  const qs = feed.questions || [];
  $("q-empty").classList.toggle("hidden", qs.length > 0);
  $("questions").replaceChildren(...qs.map((q) => {
    const li = document.createElement("li");
    li.className = "vote-q" + (q.reading ? " reading" : "");
    li.dataset.id = q.id;
    const text = document.createElement("p");
    text.className = "vq-text";
    text.textContent = q.text || "";
    const btn = document.createElement("button");
    btn.type = "button";
    const mine = myVotes.has(q.id);
    btn.className = "btn vote" + (mine ? " voted" : "");
    btn.setAttribute("aria-pressed", String(mine));
    btn.disabled = busy.has(q.id);
    btn.dataset.votes = String(q.votes || 0);
    btn.textContent = (mine ? "★ " : "☆ ") + voteWord(q.votes);
    btn.setAttribute("aria-label", (mine ? "Take back your vote for: " : "Vote for: ") + (q.text || "") + " (" + voteWord(q.votes) + ")");
    btn.addEventListener("click", () => vote(q.id));
    li.append(text, btn);
    return li;
  }));
}

async function loadMyVotes() {
  await deviceReady;
  try {
    const res = await fetch("/e/" + encodeURIComponent(cfg.slug) + "/votes", { credentials: "same-origin" });
    if (!res.ok) return;
    const body = await res.json();
    myVotes.clear();
    for (const id of body.voted || []) myVotes.add(id);
    drawQuestions();
  } catch (e) { /* offline: the buttons still work once back */ }
}

async function vote(id) {
  if (busy.has(id)) return;
  busy.add(id);
  const had = myVotes.has(id);
  const out = $("q-result");
  out.className = "result";
  drawQuestions();
  try {
    await deviceReady;
    const res = await fetch("/e/" + encodeURIComponent(cfg.slug) + "/questions/" + encodeURIComponent(id) + "/vote", {
      method: had ? "DELETE" : "POST", credentials: "same-origin",
    });
    const body = await res.json().catch(() => ({}));
    if (res.ok) {
      if (body.voted) myVotes.add(id); else myVotes.delete(id);
      out.textContent = body.voted ? "Vote counted." : "Vote taken back.";
      // The count comes back at once; the socket's coalesced counts follow.
      feed.questions = (feed.questions || []).map((q) => (q.id === id ? { ...q, votes: body.votes } : q));
    } else {
      if (res.status === 409) await loadMyVotes(); // voted from another tab: show what stands
      else if (res.status === 403) deviceReady = device(); // an old or missing token: fetch a new one
      out.textContent = (body.error && body.error.message) || "That did not work (" + res.status + ").";
      out.classList.add("err");
    }
  } catch (e) {
    out.textContent = "No connection: try again in a moment.";
    out.classList.add("err");
  } finally {
    busy.delete(id);
    drawQuestions();
  }
}
loadMyVotes();
const form = $("form");
const text = $("f-text");
const count = $("f-count");
const result = $("f-result");
const max = parseInt(text.getAttribute("maxlength"), 10) || 500;
text.addEventListener("input", () => { count.textContent = text.value.length + " / " + max; });
form.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  result.className = "result";
  if (!text.value.trim()) {
    result.textContent = "Write something first.";
    result.classList.add("err");
    text.focus();
    return;
  }
  const send = $("f-send");
  send.disabled = true;
  try {
    await deviceReady;
    const sent = { name: $("f-name").value, text: text.value, question: $("f-question").checked };
    const res = await fetch(cfg.form, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ ...sent, website: $("f-website").value }),
    });
    const body = await res.json().catch(() => ({}));
    deviceReady = device(); // renew the token as the day goes on
    if (res.ok) {
      result.textContent = body.message || "Thanks: a moderator will review your post.";
      result.classList.add("ok");
      mine.add(body, sent);
      text.value = "";
      count.textContent = "";
      $("f-question").checked = false;
    } else {
      result.textContent = (body.error && body.error.message) || "That did not work (" + res.status + "). Try again in a moment.";
      result.classList.add("err");
    }
  } catch (e) {
    result.textContent = "No connection. Your text is still here: try again in a moment.";
    result.classList.add("err");
  } finally {
    send.disabled = false;
  }
});
