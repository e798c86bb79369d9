// Who is on duty now at the reader's desk, primary and backup, on the main screen: since when,
// until when, and their phone where the reader may see it (GET /v1/countries/{cc} names the
// country's contact points, with phones, to its own desk, its NCB and the global desk). The
// panel reads again at the next shift boundary it can see (an end of a shift now, or a start
// in the next days), not on a clock tick; and every quarter of an hour, for what someone else
// changed meanwhile (a cover added for tonight).

import { ApiError, api, query } from "./api.js";
import { el, me } from "./dom.js";

const panel = document.getElementById("on-duty-panel");
// Re-read at least this often: a roster edited elsewhere changes who is on duty.
const RECHECK = 15 * 60 * 1000;
// How far ahead to look for the next hand-off when a layer has nobody on duty now.
const LOOK_AHEAD = 7 * 24 * 3600 * 1000;
// setTimeout's longest delay (2^31 - 1 ms, 24.8 days): longer ones fire at once.
const MAX_DELAY = 2147483647;
let timer = null;

function clock(iso, zone) {
  const at = new Date(iso);
  const today = new Intl.DateTimeFormat("en-CA", { timeZone: zone }).format(new Date());
  const day = new Intl.DateTimeFormat("en-CA", { timeZone: zone }).format(at);
  const options = day === today ? { hour: "2-digit", minute: "2-digit" } : { weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" };
  return el("time", { datetime: at.toISOString(), title: at.toISOString() }, new Intl.DateTimeFormat(undefined, { timeZone: zone, ...options }).format(at));
}

function person(layer, duty, phones, zone) {
  const label = layer === "primary" ? "Primary" : "Backup";
  if (!duty) {
    return [el("dt", {}, label), el("dd", { id: `now-${layer}`, class: "gap" }, "No one on duty")];
  }
  const phone = phones.get(duty.principal_id);
  const via = duty.source === "rotation" ? "" : ` (${duty.source})`;
  return [
    el("dt", {}, label),
    el(
      "dd",
      { id: `now-${layer}`, dataset: { principalId: duty.principal_id } },
      el("strong", {}, duty.name),
      via,
      el("span", { class: "since" }, " since ", clock(duty.starts_at, zone)),
      el("span", { class: "until" }, ", until ", clock(duty.ends_at, zone)),
      phone ? el("span", { class: "phone" }, " · ", el("a", { href: `tel:${phone.replace(/[^+\d]/g, "")}` }, phone)) : null,
    ),
  ];
}

// The phones of the country's contact points, where the reader may see them; none otherwise.
async function phonesOf(country) {
  try {
    const detail = await api(`/v1/countries/${encodeURIComponent(country)}`);
    return new Map((detail.contact_points ?? []).filter((p) => p.phone).map((p) => [p.id, p.phone]));
  } catch (error) {
    if (error instanceof ApiError && error.status !== 401) return new Map();
    throw error;
  }
}

// The earliest instant after now at which who is on duty may change.
async function nextChange(country, onDuty) {
  const now = Date.parse(onDuty.at);
  const ends = [onDuty.primary, onDuty.backup].filter(Boolean).map((duty) => Date.parse(duty.ends_at));
  let starts = [];
  if (!onDuty.primary || !onDuty.backup) {
    const span = { from: new Date(now).toISOString(), to: new Date(now + LOOK_AHEAD).toISOString() };
    const shifts = await api(query(`/v1/countries/${encodeURIComponent(country)}/roster/shifts`, span));
    starts = shifts.items.map((shift) => Date.parse(shift.starts_at)).filter((start) => start > now);
  }
  const after = [...ends, ...starts].filter((instant) => instant > now);
  return after.length ? Math.min(...after) : null;
}

function schedule(at) {
  clearTimeout(timer);
  // A few hundred ms past the boundary, so the server's clock has passed it too.
  const delay = at === null ? RECHECK : Math.min(Math.max(at - Date.now() + 500, 1000), RECHECK, MAX_DELAY);
  timer = setTimeout(load, delay);
}

async function load() {
  const country = me.country;
  const status = document.getElementById("on-duty-status");
  try {
    const [onDuty, phones] = await Promise.all([api(`/v1/countries/${encodeURIComponent(country)}/on-duty`), phonesOf(country)]);
    const zone = onDuty.time_zone;
    document.getElementById("on-duty-now").replaceChildren(...person("primary", onDuty.primary, phones, zone), ...person("backup", onDuty.backup, phones, zone));
    document.getElementById("on-duty-zone").textContent = `${country} desk, times in ${zone}`;
    const next = await nextChange(country, onDuty);
    panel.dataset.nextChange = next === null ? "" : new Date(next).toISOString();
    status.replaceChildren(...(next === null ? ["No hand-off planned in the next 7 days."] : ["Next hand-off ", clock(new Date(next).toISOString(), zone), "."]));
    panel.hidden = false;
    schedule(next);
  } catch (error) {
    status.textContent = `Who is on duty could not be read: ${error.message}`;
    panel.hidden = false;
    schedule(null);
  } finally {
    panel.dataset.loaded = "true";
  }
}

if (panel) {
  load();
  // A laptop that slept misses its timer: on waking, read again if a hand-off went by.
  document.addEventListener("visibilitychange", () => {
    const due = Date.parse(panel.dataset.nextChange || "");
    if (document.visibilityState === "visible" && Number.isFinite(due) && Date.now() >= due) load();
  });
}
