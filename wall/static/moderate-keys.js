// moderate-keys.js: the moderator page's keys (docs/STAFF.md lists them). The open dialog
// (settings, block) takes the keys first; a field being typed in keeps them but Escape.

import { toggleCW } from "/static/staff.js";
import { selected, focused, move, setTab, scheduleRender } from "/static/moderate-queue.js";
import { cards } from "/static/moderate-cards.js";
import { closeSettings, openSettings } from "/static/moderate-settings.js";
import {
  approve, reject, pin, question, openBlock, hideMedia, undo, toggleSelect, bulkApprove, bulkReject, block,
  reverseOpen, answerReverse, redact, openRevise, reviseOpen, closeRevise,
} from "/static/moderate-actions.js";
import { goLiveOpen, closeGoLive } from "/static/moderate-golive.js";

const $ = (id) => document.getElementById(id);

let focusOnKeyUp = "";

export function onKeyUp() {
  if (!focusOnKeyUp) return;
  $(focusOnKeyUp).focus();
  focusOnKeyUp = "";
}

function typing(t) {
  return t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT" || t.isContentEditable);
}

export function onKey(ev) {
  if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
  if (reverseOpen()) {
    // The question about another moderator's decision takes every key: y changes it, n or
    // Escape leaves it. Nothing else happens until it is answered.
    ev.preventDefault();
    if (ev.key === "y") answerReverse(true);
    else if (ev.key === "n" || ev.key === "Escape") answerReverse(false);
    return;
  }
  if (goLiveOpen()) {
    if (ev.key === "Escape") {
      ev.preventDefault();
      closeGoLive();
    }
    return; // Tab and Enter work on the dialog's buttons
  }
  if (!$("settings-dialog").classList.contains("hidden")) {
    if (ev.key === "Escape") {
      ev.preventDefault();
      closeSettings();
    }
    return; // the form's own keys (tab, space, arrows) work as in any form
  }
  if (reviseOpen()) {
    if (ev.key === "Escape") {
      ev.preventDefault();
      closeRevise();
    }
    return; // typing in the text, Tab to the buttons
  }
  if (!$("block-dialog").classList.contains("hidden")) {
    const map = { "1": "60", "2": "1440", "3": "0", d: "domain", Escape: "cancel" };
    if (map[ev.key] !== undefined) {
      ev.preventDefault();
      block(map[ev.key]);
    }
    return;
  }
  if (typing(ev.target)) {
    if (ev.key === "Escape") {
      ev.target.blur();
      $("list").focus({ preventScroll: true });
    }
    return;
  }
  const keys = {
    j: () => move(1), ArrowDown: () => move(1), k: () => move(-1), ArrowUp: () => move(-1),
    a: approve, r: reject, p: pin, q: question, b: openBlock, h: hideMedia, u: undo,
    x: toggleSelect, A: bulkApprove, R: bulkReject,
    // d hides the text selected in the focused card, or every part the rules matched in it.
    d: () => {
      const p = focused();
      const c = p && cards.get(p.id);
      return redact(c && c.card);
    },
    e: openRevise,
    c: () => {
      const p = focused();
      const c = p && cards.get(p.id);
      if (!c) return;
      toggleCW(c.card);
      for (const v of c.card.querySelectorAll(".edit-version")) toggleCW(v); // an edit's own warning
    },
    // Focused on keyup, so the "m" itself is never typed into the field (some input paths
    // deliver the character after keydown, to whatever has focus by then).
    m: () => { focusOnKeyUp = "stage-input"; },
    s: openSettings,
    "1": () => setTab("queue"), "2": () => setTab("approved"), "3": () => setTab("rejected"), "4": () => setTab("pinned"),
    Escape: () => { selected.clear(); scheduleRender(); },
    "?": () => $("legend").classList.toggle("hidden"),
  };
  const f = keys[ev.key];
  if (!f) return;
  ev.preventDefault();
  f();
}
