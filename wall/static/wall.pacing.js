// wall.pacing.js: which post the spotlight and ticker layouts show large, and for how long.
//
//   import { createPacer, parseDuration } from "/static/wall.pacing.js";
//   const pacer = createPacer({ dwellMs: 8000, cycleMs: 9000, list: () => ids, show: (id) => {} });
//   pacer.arrived(ids)   // new posts, newest first (feed.js's "added")
//   pacer.removed(id)    // a post left the wall (taken down, deleted, trimmed)
//   pacer.setDwell(ms); pacer.setCycle(ms)   // 0 cycle: keep the post until a new one comes
//   pacer.pause(bool); pacer.paused()
//   pacer.current()      // the id shown large, or ""
//
// Every post shown large stays at least dwellMs, so a busy hashtag does not flip the big post
// on every arrival: new posts wait in a queue, oldest first, and each gets its turn. The queue
// keeps at most MAX_QUEUE posts (a burst of hundreds would otherwise run minutes behind); the
// older ones are skipped, and stay on the wall's other surfaces (the ticker, the rotation).
// With nothing queued the spotlight moves on through the newest posts every cycleMs; the
// ticker keeps its post. Paused, nothing changes but a removal: a post a moderator takes down
// leaves the screen at once, whatever the pacing.

const MAX_QUEUE = 20;
const ROTATION = 20;

/** Parses a Go-style duration ("8s", "1m30s", "500ms", "1.5s") into ms, or NaN. */
export function parseDuration(s) {
  if (typeof s !== "string" || !/^(\d+(\.\d+)?(ms|s|m|h))+$/.test(s.trim())) return NaN;
  const unit = { ms: 1, s: 1000, m: 60000, h: 3600000 };
  let ms = 0;
  for (const [, n, , u] of s.trim().matchAll(/(\d+(\.\d+)?)(ms|s|m|h)/g)) ms += parseFloat(n) * unit[u];
  return ms;
}

export function createPacer({ dwellMs, cycleMs = 0, list, show, now = () => performance.now() }) {
  let cur = "";
  let since = 0;
  let queue = [];
  let paused = false;
  let timer = 0;

  function put(id) {
    cur = id;
    since = now();
    show(id);
  }

  function next() {
    while (queue.length) {
      const id = queue.shift();
      if (list().includes(id)) return id;
    }
    if (!cycleMs) return list().includes(cur) ? cur : (list()[0] || "");
    const ids = list().slice(0, ROTATION);
    if (!ids.length) return "";
    const i = ids.indexOf(cur);
    return ids[(i + 1) % ids.length];
  }

  // Shows the next post if the current one has had its time, and sets the timer for when the
  // next change is due.
  function tick() {
    clearTimeout(timer);
    timer = 0;
    if (paused) return;
    const shown = now() - since;
    const present = cur && list().includes(cur);
    const wait = queue.length ? dwellMs : cycleMs;
    if (present && (!wait || shown < wait)) {
      if (wait) timer = setTimeout(tick, wait - shown);
      return;
    }
    const id = next();
    if (id && id !== cur) put(id);
    else if (!id) cur = "";
    else since = now();
    const after = queue.length ? dwellMs : cycleMs;
    if (after && id) timer = setTimeout(tick, after);
  }

  return {
    arrived(ids) {
      for (const id of [...ids].reverse()) if (!queue.includes(id) && id !== cur) queue.push(id);
      if (queue.length > MAX_QUEUE) queue = queue.slice(queue.length - MAX_QUEUE);
      tick();
    },
    removed(id) {
      queue = queue.filter((q) => q !== id);
      if (id === cur) {
        // Taken down: off the screen now, pause or not, dwell or not.
        cur = "";
        since = -Infinity;
        const was = paused;
        paused = false;
        tick();
        paused = was;
        if (paused) clearTimeout(timer);
      }
    },
    refresh() { tick(); },
    reset() { cur = ""; since = -Infinity; queue = []; tick(); },
    setDwell(ms) { dwellMs = ms; tick(); },
    setCycle(ms) { cycleMs = ms; tick(); },
    pause(on) { paused = !!on; tick(); },
    paused: () => paused,
    current: () => cur,
    queued: () => queue.length,
  };
}
