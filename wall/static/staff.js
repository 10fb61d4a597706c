// staff.js: what every staff page shares (login.js, moderate.js, facilitate.js and audit.js
// import it): the session, API calls, post cards, the header bar and the toast.
//
//   import { slug, api, requireSession, el, renderPost, ... } from "/static/staff.js";
//
// Calls go to the moderator/facilitator API (docs/API.md) with the session cookie and the
// session's CSRF token in X-CSRF-Token; a 401 sends the browser to the login page, which comes
// back here afterwards (?next=). Everything but a post's sanitised HTML is inserted as text, and
// that HTML goes through post.js's safeHTML allowlist as on the public screens.

import { safeHTML, safeURL } from "/static/post.js";

/** The event's slug, from the page's path /e/{slug}/<page>. */
export const slug = decodeURIComponent((location.pathname.match(/^\/e\/([^/]+)\//) || [, ""])[1]);

/** The event's API root. */
export const apiRoot = "/api/events/" + encodeURIComponent(slug);

/** The staff websocket: the audience (moderator or facilitator) is chosen by the server from the cookie. */
export const socketPath = apiRoot + "/ws/staff";

/** The page of this event called name (login, moderate, ...). */
export function pageURL(name) {
  return "/e/" + encodeURIComponent(slug) + "/" + name;
}

let csrf = "";
let identity = null;

/** An API refusal: status, code (an event error code) and a message safe to show. */
export class APIError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** Sends the browser to the login page, to come back to this page afterwards. */
export function toLogin() {
  const next = location.pathname + location.search;
  location.assign(pageURL("login") + "?next=" + encodeURIComponent(next));
}

/**
 * Returns who is logged in ({role, name, expires, csrf_token}), or sends the browser to the
 * login page (and never resolves) when nobody is, or when the role is not one of roles.
 */
export async function requireSession(roles) {
  const r = await fetch(pageURL("session"), { headers: { Accept: "application/json" }, credentials: "same-origin" });
  if (r.status === 401) {
    toLogin();
    return new Promise(() => {});
  }
  if (!r.ok) throw new APIError(r.status, "unavailable", "could not ask who is logged in (" + r.status + ")");
  identity = await r.json();
  csrf = identity.csrf_token || "";
  if (roles && !roles.includes(identity.role)) {
    throw new APIError(403, "forbidden", "this page needs the " + roles.join(" or ") + " role; you are logged in as " + identity.role);
  }
  return identity;
}

/** The identity requireSession found. */
export function me() {
  return identity;
}

/**
 * Calls the API: method, a path under the event's API root (or an absolute path), and an
 * optional JSON body. Resolves to the decoded answer (null for 204); rejects with APIError.
 */
export async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  const init = { method, headers, credentials: "same-origin" };
  if (method !== "GET" && method !== "HEAD") {
    headers["X-CSRF-Token"] = csrf;
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body === undefined ? {} : body);
  }
  const r = await fetch(path.startsWith("/") ? path : apiRoot + "/" + path, init);
  if (r.status === 401) {
    toLogin();
    throw new APIError(401, "unauthorized", "log in again");
  }
  if (r.status === 204) return null;
  let data = null;
  try {
    data = await r.json();
  } catch (e) {
    data = null;
  }
  if (!r.ok) {
    const err = (data && data.error) || {};
    const e = new APIError(r.status, err.code || "internal", err.message || "request failed (" + r.status + ")");
    e.body = data; // the whole answer: a 409 may say more (reverses)
    throw e;
  }
  return data;
}

/** Logs out and goes to the login page. */
export async function logout() {
  try {
    await fetch(pageURL("logout"), { method: "POST", headers: { Accept: "application/json" }, credentials: "same-origin" });
  } finally {
    location.assign(pageURL("login"));
  }
}

/**
 * Makes an element: el("button", {class: "btn", onclick: f, dataset: {id: "x"}}, "text", child).
 * String children become text nodes; attributes named on* become listeners.
 */
export function el(tag, attrs, ...children) {
  const n = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") n.className = v;
    else if (k === "dataset") Object.assign(n.dataset, v);
    else if (k.startsWith("on") && typeof v === "function") n.addEventListener(k.slice(2), v);
    else if (k === "text") n.textContent = v;
    else n.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    n.append(typeof c === "string" || typeof c === "number" ? document.createTextNode(String(c)) : c);
  }
  return n;
}

/** "14:03" for a time today, else "28 Nov 14:03". */
export function clock(t) {
  if (!t) return "";
  const d = new Date(t);
  if (isNaN(d)) return "";
  const now = new Date();
  const hm = d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  if (d.toDateString() === now.toDateString()) return hm;
  return d.toLocaleDateString([], { day: "numeric", month: "short" }) + " " + hm;
}

/** "3 min ago" style age of t. */
export function ago(t) {
  const s = Math.max(0, Math.round((Date.now() - new Date(t).getTime()) / 1000));
  if (!isFinite(s)) return "";
  if (s < 60) return s + " s ago";
  if (s < 3600) return Math.floor(s / 60) + " min ago";
  if (s < 86400) return Math.floor(s / 3600) + " h ago";
  return Math.floor(s / 86400) + " d ago";
}

