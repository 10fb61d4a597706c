// page.js: what every public page does the same way.
//
//   import { pageConfig, applyBrand, showStatus, applyDisplay } from "/static/page.js";
//   const cfg = pageConfig();             // the data- attributes of <body>, typed
//   applyBrand(cfg.brand);                // sets --brand and a readable --brand-fg
//   showStatus(el, status, info);         // the connection indicator's words and colour
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

/** Shows the connection's state in el (a .conn element). */
export function showStatus(el, status) {
  if (!el) return;
  el.dataset.status = status;
  el.textContent = WORDS[status] || status;
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
