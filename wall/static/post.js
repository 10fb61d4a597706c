// post.js: one post as a card (article.post, styled by common.css).
//
//   import { renderPost, safeHTML } from "/static/post.js";
//   const el = renderPost(post, { avatars: true, handles: true, captions: false });
//
// post is a fold.PublicPost as the websocket sends it (redacted/revised: a note says the
// moderators hid parts of it or rewrote it). Its html was sanitised on the server;
// safeHTML parses it in an inert <template> and keeps only an allowlist of elements and
// attributes anyway, so nothing this page does can re-introduce script. Everything else
// (names, handles, alt text, warnings) goes in through textContent.

import { timeElement } from "/static/time.js";

const SOURCES = {
  mastodon: "Mastodon",
  bluesky: "Bluesky",
  form: "Web form",
  rss: "Feed",
  rehearsal: "Rehearsal",
  x: "X",
};

// X's display requirements (docs/SOURCES-X.md): every X post shows the author's avatar, display
// name and @username, its text unaltered, its time linked to the post, the X mark and a link to
// the post, whatever the screen's avatar and handle options say.
const isX = (p) => p.source === "x";

const ALLOWED = new Set(["P", "BR", "A", "SPAN", "IMG", "STRONG", "EM", "B", "I", "U", "S", "DEL",
  "CODE", "PRE", "BLOCKQUOTE", "UL", "OL", "LI"]);
const ATTRS = { A: ["href", "class", "title"], IMG: ["src", "alt", "title", "class", "width", "height"],
  SPAN: ["class"], P: ["class"] };

/** Reports whether u is a URL the page may load or link: https (or http for links), or this server's path. */
export function safeURL(u, allowHTTP = false) {
  if (typeof u !== "string" || u === "") return false;
  if (u.startsWith("/") && !u.startsWith("//")) return true;
  try {
    const p = new URL(u).protocol;
    return p === "https:" || (allowHTTP && p === "http:");
  } catch (e) {
    return false;
  }
}

/** Parses server-sanitised HTML into a fragment, keeping only the allowlisted markup. */
export function safeHTML(html) {
  const tpl = document.createElement("template");
  tpl.innerHTML = html || "";
  clean(tpl.content);
  return tpl.content;
}

/** The plain text of server-sanitised HTML (the public socket sends a post's body only as html). */
export function plainText(html) {
  const f = safeHTML(html);
  for (const el of f.querySelectorAll("br, p, li, blockquote, pre")) el.after(" ");
  return f.textContent.replace(/\s+/g, " ").trim();
}

function clean(root) {
  for (const el of Array.from(root.children)) {
    if (!ALLOWED.has(el.tagName)) {
      // Unknown wrappers keep their text; script-like elements go whole.
      if (/^(SCRIPT|STYLE|IFRAME|OBJECT|EMBED|TEMPLATE|SVG|MATH|NOSCRIPT|FORM|INPUT|BUTTON|TEXTAREA|SELECT|LINK|META|BASE|FRAME|FRAMESET|VIDEO|AUDIO|SOURCE)$/i.test(el.tagName)) {
        el.remove();
        continue;
      }
      clean(el);
      el.replaceWith(...el.childNodes);
      continue;
    }
    const keep = ATTRS[el.tagName] || [];
    for (const a of Array.from(el.attributes)) {
      if (!keep.includes(a.name)) el.removeAttribute(a.name);
    }
    if (el.tagName === "A") {
      if (!safeURL(el.getAttribute("href"), true)) el.removeAttribute("href");
      el.target = "_blank";
      el.rel = "noopener noreferrer nofollow ugc";
      el.tabIndex = -1;
    }
    if (el.tagName === "IMG") {
      if (!safeURL(el.getAttribute("src"))) { el.remove(); continue; }
      el.referrerPolicy = "no-referrer";
      el.loading = "lazy";
      if (!el.classList.contains("emoji")) el.classList.add("emoji");
    }
    clean(el);
  }
}

function text(tag, cls, value) {
  const el = document.createElement(tag);
  if (cls) el.className = cls;
  el.textContent = value || "";
  return el;
}

