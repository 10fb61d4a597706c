// login.js: the login page's form. It posts the name and passphrase as JSON and goes on to
// ?next= (a page of this event); without script the form posts itself (login.html).

import { slug, pageURL } from "/static/staff.js";

function initLogin() {
  const form = document.getElementById("login-form");
  const err = document.getElementById("login-error");
  const params = new URLSearchParams(location.search);
  const next = params.get("next") || pageURL("moderate");
  document.getElementById("login-next").value = next;
  document.getElementById("login-event").textContent = "Staff log in for " + slug;
  if (params.get("failed")) showErr("Wrong name or password.");

  function showErr(msg) {
    err.textContent = msg;
    err.classList.remove("hidden");
  }

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    err.classList.add("hidden");
    const btn = document.getElementById("login-submit");
    btn.disabled = true;
    try {
      const r = await fetch(pageURL("login"), {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify({
          name: document.getElementById("login-name").value.trim(),
          password: document.getElementById("login-password").value,
          next,
        }),
      });
      if (r.ok) {
        // Only a page of this event: the server would refuse anything else anyway.
        location.assign(next.startsWith(pageURL("")) ? next : pageURL("moderate"));
        return;
      }
      let msg = "Login failed (" + r.status + ").";
      try {
        const body = await r.json();
        if (body && body.error && body.error.message) msg = body.error.message;
      } catch (e) { /* keep the generic message */ }
      if (r.status === 401) msg = "Wrong name or password.";
      if (r.status === 429) msg = "Too many attempts: wait " + (r.headers.get("Retry-After") || "a few") + " seconds and try again.";
      showErr(msg);
    } catch (e) {
      showErr("The server cannot be reached: " + e.message);
    } finally {
      btn.disabled = false;
    }
  });
  document.getElementById(document.getElementById("login-name").value ? "login-password" : "login-name").focus();
}

initLogin();
