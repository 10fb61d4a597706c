// wall.js: the projected wall (/e/{slug}/wall). Layouts grid | column | spotlight | ticker,
// themes dark | light | contrast, from the config or ?layout= / ?theme=. See docs/SCREENS.md.

import { connect } from "/static/ws.js";
import { createFeed } from "/static/feed.js";
import { renderPost, tickerItem } from "/static/post.js";
import { startClock } from "/static/time.js";
import { pageConfig, applyBrand, showStatus, applyDisplay } from "/static/page.js";
import { drawTopQuestions } from "/static/questions.js";

const SPOTLIGHT_MS = 9000;
const TICKER_ITEMS = 20;

const cfg = pageConfig();
applyBrand(cfg.brand);
const $ = (id) => document.getElementById(id);
const postsEl = $("posts");
const conn = $("conn");

const feed = createFeed({
  container: postsEl,
  cap: cfg.cap,
  render: (p) => renderPost(p, cfg),
  onChange: changed,
  onTitle: (t) => { $("title").textContent = t; document.title = t + " · wall"; },
  onDisplay: (d) => {
    const c = applyDisplay(cfg, d);
    if (c.cards) feed.rerender();
    if (c.layout) { spot = -1; drawTicker(true); spotlight(); }
    if (c.questions) drawTopQuestions($("top-questions"), $("tq-list"), feed.questions, cfg.questions);
  },
});

function changed(f, info) {
  document.body.classList.toggle("has-posts", postsEl.children.length > 0);
  if (info.nowReadingChanged) drawNowReading(f.nowReading);
  if (info.questionsChanged) drawTopQuestions($("top-questions"), $("tq-list"), f.questions, cfg.questions);
  if (info.added && info.added.length) spot = -1; // show the newest next
  tickerDirty = true;
  if (info.snapshot || !tickerTrack.firstChild) drawTicker(true);
  if (cfg.layout === "spotlight" && !postsEl.querySelector(".post.current")) spotlight();
}

function drawNowReading(q) {
  const box = $("now-reading");
  if (!q) { box.classList.add("hidden"); return; }
  $("nr-text").textContent = q.text || "";
  const who = (q.author && (q.author.name || q.author.handle)) || q.name || "";
  $("nr-who").textContent = who ? "asked by " + who : "";
  box.classList.remove("hidden");
}

// Spotlight: one card at a time, cycling through the newest (pinned first).
let spot = -1;
function spotlight() {
  if (cfg.layout !== "spotlight") {
    for (const el of postsEl.querySelectorAll(".post.current")) el.classList.remove("current");
    return;
  }
  const cards = postsEl.children;
  if (!cards.length) return;
  const n = Math.min(cards.length, 20);
  spot = (spot + 1) % n;
  for (const el of postsEl.querySelectorAll(".post.current")) el.classList.remove("current");
  cards[spot].classList.add("current");
}
setInterval(spotlight, SPOTLIGHT_MS);

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

drawNowReading(null);
startClock(postsEl);
if (cfg.layout === "spotlight") spotlight();

connect(cfg.ws, {
  onMessage: (m) => feed.handle(m),
  onStatus: (s) => showStatus(conn, s),
});

// For tests and operators: the feed's size and the socket state, read-only.
window.backchannelWall = { feed, cfg };