/** Renders a post card; see the top of this file for opts. */
export function renderPost(p, opts = {}) {
  if (isX(p)) opts = { ...opts, avatars: true, handles: true };
  const a = p.author || {};
  const el = document.createElement("article");
  el.className = "post";
  el.dataset.id = p.id;
  el.lang = p.language || "";
  if (p.pinned) el.classList.add("pinned");
  if (p.sensitive) el.classList.add("sensitive");
  if (p.content_warning) el.classList.add("has-cw");
  if (isX(p)) el.classList.add("post-x");

  const head = document.createElement("header");
  head.className = "post-head";
  if (opts.avatars !== false && safeURL(a.avatar)) {
    const img = document.createElement("img");
    img.className = "avatar";
    img.alt = "";
    img.referrerPolicy = "no-referrer";
    img.loading = "lazy";
    img.decoding = "async";
    img.src = a.avatar;
    head.append(img);
  }
  const who = document.createElement("div");
  who.className = "who";
  who.append(text("span", "name", a.name || (opts.handles !== false ? a.handle : "") || "Someone"));
  if (opts.handles !== false && a.handle && a.name) who.append(text("span", "handle", a.handle));
  head.append(who);
  const meta = document.createElement("div");
  meta.className = "meta";
  if (p.pinned) meta.append(text("span", "pinned-badge", "Pinned"));
  if (p.question) meta.append(text("span", "question-badge", "Question"));
  if (p.created_at) {
    const t = timeElement(p.created_at);
    if (isX(p) && safeURL(p.url)) meta.append(link(p.url, t, "permalink"));
    else meta.append(t);
  }
  const src = SOURCES[p.source];
  if (src) {
    const icon = document.createElement("img");
    icon.className = "source";
    icon.src = "/static/img/" + p.source + ".svg";
    icon.alt = src;
    icon.title = src;
    meta.append(icon);
  }
  head.append(meta);
  el.append(head);

  // The moderators hid parts of it (each reads █████) or rewrote a web-form post: the room is
  // told, so a mark is never taken for the author's own words.
  const note = p.redacted && p.revised ? "Redacted and edited by the moderators"
    : p.redacted ? "Redacted by the moderators" : p.revised ? "Edited by the moderators" : "";
  if (p.content_warning) {
    // The warning alone: the body and media stay out of the page, not merely hidden.
    const cw = document.createElement("div");
    cw.className = "cw";
    cw.append(text("span", "cw-label", "Content warning"), text("span", "cw-text", p.content_warning));
    el.append(cw);
    if (note) el.append(text("p", "moderated-note", note));
    return el;
  }

  const body = document.createElement("div");
  body.className = "post-body";
  body.append(safeHTML(p.html));
  el.append(body);
  if (note) el.append(text("p", "moderated-note", note));
  if (isX(p) && safeURL(p.url)) {
    const foot = document.createElement("div");
    foot.className = "post-foot";
    foot.append(link(p.url, document.createTextNode("View on X"), "view-on-x"));
    el.append(foot);
  }

  const media = (p.media || []).filter((m) => safeURL(m.preview_url || m.url) && m.kind !== "audio");
  if (media.length) {
    const box = document.createElement("div");
    box.className = "media";
    for (const m of media.slice(0, 4)) {
      const fig = document.createElement("figure");
      fig.className = "media-item";
      const img = document.createElement("img");
      img.src = m.preview_url || m.url;
      img.alt = m.alt || "";
      img.referrerPolicy = "no-referrer";
      img.loading = "lazy";
      img.decoding = "async";
      fig.append(img);
      if (opts.captions && m.alt) fig.append(text("figcaption", "alt", m.alt));
      box.append(fig);
    }
    el.append(box);
  }
  return el;
}

function link(href, child, cls) {
  const a = document.createElement("a");
  a.href = href;
  a.className = cls;
  a.target = "_blank";
  a.rel = "noopener noreferrer";
  a.tabIndex = -1;
  a.append(child);
  return a;
}

// tickerItem renders one post as a ticker entry: the author's name (or
// handle, when handles are shown), then the text, or only the content
// warning when there is one. Text goes in as text, never as HTML.
export function tickerItem(p, showHandles) {
  const span = document.createElement("span");
  span.className = "ticker-item";
  const name = document.createElement("span");
  name.className = "t-name";
  name.textContent = (p.author && (p.author.name || (showHandles ? p.author.handle : ""))) || "Someone";
  span.append(name);
  if (isX(p)) {
    // X's rules hold on the ticker too: @username, the X mark and the time beside the name.
    if (p.author && p.author.handle) span.append(text("span", "t-handle", p.author.handle));
    const mark = document.createElement("img");
    mark.className = "source t-mark";
    mark.src = "/static/img/x.svg";
    mark.alt = "X";
    span.append(mark);
    if (p.created_at) span.append(timeElement(p.created_at));
  }
  if (p.content_warning) {
    const cw = document.createElement("span");
    cw.className = "t-cw";
    cw.textContent = "CW: " + p.content_warning;
    span.append(cw);
  } else {
    span.append(document.createTextNode(plainText(p.html)));
  }
  return span;
}
