// overlay.js: the livestream overlay (/e/{slug}/overlay): the question being read as a lower
// third, and with ?ticker=1 a ticker of the newest approved posts. The page is transparent.

import { connect } from "/static/ws.js";
import { createFeed } from "/static/feed.js";
import { tickerItem } from "/static/post.js";
import { pageConfig, applyBrand, showStatus, applyDisplay, eventPhase } from "/static/page.js";
import { drawTopQuestions } from "/static/questions.js";

const cfg = pageConfig();
applyBrand(cfg.brand);
const $ = (id) => document.getElementById(id);
const lt = $("lower-third");
lt.classList.add("off");
const ticker = $("ticker");
const track = $("ticker-track");
ticker.classList.toggle("hidden", !cfg.ticker);
let dirty = true;

// No container: the overlay draws no cards, only the lower third and the ticker.
const feed = createFeed({
  container: null,
  cap: cfg.cap,
  render: () => null,
  onChange: (f, info) => {
    if (info.nowReadingChanged) {
      const q = f.nowReading;
      if (q) {
        $("lt-text").textContent = q.text || "";
        const who = (q.author && (q.author.name || (cfg.handles ? q.author.handle : ""))) || q.name || "";
        $("lt-who").textContent = who ? "asked by " + who : "";
      }
      lt.classList.toggle("off", !q);
    }
    if (info.questionsChanged) drawTopQuestions($("top-questions"), $("tq-list"), f.questions, cfg.questions);
    dirty = true;
    if (info.snapshot || !track.firstChild) drawTicker();
  },
  onDisplay: (d) => {
    if (applyDisplay(cfg, d).questions) drawTopQuestions($("top-questions"), $("tq-list"), feed.questions, cfg.questions);
  },
});

function drawTicker() {
  if (!cfg.ticker || !dirty) return;
  dirty = false;
  const items = feed.ordered().slice(0, 15).map(({ post: p }) => tickerItem(p, cfg.handles));
  track.replaceChildren(...items);
  document.documentElement.style.setProperty("--ticker-duration", Math.max(20, Math.round(track.textContent.length / 10)) + "s");
}
track.addEventListener("animationiteration", drawTicker);

// Connected during the event, the indicator is hidden (nothing on air while it works); before
// the event it says "Starts at 14:00", after it "Ended", never "Live"; a dropped connection shows.
let connStatus = "connecting";
const drawStatus = () => showStatus($("conn"), connStatus, eventPhase(cfg));
setInterval(drawStatus, 15000);
connect(cfg.ws, { onMessage: (m) => feed.handle(m), onStatus: (s) => { connStatus = s; drawStatus(); } });
window.backchannelOverlay = { feed, cfg };
