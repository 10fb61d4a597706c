// moderate-panels.js: the side panels of the moderator page: the sources this node runs (polled),
// the blocks in force with a button to lift each, and the counts, read again after each change.

import { api, el, toast, clock, actorName } from "/static/staff.js";
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
