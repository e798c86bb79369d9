// Readiness drills (GET /v1/drills, /v1/drills/results; POST and DELETE /v1/drills): each
// desk's results, the drills one by one with the measured time to acknowledge, a form to
// schedule more and a button to call off one not yet sent. The API decides who sees and
// schedules what; this page only shows it. Read again when the socket says a drill moved
// (sent, delivered, acknowledged, escalated, failed), so a drill under way is watched live.

import { alerts } from "./alerts.js";
import { allPages, api, attempt, showProblem } from "./api.js";
import { el, time, words } from "./dom.js";
import { LiveFeed, showConnection } from "./live.js";

const STATE_TEXT = {
  scheduled: "Scheduled",
  cancelled: "Called off",
  waiting: "Sent: waiting for the acknowledgement",
  acknowledged: "Acknowledged",
  failed: "Failed: not acknowledged past the last step",
};

// "42 s", "3 min 5 s", "1 h 12 min": a measured time.
function duration(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  const whole = Math.round(seconds);
  if (whole < 60) return `${whole} s`;
  if (whole < 3600) return `${Math.floor(whole / 60)} min ${whole % 60} s`;
  return `${Math.floor(whole / 3600)} h ${Math.floor((whole % 3600) / 60)} min`;
}

function resultRow(desk) {
  return el(
    "tr",
    { id: `drill-result-${desk.country}` },
    el("td", { dataset: { label: "Desk" } }, desk.country),
    el("td", { dataset: { label: "Sent" } }, String(desk.sent)),
    el("td", { dataset: { label: "Acknowledged" } }, String(desk.acknowledged)),
    el("td", { class: desk.failed ? "failed" : "", dataset: { label: "Failed" } }, String(desk.failed)),
    el("td", { dataset: { label: "Waiting" } }, String(desk.waiting)),
    el("td", { class: "median", dataset: { label: "Median time to acknowledge" } }, duration(desk.median_seconds_to_acknowledge)),
    el("td", { dataset: { label: "90% within" } }, duration(desk.p90_seconds_to_acknowledge)),
    el("td", { dataset: { label: "Last sent" } }, time(desk.last_sent_at)),
  );
}

function drillRow(drill) {
  const cancel = drill.status === "scheduled"
    ? el("button", { type: "button", class: "secondary", dataset: { drillId: drill.id } }, "Call off")
    : "";
  if (cancel) {
    cancel.addEventListener("click", () =>
      attempt(cancel.parentElement, async () => {
        await api(`/v1/drills/${drill.id}`, { method: "DELETE" });
        await load();
      }),
    );
  }
  return el(
    "tr",
    { id: `drill-${drill.id}`, dataset: { status: drill.status } },
    el("td", { dataset: { label: "Desk" } }, el("span", { class: "flag drill" }, "DRILL"), " ", drill.target_country),
    el("td", { dataset: { label: "Priority" } }, el("span", { class: `priority priority-${drill.priority}` }, drill.priority)),
    el("td", { dataset: { label: "Due" } }, time(drill.due_at)),
    el("td", { class: `state state-${drill.status}`, dataset: { label: "State" } }, STATE_TEXT[drill.status] ?? words(drill.status)),
    el("td", { class: "to-ack", dataset: { label: "Time to acknowledge" } }, duration(drill.seconds_to_acknowledge)),
    el("td", { dataset: { label: "Escalated" } }, drill.escalation_step ? `step ${drill.escalation_step + 1}` : "—"),
    el("td", { dataset: { label: "Request" } }, drill.request_id ? el("a", { href: `/web/requests/${drill.request_id}` }, "Open") : "—"),
    el("td", {}, cancel),
  );
}

async function load() {
  try {
    const [results, drills] = await Promise.all([api("/v1/drills/results"), allPages("/v1/drills")]);
    document.getElementById("drill-result-rows").replaceChildren(...results.items.map(resultRow));
    document.getElementById("drill-results-empty").hidden = results.items.length > 0;
    document.getElementById("drill-rows").replaceChildren(...drills.map(drillRow));
    document.getElementById("drills-empty").hidden = drills.length > 0;
  } catch (error) {
    showProblem(error);
  } finally {
    document.body.dataset.loaded = "true";
  }
}

// A datetime-local field's value, in the browser's time zone, as an instant with its offset.
function instant(value) {
  return value ? new Date(value).toISOString() : null;
}

const form = document.getElementById("drill-form");
form.addEventListener("submit", (event) => {
  event.preventDefault();
  const fields = new FormData(form);
  const countries = String(fields.get("countries")).toUpperCase().split(/[\s,]+/).filter(Boolean);
  const start = instant(fields.get("window_start"));
  const end = instant(fields.get("window_end"));
  const body = { countries, priority: fields.get("priority") };
  if (start === end) body.at = start;
  else Object.assign(body, { window_start: start, window_end: end });
  attempt(form, async () => {
    await api("/v1/drills", { method: "POST", json: body });
    await load();
  });
});

// A burst of events (a drill sent to many desks at once) is read once, after it.
const RELOAD_AFTER_MS = 300;
let reload = null;

function onEvent(frame) {
  alerts.hear(frame);
  if (!frame.data?.drill_id) return;
  clearTimeout(reload);
  reload = setTimeout(load, RELOAD_AFTER_MS);
}

new LiveFeed({ onStart: load, onEvent, onStatus: showConnection }).start();
