// page.js: what every public page does the same way.
//
//   import { pageConfig, applyBrand, showStatus, applyDisplay } from "/static/page.js";
//   const cfg = pageConfig();             // the data- attributes of <body>, typed
//   applyBrand(cfg.brand);                // sets --brand and a readable --brand-fg
//   showStatus(el, status, phase);        // the connection indicator's words and colour
//   eventPhase(cfg)                       // {phase: "" | "before" | "live" | "ended", label}
//   applyDisplay(cfg, display)            // a moderator changed the display options; returns what changed

/** The page's settings, from <body data-…> (the CSP forbids inline script). */
export function pageConfig() {
  const d = document.body.dataset;
  return {
    slug: d.slug || "",
    ws: d.ws || "",
    form: d.form || "",
    layout: d.layout || "grid",
    theme: document.documentElement.dataset.theme || "dark",
    layoutLocked: d.layoutLocked === "true",
    themeLocked: d.themeLocked === "true",
    avatars: d.avatars !== "false",
    handles: d.handles !== "false",
    captions: d.captions === "true",
    ticker: d.ticker === "true",
    brand: d.brand || "",
    cap: parseInt(d.cap, 10) > 0 ? parseInt(d.cap, 10) : 60,
    // The event's window, RFC 3339 in the event's own offset ("2026-05-14T14:00:00+01:00"), or "".
    start: d.start || "",
    end: d.end || "",
    questions: parseInt(d.questions, 10) > 0 ? parseInt(d.questions, 10) : 0,
  };
}

/** Sets the event's colour, and black or white text on it, whichever reads better. */
export function applyBrand(colour) {
  if (!/^#([0-9a-f]{3}|[0-9a-f]{6})$/i.test(colour || "")) return;
  let h = colour.slice(1);
  if (h.length === 3) h = h.split("").map((c) => c + c).join("");
  const [r, g, b] = [0, 2, 4].map((i) => parseInt(h.slice(i, i + 2), 16) / 255)
    .map((c) => (c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4));
  const lum = 0.2126 * r + 0.7152 * g + 0.0722 * b;
  const root = document.documentElement.style;
  root.setProperty("--brand", "#" + h);
  // Contrast against white is 1.05/(lum+0.05), against black (lum+0.05)/0.05: pick the larger.
  root.setProperty("--brand-fg", 1.05 / (lum + 0.05) >= (lum + 0.05) / 0.05 ? "#ffffff" : "#000000");
}

const WORDS = {
  connecting: "Connecting…",
  live: "Live",
  reconnecting: "Reconnecting…",
  offline: "Offline: showing the posts received so far",
};

/**
 * Says where now is in the event's window: "before" (label "Starts at 14:00", in the event's
 * own clock, with the day when it is not today), "ended" ("Ended"), "live", or "" when the
 * event has no window.
 */
export function eventPhase(cfg, now = Date.now()) {
  const start = Date.parse(cfg.start || "");
  const end = Date.parse(cfg.end || "");
  if (Number.isFinite(end) && now >= end) return { phase: "ended", label: "Ended" };
  if (Number.isFinite(start) && now < start) {
    // The event's wall clock, read off the string: the room is where the event is.
    const day = cfg.start.slice(0, 10);
    const at = cfg.start.slice(11, 16);
    const today = localDay(cfg.start, now);
    return { phase: "before", label: day === today ? "Starts at " + at : "Starts " + dayWords(day) + ", " + at };
  }
  if (Number.isFinite(start) || Number.isFinite(end)) return { phase: "live", label: "Live" };
  return { phase: "", label: "" };
}

// The date now is in the offset the RFC 3339 string ref carries, as "2006-01-02".
function localDay(ref, now) {
  const m = /([+-])(\d\d):(\d\d)$/.exec(ref);
  const off = m ? (m[1] === "-" ? -1 : 1) * (parseInt(m[2], 10) * 60 + parseInt(m[3], 10)) : 0;
  return new Date(now + off * 60000).toISOString().slice(0, 10);
}

function dayWords(day) {
  const d = new Date(day + "T12:00:00Z");
  return d.toLocaleDateString(undefined, { weekday: "short", day: "numeric", month: "short", timeZone: "UTC" });
}

/**
 * Shows the connection's state in el (a .conn element). With phase (eventPhase), a connected
 * page says "Ended" or "Starts at 14:00" rather than "Live" when the event is not on.
 */
export function showStatus(el, status, phase) {
  if (!el) return;
  let shown = status;
  let words = WORDS[status] || status;
  if (status === "live" && phase && (phase.phase === "ended" || phase.phase === "before")) {
    shown = phase.phase;
    words = phase.label;
  }
  el.dataset.status = shown;
  el.textContent = words;
  el.title = status === "live" ? "Connected: new posts appear as soon as they are approved" : el.textContent;
}

/**
 * Applies display options a moderator changed (the whole map), except what the URL locked.
 * Returns {layout, theme, cards} flags saying what changed, so the page can redraw.
 */
export function applyDisplay(cfg, display) {
  const changed = { layout: false, theme: false, cards: false, questions: false };
  if (!display) return changed;
  // The server hands out canonical names only (event.Layouts and event.Themes in Go: the config
  // and the settings API resolve "masonry", "high-contrast" and the like), so there is no alias here.
  const layout = display.layout || "grid";
  if (!cfg.layoutLocked && layout !== cfg.layout) {
    cfg.layout = layout;
    document.body.dataset.layout = layout;
    changed.layout = true;
  }
  const theme = display.theme || "dark";
  if (!cfg.themeLocked && theme !== cfg.theme) {
    cfg.theme = theme;
    document.documentElement.dataset.theme = theme;
    changed.theme = true;
  }
  const avatars = display.show_avatars !== "false";
  const handles = display.show_handles !== "false";
  if (avatars !== cfg.avatars || handles !== cfg.handles) {
    cfg.avatars = avatars;
    cfg.handles = handles;
    changed.cards = true;
  }
  cfg.dwell = display.dwell || "";
  const m = /^top(\d{1,2})$/.exec(display.questions || "");
  const top = m ? parseInt(m[1], 10) : 0;
  if (top !== cfg.questions && !new URLSearchParams(location.search).has("questions")) {
    cfg.questions = top;
    changed.questions = true;
  }
  if (display.brand_colour && display.brand_colour !== cfg.brand) {
    cfg.brand = display.brand_colour;
    applyBrand(cfg.brand);
  }
  return changed;
}
