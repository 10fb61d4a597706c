// ws.js: the reconnecting websocket client every screen uses (docs/PROTOCOL.md).
//
// API (kept backward compatible; the staff pages use it too):
//
//   import { connect } from "/static/ws.js";
//   const sock = connect(url, {
//     onMessage(msg) {},        // each message of each frame, in order ("snapshot", "resume", "event", ...)
//     onStatus(status, info) {},// "connecting" | "live" | "reconnecting" | "offline"; info = {attempt, delayMs, code, reason}
//     offlineAfterMs: 15000,    // "reconnecting" becomes "offline" after this long without a connection
//   });
//   sock.close();               // stops for good: no reconnect, timers and listeners dropped
//   sock.position()             // {pos, epoch} of the last message handled
//
// url is a path such as "/api/events/ev/ws" (made absolute with ws:/wss:) or a full ws URL.
// The client remembers the last pos and the epoch of the last snapshot/resume and sends them as
// ?since=&epoch= on every reconnect, so the server answers with exactly what was missed (or a
// fresh snapshot).
//
// Reconnecting: the first retry comes after 0–0.5 s (a node's deploy or restart drops every
// socket in the same millisecond; the jitter spreads them), every later one after 0.5–1.5 s,
// uniformly at random, for as long as the server is down. No growing backoff: a wall must be
// live again within a few seconds of its server answering. Worst case, from the moment the
// server answers: 1.5 s of wait (an attempt was refused just before) plus the handshake; an
// attempt that hangs (packets dropped, not refused) is given up after OPEN_WITHIN_MS, so a
// dead network path costs at most 6 s + 1.5 s. A refused attempt is one TCP SYN (server down)
// or one small HTTP request (a proxy answering 502), and N walls spread evenly over a second
// are N/s such probes: 5,000 walls make ~5,000 cheap requests a second, never a burst.
// A {"type":"ping"} every 20 s that gets no frame back within 10 s closes the socket: a
// venue's wifi can drop without the browser noticing for minutes.
// onMessage runs inside a try/catch so one bad message cannot stop the stream.
// A close with 4002 (rebalance: the connection reached its age on the server, see
// docs/PROTOCOL.md) reconnects at once and quietly, without a "reconnecting" status: the
// load balancer may pick another node, which is how clients spread out again after a restart.

const PING_EVERY_MS = 20000;
const PONG_WITHIN_MS = 10000;
// The first retry waits 0..FIRST_RETRY_MS; each later one RETRY_MS ± RETRY_JITTER_MS.
const FIRST_RETRY_MS = 500;
const RETRY_MS = 1000;
const RETRY_JITTER_MS = 500;
const OPEN_WITHIN_MS = 6000;

/** The wait before retry number attempt (1 = the first after a drop), in ms. */
export function retryDelay(attempt, random = Math.random) {
  if (attempt <= 1) return random() * FIRST_RETRY_MS;
  return RETRY_MS - RETRY_JITTER_MS + random() * 2 * RETRY_JITTER_MS;
}

const CLOSE_REBALANCE = 4002;
const REBALANCE_WITHIN_MS = 250;

/** Builds the absolute websocket URL for a path on this page's server. */
export function wsURL(path) {
  if (/^wss?:/.test(path)) return path;
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return scheme + "//" + location.host + path;
}

