// time.js: relative times ("2 min ago") that keep themselves current.
//
//   import { timeElement, startClock } from "/static/time.js";
//   el.append(timeElement(isoString));   // <time datetime=... data-rel> with its text set
//   const stop = startClock(rootElement); // refreshes every <time data-rel> under root every 15 s
//
// One timer per page walks the live nodes on each tick, so nodes removed from the page leave
// nothing behind (no per-node timer or listener to forget).

const fmt = new Intl.RelativeTimeFormat(undefined, { numeric: "auto", style: "short" });

/** Says how long ago t (a Date or ms) was, relative to now (ms). */
export function relTime(t, now = Date.now()) {
  const ms = typeof t === "number" ? t : t.getTime();
  let s = Math.round((ms - now) / 1000);
  // A source's clock a little ahead of ours is "now", not "in 3 seconds".
  if (s > 0 && s < 120) s = 0;
  const a = Math.abs(s);
  if (a < 45) return fmt.format(0, "second");
  if (a < 45 * 60) return fmt.format(Math.round(s / 60), "minute");
  if (a < 22 * 3600) return fmt.format(Math.round(s / 3600), "hour");
  return fmt.format(Math.round(s / 86400), "day");
}

/** A <time> element for an ISO time, kept current by startClock. */
export function timeElement(iso) {
  const el = document.createElement("time");
  el.className = "time";
  el.dateTime = iso || "";
  el.dataset.rel = "";
  const d = new Date(iso);
  if (!isNaN(d)) {
    el.textContent = relTime(d);
    el.title = d.toLocaleString();
  }
  return el;
}

/** Refreshes every <time data-rel> under root every intervalMs; returns a stop function. */
export function startClock(root = document, intervalMs = 15000) {
  const tick = () => {
    const now = Date.now();
    for (const el of root.querySelectorAll("time[data-rel]")) {
      const d = new Date(el.dateTime);
      if (!isNaN(d)) {
        const txt = relTime(d, now);
        if (el.textContent !== txt) el.textContent = txt;
      }
    }
  };
  const id = setInterval(tick, intervalMs);
  return () => clearInterval(id);
}
