// "Subscribe to my shifts": a calendar application's link to the reader's own shifts
// (POST /v1/me/calendar-feed). The link is its own credential, so the service keeps only a
// hash of it and shows it this once: the page shows it with copy buttons until it is left,
// and afterwards only that one exists, to replace or revoke.

import { api, attempt } from "./api.js";
import { el, time } from "./dom.js";

const section = document.getElementById("calendar-feed");
const FEED = "/v1/me/calendar-feed";

function status(text) {
  document.getElementById("feed-status").textContent = text;
}

function copyable(id, label, value) {
  const input = el("input", { id, type: "text", readonly: true, value, size: 60, class: "feed-link" });
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(value);
      status(`${label} copied.`);
    } catch {
      input.select();
      status(`Select the ${label.toLowerCase()} and copy it (Ctrl+C).`);
    }
  };
  return el("p", {}, el("label", { for: id }, label), input, " ", el("button", { type: "button", class: "secondary", onclick: copy }, `Copy ${label.toLowerCase()}`));
}

function render(feed, issued = null) {
  const body = document.getElementById("feed-body");
  const parts = [];
  if (issued) {
    parts.push(
      el("p", { class: "notice" }, "Shown this once: copy it now. Anyone with the link sees your shifts; replace or revoke it if it leaks."),
      el("p", {}, el("a", { id: "feed-webcal", href: issued.webcal_url }, "Open in my calendar application")),
      copyable("feed-webcal-link", "Calendar link (webcal)", issued.webcal_url),
      copyable("feed-https-link", "Web link (https)", issued.url),
    );
  } else if (feed.active) {
    parts.push(el("p", { id: "feed-active" }, "You have a subscription link, made ", time(feed.created_at), `, ${feed.prefix}…`, ". It is shown only when made: replace it to see a new one."));
  } else {
    parts.push(el("p", { id: "feed-none" }, "You have no subscription link."));
  }
  const buttons = el("p", { class: "buttons" }, el("button", { type: "button", id: "feed-issue", onclick: issue }, feed.active ? "Replace the link" : "Make a subscription link"));
  if (feed.active) buttons.append(el("button", { type: "button", id: "feed-revoke", class: "secondary", onclick: revoke }, "Revoke the link"));
  body.replaceChildren(...parts, buttons);
}

// A refusal is shown in the section, beside the buttons (api.js attempt).
async function issue() {
  await attempt(section, async () => {
    const issued = await api(FEED, { method: "POST" });
    render(issued, issued);
    status("A new subscription link was made; the one before, if any, stopped working.");
  });
}

async function revoke() {
  await attempt(section, async () => {
    await api(FEED, { method: "DELETE" });
    render({ active: false });
    status("The subscription link was revoked: calendars using it get nothing more.");
  });
}

async function start() {
  try {
    render(await api(FEED));
  } catch (error) {
    status(error.message);
  } finally {
    section.dataset.loaded = "true";
  }
}

if (section) start();
