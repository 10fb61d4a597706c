// participant.js: the participant's page (/e/{slug}): the live wall as a list, and the web form.

import { connect } from "/static/ws.js";
import { createFeed } from "/static/feed.js";
import { renderPost } from "/static/post.js";
import { startClock } from "/static/time.js";
import { pageConfig, applyBrand, showStatus, eventPhase, applyDisplay } from "/static/page.js";

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
  },
  onTitle: (t) => { $("title").textContent = t; document.title = t; },
  onDisplay: (d) => { if (applyDisplay(cfg, d).cards) feed.rerender(); },
});
startClock(postsEl);
connect(cfg.ws, { onMessage: (m) => feed.handle(m), onStatus: (s) => showStatus($("conn"), s, eventPhase(cfg)) });

// The form: sent as JSON so the page stays put and can say what happened.
// Fetching it first hands this phone its device token (an HttpOnly cookie), so
// the phones sharing the venue's address each get their own share of posts.
const device = () => fetch(cfg.form, { credentials: "same-origin" }).catch(() => {});
let deviceReady = device();
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
    const res = await fetch(cfg.form, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({
        name: $("f-name").value,
        text: text.value,
        question: $("f-question").checked,
        website: $("f-website").value,
      }),
    });
    const body = await res.json().catch(() => ({}));
    deviceReady = device(); // renew the token as the day goes on
    if (res.ok) {
      result.textContent = body.message || "Thanks: a moderator will review your post.";
      result.classList.add("ok");
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
