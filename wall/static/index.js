// index.js: shows each event's time in the reader's own time zone (the server writes UTC), in
// the list with the zone named ("GMT", "CEST") and in the map's tooltips, and fits each
// tooltip's box to its text.

const opts = { weekday: "short", day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit" };
// The map's tooltips are short: the zone is named in the list beside them.
const zoned = { ...opts, timeZoneName: "short" };
for (const t of document.querySelectorAll("time[data-start], time[data-end], .event-map .when")) {
  const s = t.dataset.start ? new Date(t.dataset.start) : null;
  const e = t.dataset.end ? new Date(t.dataset.end) : null;
  const o = t.closest(".event-map") ? opts : zoned;
  const f = (d) => d.toLocaleString(undefined, o);
  if (s && e && !isNaN(s) && !isNaN(e)) t.textContent = f(s) + " – " + f(e);
  else if (s && !isNaN(s)) t.textContent = "from " + f(s);
  else if (e && !isNaN(e)) t.textContent = "until " + f(e);
}

// The server guesses a tooltip's width from its text's length; measure it
// and keep the box inside the map (tooltips are hidden, not undisplayed,
// so their text has a size).
const map = document.querySelector(".event-map");
if (map) {
  const width = map.viewBox.baseVal.width;
  for (const pin of map.querySelectorAll(".pin")) {
    const tip = pin.querySelector(".tip");
    const text = tip.querySelector("text");
    const rect = tip.querySelector("rect");
    const pad = Number(text.getAttribute("x"));
    const w = Math.min(width - 8, text.getBBox().width + 2 * pad);
    if (!(w > 0)) continue;
    const x = Number(pin.dataset.x);
    const tx = Math.max(4 - x, Math.min(width - 4 - w - x, -w / 2));
    rect.setAttribute("width", w.toFixed(1));
    const ty = tip.transform.baseVal.consolidate().matrix.f;
    tip.setAttribute("transform", `translate(${tx.toFixed(1)} ${ty})`);
  }
}
