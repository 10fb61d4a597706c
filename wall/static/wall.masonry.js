// wall.masonry.js: lays the wall's cards out in columns that fill the posts area with whole
// posts (the grid and column layouts), and fits one big post into it (spotlight and ticker).
//
//   import { createMasonry, fitCard } from "/static/wall.masonry.js";
//   const m = createMasonry(container, () => layout);  // layout: "grid" | "column" | other
//   m.schedule();   // lay out again on the next frame (after the feed changed)
//   m.now();        // lay out at once (other layouts: fit the .current card to the area)
//   fitCard(card, maxHeight)  // shrinks one card's text until it fits maxHeight
//
// Why JavaScript: CSS columns with break-inside: avoid push a card that does not fit to an
// off-screen column and leave the gap (a quarter of the screen at 1080p), and cutting long
// posts after a few lines hides what people wrote. Here each card, newest first, goes to the
// shortest column it fits in wholly; a card that fits nowhere waits off screen while older,
// shorter ones fill the gaps; a long post spans two columns rather than being cut, and only
// one taller than the whole area has its text scaled down. In the grid the cards of each
// column then share what is left at its foot, so the screen is filled edge to edge.
// The cards stay where feed.js puts them in the DOM (its order is the wall's order); only
// their position and size are set here. document.body.dataset.layoutPending is set while a
// layout is scheduled, for tests.

const GAP_EM = 0.6;
const MIN_COLUMN_EM = 13;
const COLUMN_MAX_EM = 34;
// A card taller than this share of the area tries two columns, to read as fewer, longer lines.
const SPAN_OVER = 0.5;
// The grid stretches a column's cards only when what is left is less than this share.
const STRETCH_UNDER = 0.35;
// Text is never scaled below this share of its size.
const MIN_SCALE = 0.45;

/**
 * Makes card fit maxHeight: with widen, first by letting it take the area's whole width (a
 * long post in the spotlight reads as fewer, longer lines at its full size), then by shrinking
 * its font size in steps (to MIN_SCALE at the least).
 */
export function fitCard(card, maxHeight, widen = false) {
  card.style.fontSize = "";
  card.style.maxWidth = "";
  let scale = 1;
  let h = card.offsetHeight;
  // The layout's own size for the card (the spotlight's is 1.5em): scaling starts from it.
  const base = parseFloat(getComputedStyle(card).fontSize);
  if (h > maxHeight && widen) {
    card.style.maxWidth = "none";
    h = card.offsetHeight;
  }
  while (h > maxHeight && scale > MIN_SCALE) {
    // Height falls faster than the size (shorter lines hold more words): a square root step
    // overshoots less than a linear one.
    scale = Math.max(MIN_SCALE, scale * Math.min(0.95, Math.sqrt(maxHeight / h)));
    card.style.fontSize = base * scale + "px";
    h = card.offsetHeight;
  }
  card.classList.toggle("scaled", scale < 1);
  return scale;
}

function reset(card) {
  card.classList.remove("off", "scaled");
  for (const p of ["position", "left", "top", "width", "height", "fontSize", "maxWidth"]) card.style[p] = "";
}

export function createMasonry(container, layoutOf) {
  let frame = 0;

  function schedule() {
    if (frame) return;
    document.body.dataset.layoutPending = "1";
    frame = requestAnimationFrame(() => { frame = 0; now(); });
  }

  function now() {
    if (frame) { cancelAnimationFrame(frame); frame = 0; }
    delete document.body.dataset.layoutPending;
    const layout = layoutOf();
    const cards = Array.from(container.children);
    if (layout !== "grid" && layout !== "column") {
      // One big post (.current) at a time: it is fitted to the area, the others wait as they are.
      container.classList.remove("masonry");
      for (const c of cards) reset(c);
      const cur = container.querySelector(".post.current");
      if (cur && container.clientHeight) fitCard(cur, container.clientHeight, true);
      return;
    }
    container.classList.add("masonry");
    const em = parseFloat(getComputedStyle(container).fontSize) || 16;
    const gap = GAP_EM * em;
    const W = container.clientWidth;
    const H = container.clientHeight;
    if (!W || !H) return;
    let cols = 1;
    let colW = Math.min(W, COLUMN_MAX_EM * em);
    if (layout === "grid") {
      cols = Math.max(1, Math.floor((W + gap) / (MIN_COLUMN_EM * em + gap)));
      colW = (W - gap * (cols - 1)) / cols;
    }
    const x0 = layout === "column" ? (W - colW) / 2 : 0;
    const span2W = colW * 2 + gap;

    // Measure every card at one column's width in one pass (one reflow, not one per card).
    for (const c of cards) {
      reset(c);
      c.style.position = "absolute";
      c.style.width = colW + "px";
    }
    const heights = cards.map((c) => c.offsetHeight);

    const tops = new Array(cols).fill(0);
    const placed = Array.from({ length: cols }, () => []); // per column: {card, top, h, span}
    cards.forEach((c, i) => {
      let h = heights[i];
      let span = 1;
      if (cols >= 2 && h > H * SPAN_OVER) {
        c.style.width = span2W + "px";
        const h2 = c.offsetHeight;
        if (h2 < h) { span = 2; h = h2; } else c.style.width = colW + "px";
      }
      if (h > H) h = (fitCard(c, H), c.offsetHeight);
      // The column (or pair of columns) whose top is lowest, among those the card fits in.
      let best = -1;
      let bestTop = Infinity;
      for (let k = 0; k + span <= cols; k++) {
        const top = span === 2 ? Math.max(tops[k], tops[k + 1]) : tops[k];
        if (top + h <= H + 0.5 && top < bestTop) { best = k; bestTop = top; }
      }
      if (best < 0) { c.classList.add("off"); return; }
      c.style.left = x0 + best * (colW + gap) + "px";
      c.style.top = bestTop + "px";
      for (let k = best; k < best + span; k++) {
        tops[k] = bestTop + h + gap;
        placed[k].push({ card: c, top: bestTop, h, span });
      }
    });

    if (layout !== "grid") return;
    // Fill each column to the bottom: the single-column cards below its last two-column card
    // share what is left, each moved down by what the ones above it grew.
    for (let k = 0; k < cols; k++) {
      const list = placed[k];
      let from = 0;
      list.forEach((p, j) => { if (p.span === 2) from = j + 1; });
      const mine = list.slice(from);
      const left = H - (tops[k] - gap);
      if (!mine.length || left <= 0 || left > H * STRETCH_UNDER) continue;
      const extra = left / mine.length;
      mine.forEach((p, j) => {
        p.card.style.top = p.top + extra * j + "px";
        p.card.style.height = p.h + extra + "px";
      });
    }
  }

  new ResizeObserver(schedule).observe(container);
  // An image that loads changes its card's height.
  container.addEventListener("load", schedule, true);
  if (document.fonts) document.fonts.ready.then(schedule);
  return { schedule, now };
}