/** An actor as people read it: "alice (moderator)", or the role alone. */
export function actorName(a) {
  if (!a || !a.role) return "";
  return a.name ? a.name + " (" + a.role + ")" : a.role;
}

const SOURCES = ["mastodon", "bluesky", "form", "rss", "rehearsal"]; // icons in /static/img/

/**
 * Renders a post (a fold.PostView or PublicPost) as a card with common.css's classes. The
 * body's HTML was sanitised at ingest, so it is the one thing inserted as HTML. A content
 * warning is shown with the body collapsed (a button opens it); sensitive media is blurred
 * until hovered or focused (moderate.css). Media a moderator hid is marked, still shown here.
 */
export function renderPost(p) {
  const a = p.author || {};
  const card = el("article", { class: "post staff-post" + (p.sensitive ? " sensitive" : "") + (p.pinned ? " pinned" : ""), dataset: { id: p.id } });
  const head = el("div", { class: "post-head" });
  if (safeURL(a.avatar)) {
    head.append(el("img", { class: "avatar", src: a.avatar, alt: "", loading: "lazy", referrerpolicy: "no-referrer" }));
  }
  head.append(el("div", { class: "who" },
    el("span", { class: "name", text: a.name || a.handle || "anonymous" }),
    el("span", { class: "handle", text: a.handle || "" })));
  const meta = el("div", { class: "meta" });
  if (p.pinned) meta.append(el("span", { class: "pinned-badge", text: "pinned" }));
  if (p.question) meta.append(el("span", { class: "question-badge", text: "question" }));
  if (SOURCES.includes(p.source)) meta.append(el("img", { class: "source", src: "/static/img/" + p.source + ".svg", alt: p.source, title: p.source }));
  meta.append(el("span", { class: "source-name", text: p.source_name || p.source || "" }));
  if (p.created_at) meta.append(el("time", { class: "time", datetime: p.created_at, title: new Date(p.created_at).toString(), text: clock(p.created_at) }));
  head.append(meta);
  card.append(head);

  const body = el("div", { class: "post-body", lang: p.language || null });
  // Sanitised server-side (ingest/sanitize); safeHTML keeps only an allowlist on top.
  if (p.html) body.append(safeHTML(p.html));
  else body.textContent = p.text || "";
  if (p.content_warning) {
    body.classList.add("collapsed");
    const toggle = el("button", { class: "btn cw-toggle", type: "button", "aria-expanded": "false", text: "show" });
    toggle.addEventListener("click", (ev) => {
      ev.stopPropagation();
      toggleCW(card);
    });
    card.append(el("div", { class: "cw" }, el("span", { class: "cw-label", text: "CW" }), el("span", { class: "cw-text", text: p.content_warning }), toggle));
  }
  card.append(body);

  if (p.media && p.media.length) {
    const media = el("div", { class: "media" + (p.media_hidden ? " media-hidden" : "") });
    for (const m of p.media) {
      const src = m.preview_url || m.url;
      const fig = el("figure", { class: "media-item", tabindex: p.sensitive ? "0" : null });
      if (m.kind === "image" || m.kind === "gifv" || m.preview_url) {
        if (safeURL(src)) fig.append(el("img", { src, alt: m.alt || "", loading: "lazy", referrerpolicy: "no-referrer" }));
      }
      fig.append(el("figcaption", { class: "alt", text: m.alt ? "alt: " + m.alt : "no alt text (" + m.kind + ")" }));
      media.append(fig);
    }
    if (p.media_hidden) media.append(el("p", { class: "media-hidden-note", text: "media hidden from the wall" }));
    card.append(media);
  }
  return card;
}

/** Opens or closes the body of a post card with a content warning. */
export function toggleCW(card) {
  const body = card.querySelector(".post-body");
  const btn = card.querySelector(".cw-toggle");
  if (!body || !btn) return;
  const open = body.classList.toggle("collapsed") === false;
  btn.textContent = open ? "hide" : "show";
  btn.setAttribute("aria-expanded", String(open));
}

/** Shows a short message in the page's #toast region (role=status) for a few seconds. */
export function toast(msg, kind) {
  const t = document.getElementById("toast");
  if (!t) return;
  t.textContent = msg;
  t.dataset.kind = kind || "info";
  t.classList.remove("hidden");
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => t.classList.add("hidden"), kind === "error" ? 6000 : 2500);
}

/** Fills the page header's identity line and logout button. */
export function showIdentity(id) {
  const who = document.getElementById("whoami");
  if (who) who.textContent = (id.name ? id.name + " · " : "") + id.role;
  const out = document.getElementById("logout");
  if (out) out.addEventListener("click", logout);
  const title = document.getElementById("event-slug");
  if (title) title.textContent = slug;
}

/** Reflects a ws.js status on the page's .conn indicator. */
export function showConn(status) {
  const c = document.getElementById("conn");
  if (!c) return;
  c.dataset.status = status;
  c.textContent = status;
}

/** Puts the event's title in the header once known. */
export async function loadTitle() {
  try {
    const info = await api("GET", apiRoot);
    const t = document.getElementById("event-title");
    if (t && info && info.title) t.textContent = info.title;
    if (info && info.display && info.display.theme) document.documentElement.dataset.theme = info.display.theme;
  } catch (e) {
    /* the title is a nicety */
  }
}
