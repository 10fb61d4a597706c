// wall.js: the projected wall (/e/{slug}/wall). Layouts grid | column | spotlight | ticker,
// themes dark | light | contrast, from the config or ?layout= / ?theme=. See docs/SCREENS.md.
//
// Keys for the wall's operator: space pauses the big post of the spotlight and ticker layouts
// (a "Paused" mark shows in the header) and resumes it.

import { connect } from "/static/ws.js";
import { createFeed } from "/static/feed.js";
import { renderPost, tickerItem } from "/static/post.js";
import { startClock } from "/static/time.js";
import { pageConfig, applyBrand, showStatus, applyDisplay, eventPhase } from "/static/page.js";
import { createMasonry } from "/static/wall.masonry.js";
import { createPacer, parseDuration } from "/static/wall.pacing.js";
import { drawTopQuestions } from "/static/questions.js";

// The spotlight moves on to the next post after this long, or the dwell if that is longer.
const SPOTLIGHT_MS = 9000;
const DEFAULT_DWELL_MS = 8000;
const TICKER_ITEMS = 20;

const cfg = pageConfig();
applyBrand(cfg.brand);
const $ = (id) => document.getElementById(id);
const postsEl = $("posts");
const conn = $("conn");
const paused = $("paused");

function dwellOf(v) {
  const ms = parseDuration(v || "");
  return Number.isFinite(ms) ? ms : DEFAULT_DWELL_MS;
}
let dwellMs = dwellOf(document.body.dataset.dwell);
const big = () => cfg.layout === "spotlight" || cfg.layout === "ticker";
const cycleMs = () => (cfg.layout === "spotlight" ? Math.max(SPOTLIGHT_MS, dwellMs) : 0);

const masonry = createMasonry(postsEl, () => cfg.layout);

const feed = createFeed({
  container: postsEl,
  cap: cfg.cap,
  render: (p) => renderPost(p, cfg),
  onChange: changed,
  onTitle: (t) => { $("title").textContent = t; document.title = t + " · wall"; },
  onDisplay: (d) => {
    const c = applyDisplay(cfg, d);
    if (c.cards) feed.rerender();
    const dw = dwellOf(d.dwell);
    if (dw !== dwellMs) { dwellMs = dw; pacer.setDwell(dwellMs); }
    if (c.layout) { pacer.setCycle(cycleMs()); pacer.reset(); drawTicker(true); }
    masonry.schedule();
    if (c.questions) drawTopQuestions($("top-questions"), $("tq-list"), feed.questions, cfg.questions);
  },
});

// The post shown large in the spotlight and ticker layouts: the pacer decides which and when.
const pacer = createPacer({
  dwellMs,
  cycleMs: cycleMs(),
  list: () => feed.ordered().map((e) => e.post.id),
  show: markCurrent,
});

function markCurrent(id) {
  for (const el of postsEl.querySelectorAll(".post.current")) if (el.dataset.id !== id) el.classList.remove("current");
  const el = id && postsEl.querySelector(`.post[data-id="${CSS.escape(id)}"]`);
  if (el && big()) el.classList.add("current");
  document.body.dataset.current = id || "";
  masonry.schedule();
}

let known = new Set();
function changed(f, info) {
  document.body.classList.toggle("has-posts", postsEl.children.length > 0);
  if (info.nowReadingChanged) drawNowReading(f.nowReading);
  const ids = new Set(f.ordered().map((e) => e.post.id));
  for (const id of known) if (!ids.has(id)) pacer.removed(id);
  known = ids;
  if (info.snapshot) pacer.reset();
  else if (info.added && info.added.length) pacer.arrived(info.added);
  else pacer.refresh();
  // A card drawn again (an edit, a display change) is a new node: mark it again.
  markCurrent(pacer.current());
  if (info.questionsChanged) drawTopQuestions($("top-questions"), $("tq-list"), f.questions, cfg.questions);
  tickerDirty = true;
  if (info.snapshot || !tickerTrack.firstChild) drawTicker(true);
  masonry.schedule();
}

function drawNowReading(q) {
  const box = $("now-reading");
  if (!q) { box.classList.add("hidden"); masonry.schedule(); return; }
  $("nr-text").textContent = q.text || "";
  const who = (q.author && (q.author.name || q.author.handle)) || q.name || "";
  $("nr-who").textContent = who ? "asked by " + who : "";
  box.classList.remove("hidden");
  masonry.schedule();
}

// Ticker: its text is rebuilt only between runs, so a new post never makes the line jump.
const tickerTrack = $("ticker-track");
let tickerDirty = true;
function drawTicker(force) {
  if (cfg.layout !== "ticker" && !force) return;
  if (!tickerDirty && !force) return;
  tickerDirty = false;
  const items = feed.ordered().slice(0, TICKER_ITEMS).map(({ post: p }) => tickerItem(p, cfg.handles));
  tickerTrack.replaceChildren(...items);
  // About 10 characters a second at any size: long lines take longer, not faster.
  const chars = tickerTrack.textContent.length;
  document.documentElement.style.setProperty("--ticker-duration", Math.max(20, Math.round(chars / 10)) + "s");
}
tickerTrack.addEventListener("animationiteration", () => drawTicker(false));

// Space: the operator holds the big post (someone on stage is talking about it) and lets go.
document.addEventListener("keydown", (ev) => {
  if (ev.key !== " " || ev.repeat || ev.ctrlKey || ev.metaKey || ev.altKey) return;
  ev.preventDefault();
  pacer.pause(!pacer.paused());
  paused.classList.toggle("hidden", !pacer.paused());
});

drawNowReading(null);
startClock(postsEl);

// The indicator says "Live" only while the event is on: "Starts at 14:00" before, "Ended" after.
let connStatus = "connecting";
const drawStatus = () => showStatus(conn, connStatus, eventPhase(cfg));
setInterval(drawStatus, 15000);

connect(cfg.ws, {
  onMessage: (m) => feed.handle(m),
  onStatus: (s) => { connStatus = s; drawStatus(); },
});

// For tests and operators: the feed's size, the pacing and the socket state, read-only.
window.backchannelWall = { feed, cfg, pacer, masonry, dwell: () => dwellMs };
