// The global desk's overview: every open request of the network that escalated or ran late,
// read once from GET /v1/requests?attention=… after the socket's welcome, then kept current
// by its events (the global desk follows every country's desk; request-rows.js). A request
// leaves when it closes or, by an event that says so, is calm again.

import { alerts } from "./alerts.js";
import { allPages, showProblem } from "./api.js";
import { el, words } from "./dom.js";
import { LiveFeed, showConnection } from "./live.js";
import { OPEN } from "./lifecycle.js";
import { holder } from "./people.js";
import { PRIORITY_ORDER, RequestRows, deadlineCells, leadingCells } from "./request-rows.js";

// The same test as the API's attention filter (app/requests/views.py), on a pushed event.
function needsAttention(request) {
  return request.escalation_step > 0 || Boolean(request.overdue_at) || Boolean(request.response_breached_at);
}

// The longest-late first: overdue before escalated, then by priority, how far escalated, oldest.
function before(a, b) {
  return (
    Number(Boolean(b.overdue_at || b.response_breached_at)) - Number(Boolean(a.overdue_at || a.response_breached_at)) ||
    PRIORITY_ORDER[a.priority] - PRIORITY_ORDER[b.priority] ||
    b.escalation_step - a.escalation_step ||
    Date.parse(a.created_at) - Date.parse(b.created_at)
  );
}

function reasons(request) {
  const flags = [];
  if (request.overdue_at) flags.push(el("span", { class: "flag overdue" }, "overdue: not acknowledged in time"));
  if (request.response_breached_at) flags.push(el("span", { class: "flag overdue" }, "response late"));
  if (request.escalation_step > 0) flags.push(el("span", { class: "flag escalated" }, `escalated (step ${request.escalation_step + 1})`));
  return flags;
}

function row(request) {
  const id = request.request_id;
  return el(
    "tr",
    { id: `request-${id}`, class: `priority-${request.priority}`, dataset: { requestId: id, status: request.status } },
    ...leadingCells(request),
    el("td", { class: "status", dataset: { label: "status" } }, words(request.status)),
    el("td", { class: "why", dataset: { label: "why" } }, reasons(request)),
    el("td", { dataset: { label: "held by" } }, holder(request)),
    ...deadlineCells(request),
  );
}

const rows = new RequestRows({
  tbody: document.getElementById("network-rows"),
  row,
  before,
  belongs: (request) => OPEN.includes(request.status) && needsAttention(request),
  changed: () => {
    document.getElementById("network-empty").hidden = rows.size > 0;
    document.getElementById("attention-count").textContent = String(rows.size);
    document.getElementById("attention-noun").textContent = rows.size === 1 ? "open request needs" : "open requests need";
  },
});

function onEvent(frame) {
  alerts.hear(frame);
  if (RequestRows.isRequestEvent(frame)) rows.update(frame.data);
}

async function onStart() {
  try {
    const items = await allPages("/v1/requests", { status: OPEN, attention: ["escalated", "overdue"], content: false });
    rows.renderAll(items.map((item) => ({ ...item, request_id: item.id })));
  } catch (error) {
    showProblem(error);
  } finally {
    document.body.dataset.loaded = "true";
  }
}

new LiveFeed({ onStart, onEvent, onStatus: showConnection }).start();
