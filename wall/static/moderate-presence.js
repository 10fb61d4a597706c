// moderate-presence.js: which posts other moderators have open. The page says which post it
// has settled on (POST posts/{id}/open, renewed before the server's TTL) and polls GET presence.

import { api } from "/static/staff.js";
import { view, focus, scheduleRender } from "/static/moderate-queue.js";

const PRESENCE_RENEW_MS = 10000; // the server's TTL is 30 s

export const presence = new Map(); // post id -> [moderator names] who have it open (not me)
let lastOpened = "";
let presenceTimer = 0;
let lastOpenedAt = 0;

// openPresence tells the server this login has post id open, once the focus settles on it.
export function openPresence(id) {
  if (!id || (id === lastOpened && Date.now() - lastOpenedAt < PRESENCE_RENEW_MS)) return;
  lastOpened = id;
  lastOpenedAt = Date.now();
  clearTimeout(presenceTimer);
  // Only the post a moderator settles on counts, not every post j flies past. Opening a post
  // lets go of the one this login had open before (the server keeps one per login).
  presenceTimer = setTimeout(async () => {
    try {
      const res = await api("POST", "posts/" + encodeURIComponent(id) + "/open");
      const names = ((res && res.others) || []).map(viewerName);
      if (names.length) presence.set(id, names);
      else presence.delete(id);
      scheduleRender();
    } catch (e) { /* presence is a hint */ }
  }, 250);
}

function viewerName(o) {
  return (o.by && o.by.name) || "another moderator";
}

export async function pollPresence() {
  // The server forgets an open post after its TTL: renew the focused one now and then.
  const f = focus[view.tab];
  if (f.id && Date.now() - lastOpenedAt >= PRESENCE_RENEW_MS) openPresence(f.id);
  try {
    applyPresence(await api("GET", "presence"));
  } catch (e) {
    /* presence is a hint; the next poll tries again */
  }
}

function applyPresence(data) {
  presence.clear();
  for (const o of (data && data.open) || []) {
    if (o.you) continue;
    const names = presence.get(o.post_id) || [];
    names.push(viewerName(o));
    presence.set(o.post_id, names);
  }
  scheduleRender();
}
