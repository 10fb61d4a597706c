// moderate-presence.js: the moderators' claims. The page says which post it has settled on
// (POST posts/{id}/open, renewed before the server's TTL); the claims socket (GET ws/presence)
// pushes every moderator's open post the moment it changes. The first moderator to open a post
// holds it: the others' queues pass over it (moderate-queue.js's claimed), so two moderators
// are never on the same post, and a page that opened a post someone holds moves on at once.

import { api, apiRoot } from "/static/staff.js";
import { view, focus, claimed, scheduleRender } from "/static/moderate-queue.js";

const PRESENCE_RENEW_MS = 10000; // the server's TTL is 30 s
const RECONNECT_MIN_MS = 500;
const RECONNECT_MAX_MS = 10000;

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
      if (res && res.claimed_by) {
        // Someone opened it first: it is theirs; the focus moves on with the next render.
        claimed.set(id, viewerName(res.claimed_by));
        lastOpened = "";
      }
      scheduleRender();
    } catch (e) { /* the socket brings the claims; a lost open is renewed */ }
  }, 120);
}

function viewerName(o) {
  return (o.by && o.by.name) || "another moderator";
}

// applyPresence takes the event's claims, oldest first: the first holder of each post holds it.
function applyPresence(data) {
  presence.clear();
  claimed.clear();
  const first = new Map();
  for (const o of (data && data.open) || []) {
    if (!first.has(o.post_id)) first.set(o.post_id, o);
    if (o.you) continue;
    const names = presence.get(o.post_id) || [];
    names.push(viewerName(o));
    presence.set(o.post_id, names);
  }
  for (const [id, o] of first) if (!o.you) claimed.set(id, viewerName(o));
  document.body.dataset.claims = String(claimed.size); // for tests and people
  scheduleRender();
}

// renewPresence keeps the focused post open while the moderator looks at it.
export function renewPresence() {
  const f = focus[view.tab];
  if (f.id && Date.now() - lastOpenedAt >= PRESENCE_RENEW_MS) openPresence(f.id);
}

// connectPresence keeps the claims socket open, reconnecting with a growing, jittered wait.
export function connectPresence() {
  let wait = RECONNECT_MIN_MS;
  const open = () => {
    const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + apiRoot + "/ws/presence");
    ws.onmessage = (ev) => {
      wait = RECONNECT_MIN_MS;
      try {
        const m = JSON.parse(ev.data);
        if (m && m.type === "presence") applyPresence(m);
      } catch (e) { /* not ours */ }
    };
    ws.onclose = () => {
      setTimeout(open, wait * (0.5 + Math.random()));
      wait = Math.min(RECONNECT_MAX_MS, wait * 2);
    };
  };
  open();
}