/** Opens a resuming websocket to url; see the comment at the top of this file. */
export function connect(url, handlers = {}) {
  const onMessage = handlers.onMessage || (() => {});
  const onStatus = handlers.onStatus || (() => {});
  const offlineAfterMs = handlers.offlineAfterMs || 15000;
  let pos = 0;
  let epoch = "";
  let ws = null;
  let attempt = 0;
  let closed = false;
  let retryTimer = 0;
  let pingTimer = 0;
  let pongTimer = 0;
  let offlineTimer = 0;
  let openTimer = 0;
  let status = "";
  let quiet = false; // the current attempt is a rebalance: no status change unless it fails

  function setStatus(s, info = {}) {
    if (s === status && s !== "reconnecting") return;
    status = s;
    try { onStatus(s, info); } catch (e) { console.error("ws.js onStatus", e); }
  }

  function open() {
    if (closed) return;
    const u = new URL(wsURL(url));
    if (pos > 0 && epoch) {
      u.searchParams.set("since", String(pos));
      u.searchParams.set("epoch", epoch);
    }
    if (!quiet) setStatus(attempt === 0 ? "connecting" : "reconnecting", { attempt });
    quiet = false;
    let sock;
    try {
      sock = new WebSocket(u.toString());
    } catch (e) {
      schedule({ code: 0, reason: String(e) });
      return;
    }
    ws = sock;
    // A handshake that neither opens nor fails (packets dropped on the way) is given up, so
    // the next attempt is not held behind the browser's own minutes-long connect timeout.
    openTimer = setTimeout(() => {
      if (sock !== ws || sock.readyState === WebSocket.OPEN) return;
      drop();
      try { sock.close(); } catch (e) { /* ignore */ }
      schedule({ code: 0, reason: "no answer within " + OPEN_WITHIN_MS + " ms" });
    }, OPEN_WITHIN_MS);
    sock.onopen = () => {
      if (sock !== ws) return;
      clearTimeout(openTimer);
      openTimer = 0;
      attempt = 0;
      clearTimeout(offlineTimer);
      offlineTimer = 0;
      setStatus("live", {});
      pingTimer = setInterval(ping, PING_EVERY_MS);
    };
    sock.onmessage = (ev) => {
      if (sock !== ws) return;
      clearTimeout(pongTimer);
      pongTimer = 0;
      let msgs;
      try {
        msgs = JSON.parse(ev.data);
      } catch (e) {
        console.error("ws.js: frame is not JSON", e);
        return;
      }
      if (!Array.isArray(msgs)) msgs = [msgs];
      for (const m of msgs) {
        if (!m || typeof m !== "object") continue;
        if ((m.type === "snapshot" || m.type === "resume") && m.epoch) epoch = m.epoch;
        try { onMessage(m); } catch (e) { console.error("ws.js onMessage", e); }
        if (typeof m.pos === "number" && m.pos > pos) pos = m.pos;
        if (m.type === "snapshot" && typeof m.pos === "number") pos = m.pos;
      }
    };
    sock.onclose = (ev) => {
      if (sock !== ws) return;
      drop();
      if (ev.code === CLOSE_REBALANCE && !closed) {
        quiet = true;
        clearTimeout(retryTimer);
        retryTimer = setTimeout(open, Math.random() * REBALANCE_WITHIN_MS);
        return;
      }
      schedule({ code: ev.code, reason: ev.reason });
    };
    sock.onerror = () => { /* onclose follows */ };
  }

  function ping() {
    if (!ws || ws.readyState !== WebSocket.OPEN) return;
    try { ws.send('{"type":"ping"}'); } catch (e) { /* onclose follows */ }
    if (!pongTimer) {
      pongTimer = setTimeout(() => {
        // Nothing came back: the line is dead even if the browser has not noticed.
        const s = ws;
        drop();
        try { s.close(4001, "no pong"); } catch (e) { /* ignore */ }
        schedule({ code: 4001, reason: "no pong" });
      }, PONG_WITHIN_MS);
    }
  }

  function drop() {
    clearInterval(pingTimer);
    clearTimeout(pongTimer);
    clearTimeout(openTimer);
    pingTimer = pongTimer = openTimer = 0;
    if (ws) {
      ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
    }
    ws = null;
  }

  function schedule(info) {
    if (closed) return;
    clearTimeout(retryTimer);
    attempt++;
    const delayMs = retryDelay(attempt);
    setStatus("reconnecting", { attempt, delayMs, code: info.code, reason: info.reason });
    if (!offlineTimer) {
      offlineTimer = setTimeout(() => { offlineTimer = 0; if (!closed && status !== "live") setStatus("offline", { attempt }); }, offlineAfterMs);
    }
    retryTimer = setTimeout(open, delayMs);
  }

  // The browser tells us when the network comes back: try at once instead of waiting out the backoff.
  function onOnline() {
    if (closed || ws) return;
    clearTimeout(retryTimer);
    open();
  }
  window.addEventListener("online", onOnline);

  open();

  return {
    close() {
      closed = true;
      clearTimeout(retryTimer);
      clearTimeout(offlineTimer);
      window.removeEventListener("online", onOnline);
      const s = ws;
      drop();
      if (s) try { s.close(1000, "bye"); } catch (e) { /* ignore */ }
    },
    position() { return { pos, epoch }; },
  };
}
