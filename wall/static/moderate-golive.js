// moderate-golive.js: the rehearsal bar and going live. While the event's views hold posts the
// rehearsal made up, a bar at the top says so with a "Go live…" button; going live (behind a
// confirmation: it cannot be undone) is POST go-live, after which every rehearsal post leaves
// every view, here through the socket's effect (gone ids) like a post deleted at its source.

import { api, toast } from "/static/staff.js";
import { setText } from "/static/moderate-cards.js";

const $ = (id) => document.getElementById(id);

let rehearsal = 0;

/** Shows or hides the rehearsal bar from the server's counts. */
export function renderRehearsal(counts) {
  rehearsal = (counts && counts.rehearsal) || 0;
  document.body.dataset.live = counts && counts.live ? "1" : "";
  $("rehearsal-bar").classList.toggle("hidden", rehearsal === 0);
  setText($("rehearsal-text"), rehearsal === 1
    ? "Rehearsal: 1 made-up post is in the views. Go live when the event starts: it leaves every screen."
    : `Rehearsal: ${rehearsal} made-up posts are in the views. Go live when the event starts: they leave every screen.`);
}

export function openGoLive() {
  setText($("golive-text"), `Every rehearsal post (${rehearsal} now) leaves the wall, the queue, the questions, the counts and the exports, and so does every decision about them. The audit keeps a record. This cannot be undone. Stop the rehearsal source too: start without --rehearse.`);
  $("golive-dialog").classList.remove("hidden");
  $("golive-no").focus();
}

export function closeGoLive() {
  $("golive-dialog").classList.add("hidden");
  $("list").focus({ preventScroll: true });
}

export function goLiveOpen() {
  return !$("golive-dialog").classList.contains("hidden");
}

export async function goLive() {
  closeGoLive();
  try {
    const res = await api("POST", "go-live", { confirm: true });
    toast(res && res.removed ? `Live: ${res.removed} rehearsal ${res.removed === 1 ? "post" : "posts"} removed from every screen.` : "The event is live.");
  } catch (e) {
    toast("Not live: " + e.message, "error");
  }
}
