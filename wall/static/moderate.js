// moderate.js: the moderator page, keyboard first (docs/STAFF.md lists the keys).
//
// State comes from the moderator socket (/api/events/{slug}/ws/staff, docs/PROTOCOL.md): a
// snapshot (queue oldest first, the wall's approved posts, counts), then one "event" message per
// log event with its effect, which carries the moderator view of every post it changed. Every
// moderator's page applies the same effects, so each sees the others' decisions as they happen.
// Actions are POSTs to the staff API; their answer is applied at once (read-your-write), and the
// same change arriving again on the socket is a no-op.
//
// The Approved and Rejected tabs are read from GET /api/events/{slug}/posts?state=… when opened
// (newest change first, a page at a time), so they list decisions made before the page was
// open; the socket keeps them current after that. The settings panel (key s) reads and writes
// GET/POST /api/events/{slug}/settings; others' changes arrive on the socket (effect.settings).
//
// The page is split by concern: moderate-queue.js (the model), moderate-cards.js (drawing it),
// moderate-actions.js, moderate-keys.js, moderate-presence.js (claims, pushed on ws/presence),
// moderate-panels.js (sources and their trouble, blocks, counts, stage receipts, exports),
// moderate-golive.js, moderate-settings.js and moderate-socket.js; this module wires them.

import { connect } from "/static/ws.js";
import { requireSession, showIdentity, showConn, loadTitle, toast, socketPath, slug } from "/static/staff.js";
import { view, pages, setTab, loadPosts, onRender } from "/static/moderate-queue.js";
import { render } from "/static/moderate-cards.js";
import { block, sendStage, answerReverse } from "/static/moderate-actions.js";
import { onKey, onKeyUp } from "/static/moderate-keys.js";
import { connectPresence, renewPresence } from "/static/moderate-presence.js";
import { pollSources, refreshBlocks, setupExports } from "/static/moderate-panels.js";
import { openGoLive, closeGoLive, goLive } from "/static/moderate-golive.js";
import { openSettings, closeSettings, saveSettings, disarmAuto, wireBrand } from "/static/moderate-settings.js";
import { onMessage, setMe } from "/static/moderate-socket.js";

const PRESENCE_RENEW_EVERY_MS = 5000; // renews the focused post's claim; claims are pushed
const SOURCES_EVERY_MS = 5000; // source trouble shows at the top within this

const $ = (id) => document.getElementById(id);

onRender(render);

async function main() {
  let id;
  try {
    id = await requireSession(["moderator"]);
  } catch (e) {
    toast(e.message, "error");
    $("empty").textContent = e.message;
    $("empty").classList.remove("hidden");
    return;
  }
  showIdentity(id);
  setMe(id);
  loadTitle();
  document.addEventListener("keydown", onKey);
  document.addEventListener("keyup", onKeyUp);
  $("stage-form").addEventListener("submit", sendStage);
  for (const b of document.querySelectorAll("#tabs .tab")) b.addEventListener("click", () => setTab(b.dataset.tab));
  for (const b of document.querySelectorAll("[data-block]")) b.addEventListener("click", () => block(b.dataset.block));
  $("settings-open").addEventListener("click", openSettings);
  $("settings-cancel").addEventListener("click", closeSettings);
  $("settings-form").addEventListener("submit", saveSettings);
  $("settings-auto").addEventListener("change", () => $("settings-save").focus());
  $("settings-pre").addEventListener("change", disarmAuto);
  $("more").addEventListener("click", () => { if (pages[view.tab] && pages[view.tab].before) loadPosts(view.tab, pages[view.tab].before); });
  $("go-live").addEventListener("click", openGoLive);
  $("golive-yes").addEventListener("click", goLive);
  $("golive-no").addEventListener("click", closeGoLive);
  $("reverse-yes").addEventListener("click", () => answerReverse(true));
  $("reverse-no").addEventListener("click", () => answerReverse(false));
  setupExports();
  wireBrand();
  connect(socketPath, { onMessage, onStatus: showConn });
  connectPresence();
  pollSources();
  setInterval(pollSources, SOURCES_EVERY_MS);
  setInterval(renewPresence, PRESENCE_RENEW_EVERY_MS);
  setInterval(refreshBlocks, 60000); // a block for a time ends with no event to say so
  document.body.dataset.ready = "1"; // for tests and people: the page is wired
}

main();

// The export buttons beside the report link: the exports live under the API, by slug.
for (const a of document.querySelectorAll("a[data-export]")) a.href = "/api/events/" + encodeURIComponent(slug) + "/export/" + a.dataset.export;
