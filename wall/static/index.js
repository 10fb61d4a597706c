// index.js: shows each event's time in the reader's own time zone (the server writes UTC).

const opts = { weekday: "short", day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit" };
for (const t of document.querySelectorAll("time[data-start], time[data-end]")) {
  const s = t.dataset.start ? new Date(t.dataset.start) : null;
  const e = t.dataset.end ? new Date(t.dataset.end) : null;
  const f = (d) => d.toLocaleString(undefined, opts);
  if (s && e && !isNaN(s) && !isNaN(e)) t.textContent = f(s) + " – " + f(e);
  else if (s && !isNaN(s)) t.textContent = "from " + f(s);
  else if (e && !isNaN(e)) t.textContent = "until " + f(e);
}
