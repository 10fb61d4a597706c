// moderate-settings.js: the settings panel (key s): the moderation mode, the event's title and
// the wall's display (layout, theme, avatars, handles, brand colour, logo),
// read and written with GET/POST /api/events/{slug}/settings; others' changes arrive on the
// socket (effect.settings) and are shown, in the form too if it is open. A value the server
// refuses (event/display.go's rules) is said under the form, which stays open.

import { api, toast } from "/static/staff.js";
import { setText } from "/static/moderate-cards.js";

let settings = null; // the event's settings as they stand (SettingsView)

const $ = (id) => document.getElementById(id);

const LAYOUT_DEFAULT = "default";

function describeSettings(v) {
  const d = (v && v.display) || {};
  return [
    v.moderation === "auto" ? "Auto-approve" : "Pre-moderation",
    "layout " + (d.layout || LAYOUT_DEFAULT),
    "theme " + (d.theme || LAYOUT_DEFAULT),
    d.show_avatars === "false" ? "no avatars" : "avatars",
    d.show_handles === "false" ? "no handles" : "handles",
    d.brand_colour ? "brand " + d.brand_colour : "",
    d.logo ? "logo" : "",
  ].filter(Boolean).join(" · ");
}

// applySettings takes the settings as they now stand (from the snapshot, the socket or a POST's
// answer) and shows them; by says who changed them, when it was someone else.
export function applySettings(v, by) {
  if (!v) return;
  settings = v;
  document.body.dataset.moderation = v.moderation || "";
  document.body.dataset.wallLayout = (v.display && v.display.layout) || "";
  setText($("settings-summary"), describeSettings(v));
  $("mode-badge").classList.toggle("hidden", v.moderation !== "auto");
  if (v.title) setText($("event-title"), v.title);
  if (by && !$("settings-dialog").classList.contains("hidden")) {
    // The form shows what stands now; a moderator half-way through a change is told why it moved.
    fillSettings();
    const note = $("settings-note");
    note.textContent = by + " changed the settings meanwhile: the form shows them now.";
    note.classList.remove("hidden");
  }
}

function fillSettings() {
  const v = settings || { moderation: "pre" };
  const d = v.display || {};
  $("settings-pre").checked = v.moderation !== "auto";
  $("settings-auto").checked = v.moderation === "auto";
  $("settings-layout").value = d.layout || "";
  $("settings-theme").value = d.theme || "";
  $("settings-avatars").checked = d.show_avatars !== "false";
  $("settings-handles").checked = d.show_handles !== "false";
  $("settings-event-title").value = v.title || "";
  $("settings-brand").value = d.brand_colour || "";
  $("settings-brand-pick").value = /^#[0-9a-fA-F]{6}$/.test(d.brand_colour || "") ? d.brand_colour : "#1a7f5a";
  $("settings-logo").value = d.logo || "";
  showError("");
  disarmAuto();
}

function showError(msg) {
  $("settings-error").textContent = msg;
  $("settings-error").classList.toggle("hidden", !msg);
}

/** Keeps the colour picker and the colour's text in step. */
export function wireBrand() {
  $("settings-brand-pick").addEventListener("input", () => { $("settings-brand").value = $("settings-brand-pick").value; });
  $("settings-brand").addEventListener("input", () => {
    const v = $("settings-brand").value.trim();
    if (/^#[0-9a-fA-F]{6}$/.test(v)) $("settings-brand-pick").value = v;
  });
}

export function disarmAuto() {
  $("settings-confirm").classList.add("hidden");
  $("settings-save").textContent = "Save";
  delete $("settings-save").dataset.armed;
}

// openSettings shows the panel filled with the settings as the socket last said (its snapshot
// carries them, its events every change), so nothing is read again that could overwrite what
// the moderator starts changing; only a page that has none yet asks for them first.
export async function openSettings() {
  if (!settings) {
    try {
      applySettings(await api("GET", "settings"));
    } catch (e) {
      toast("Could not read the settings: " + e.message, "error");
      return;
    }
  }
  $("settings-note").classList.add("hidden");
  fillSettings();
  $("settings-dialog").classList.remove("hidden");
  (settings.moderation === "auto" ? $("settings-auto") : $("settings-pre")).focus();
}

export function closeSettings() {
  $("settings-dialog").classList.add("hidden");
  disarmAuto();
  $("list").focus({ preventScroll: true });
}

// settingsChange is the POST body: only what the form changed.
function settingsChange() {
  const cur = settings || { moderation: "pre" };
  const d = cur.display || {};
  const change = {};
  const mode = $("settings-auto").checked ? "auto" : "pre";
  if (mode !== cur.moderation) change.moderation = mode;
  const display = {};
  if ($("settings-layout").value !== (d.layout || "")) display.layout = $("settings-layout").value;
  if ($("settings-theme").value !== (d.theme || "")) display.theme = $("settings-theme").value;
  const avatars = String($("settings-avatars").checked);
  if (avatars !== (d.show_avatars === "false" ? "false" : "true")) display.show_avatars = avatars;
  const handles = String($("settings-handles").checked);
  if (handles !== (d.show_handles === "false" ? "false" : "true")) display.show_handles = handles;
  const brand = $("settings-brand").value.trim();
  if (brand !== (d.brand_colour || "")) display.brand_colour = brand;
  const logo = $("settings-logo").value.trim();
  if (logo !== (d.logo || "")) display.logo = logo;
  if (Object.keys(display).length) change.display = display;
  const title = $("settings-event-title").value.trim();
  if (title && title !== (cur.title || "")) change.title = title;
  return change;
}

export async function saveSettings(ev) {
  ev.preventDefault();
  const change = settingsChange();
  if (!Object.keys(change).length) {
    closeSettings();
    return;
  }
  // Switching to auto-approve puts posts on the projected wall with nobody looking first: the
  // first press says so, the second switches.
  const save = $("settings-save");
  if (change.moderation === "auto" && !save.dataset.armed) {
    save.dataset.armed = "1";
    save.textContent = "Yes, switch to auto-approve";
    $("settings-confirm").classList.remove("hidden");
    save.focus();
    return;
  }
  try {
    applySettings(await api("POST", "settings", change));
    closeSettings();
    toast(change.moderation === "auto" ? "Auto-approve is on: posts the rules pass go straight to the wall."
      : change.moderation === "pre" ? "Pre-moderation is on: every post waits for a moderator." : "Settings saved.");
  } catch (e) {
    // The server's words (event/display.go's rules), beside the fields: the form stays open.
    showError("Not saved: " + e.message);
    toast("Settings not saved: " + e.message, "error");
  }
}
