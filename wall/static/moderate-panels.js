// moderate-panels.js: the side panels of the moderator page: the sources this node runs (polled;
// their trouble is also shown at the top of the page),
// the blocks in force with a button to lift each, and the counts, read again after each change.

import { api, apiRoot, el, toast, clock, actorName } from "/static/staff.js";
import { view, scheduleRender } from "/static/moderate-queue.js";

const $ = (id) => document.getElementById(id);

export async function pollSources() {
  try {
    const data = await api("GET", "sources");
    const ul = $("sources");
    const items = ((data && data.sources) || []).map((s) =>
      el("li", { class: "source-row", dataset: { state: s.state || "" } },
        el("span", { class: "src-name", text: s.source }),
        el("span", { class: "src-state", text: s.state || "?" }),
        s.last_error ? el("span", { class: "src-err", title: s.last_error, text: s.last_error }) : null,
        s.detail ? el("span", { class: "muted src-detail", text: s.detail }) : null,
        el("span", { class: "muted src-n", text: (s.appended || 0) + " in" + (s.last_success ? " · ok " + clock(s.last_success) : "") })));
    ul.replaceChildren(...(items.length ? items : [el("li", { class: "muted", text: "no sources run on this node" })]));
    // Trouble goes at the top of the page, in a host's words (the server words it).
    const trouble = (data && data.trouble) || [];
    $("trouble-list").replaceChildren(...trouble.map((t) => el("li", { dataset: { kind: t.kind, source: t.source }, title: t.detail || "", text: t.message })));
    $("trouble").classList.toggle("hidden", trouble.length === 0);
  } catch (e) {
    /* shown stale until the next poll */
  }
}

// The blocks in force, each with a button to lift it. Read again when a block changes.
let blocksTimer = 0;
export function refreshBlocks() {
  clearTimeout(blocksTimer);
  blocksTimer = setTimeout(async () => {
    try {
      const data = await api("GET", "blocks");
      const items = ((data && data.blocks) || []).map((b) => {
        const who = b.domain ? "everyone on " + b.domain : b.handle || b.author_id;
        const until = b.until ? "until " + clock(b.until) : "for good";
        const lift = el("button", { type: "button", class: "btn unblock", text: "Unblock" });
        lift.addEventListener("click", async () => {
          try {
            await api("POST", "authors/unblock", b.domain ? { domain: b.domain } : { author_id: b.author_id });
            toast("Unblocked " + who + ".");
          } catch (e) {
            toast("Unblock failed: " + e.message, "error");
          }
          refreshBlocks();
        });
        return el("li", { class: "block-row", dataset: { key: b.domain ? "domain:" + b.domain : "author:" + b.author_id } },
          el("span", { class: "block-who", text: who }), " ", el("span", { class: "muted", text: until + " · " + actorName(b.by) }), " ", lift);
      });
      $("blocks").replaceChildren(...(items.length ? items : [el("li", { class: "muted", text: "none" })]));
    } catch (e) { /* shown stale until the next change */ }
  }, 100);
}

let countsTimer = 0;
export function refreshCounts() {
  clearTimeout(countsTimer);
  countsTimer = setTimeout(async () => {
    try {
      view.counts = await api("GET", "counts");
      scheduleRender();
    } catch (e) { /* keep the last counts */ }
  }, 300);
}

// The stage messages this page knows, newest first, with the stage's read receipt.
const stageMsgs = new Map(); // pos -> StageMessageView

/** Takes stage messages (the snapshot's, or one from an effect) and shows the latest few. */
export function applyStage(list) {
  for (const m of list || []) if (m && m.pos) stageMsgs.set(m.pos, m);
  const recent = [...stageMsgs.values()].sort((a, b) => b.pos - a.pos).slice(0, 5);
  $("stage-sent").replaceChildren(...recent.map((m) => el("li", { dataset: { pos: String(m.pos) } },
    el("span", { text: "“" + m.text + "” " }),
    el("span", { class: "receipt", dataset: { read: m.read_at ? "1" : "" },
      text: m.read_at ? "read at " + clock(m.read_at) + (m.read_by && m.read_by.name ? " by " + m.read_by.name : "") : "sent " + clock(m.at) + ", not read yet" }))));
}

/** Points the export links at the API and says in which zone their times are. */
export function setupExports() {
  for (const a of document.querySelectorAll("[data-export]")) a.href = apiRoot + "/export/" + a.dataset.export;
}
