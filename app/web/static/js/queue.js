// The live queue: the open requests of my desk and mine (or, for a unit, the ones it sent),
// read once from GET /v1/requests after the socket's welcome, then kept current by its
// events (request-rows.js).

import { heldBy } from "./alert-rules.js";
import { alerts } from "./alerts.js";
import { allPages, api, attempt, showProblem } from "./api.js";
import { el, me, words } from "./dom.js";
import { LiveFeed, showConnection } from "./live.js";
import { ACKNOWLEDGE_FROM, OPEN, RECEIVE_FROM } from "./lifecycle.js";
import { holder } from "./people.js";
import { PRIORITY_ORDER, RequestRows, ageCell, deadlineCells, leadingCells } from "./request-rows.js";

const TARGET_ROLES = new Set(["contact_point", "ncb", "gs", "admin"]);
const baseTitle = document.title;
let feed;

function isTargetSide(request) {
  return TARGET_ROLES.has(me.role) && (me.role === "gs" || request.target_country === me.country);
}

// What the request is to the reader, in words (never colour alone): new (nobody has
// acknowledged it yet; the API's "submitted" and "delivered" both mean that to a reader),
// yours (you hold it), escalated to you (its escalation policy moved it on to you or your desk).
function badges(request) {
  const found = [];
  const unacknowledged = !request.acknowledged_at && ACKNOWLEDGE_FROM.has(request.status);
  if (unacknowledged) {
    found.push(el("span", { class: "badge badge-new" }, isTargetSide(request) ? "new" : "not yet acknowledged"));
  }
  if (request.assigned_to && request.assigned_to === me.principalId) found.push(el("span", { class: "badge badge-yours" }, "yours"));
  if (request.escalation_step > 0 && heldBy(request, me)) {
    found.push(el("span", { class: "badge badge-escalated" }, "escalated to you"));
  }
  return { found, unacknowledged };
}

function row(request) {
  const id = request.request_id;
  const { found, unacknowledged } = badges(request);
  const flags = [];
  if (request.escalation_step > 0) flags.push(el("span", { class: "flag escalated" }, `escalated (step ${request.escalation_step + 1})`));
  if (request.overdue_at) flags.push(el("span", { class: "flag overdue" }, "overdue"));
  if (request.response_breached_at) flags.push(el("span", { class: "flag overdue" }, "response late"));
  const acknowledge =
    ACKNOWLEDGE_FROM.has(request.status) && isTargetSide(request)
      ? el("button", { type: "button", class: "ack", onclick: (event) => acknowledgeRequest(id, event.currentTarget.closest("td")) }, "Acknowledge")
      : null;
  return el(
    "tr",
    { id: `request-${id}`, class: `priority-${request.priority}`, dataset: { requestId: id, status: request.status } },
    ...leadingCells(request),
    el("td", { class: "headline", dataset: { label: "about" } }, request.headline || el("span", { class: "muted" }, "no headline")),
    ageCell(request),
    el("td", { class: "status", dataset: { label: "status" } }, found, unacknowledged ? null : [" ", words(request.status)], " ", flags),
    el("td", { dataset: { label: "held by" } }, holder(request)),
    ...deadlineCells(request),
    el("td", {}, acknowledge),
  );
}

// Emergencies first, then the newest.
function before(a, b) {
  return PRIORITY_ORDER[a.priority] - PRIORITY_ORDER[b.priority] || Date.parse(b.created_at) - Date.parse(a.created_at);
}

function changed() {
  let waiting = 0;
  for (const request of rows.values()) {
    if (ACKNOWLEDGE_FROM.has(request.status)) waiting += 1;
    // The first screen to show a request to a person marks it delivered.
    if (RECEIVE_FROM.has(request.status) && isTargetSide(request)) feed?.confirmShown(request.request_id);
  }
  document.getElementById("queue-empty").hidden = rows.size > 0;
  document.getElementById("unacknowledged-count").textContent = String(waiting);
  document.title = waiting ? `(${waiting}) ${baseTitle}` : baseTitle;
}

const rows = new RequestRows({
  tbody: document.getElementById("queue-rows"),
  row,
  before,
  belongs: (request) => OPEN.includes(request.status),
  changed,
});

// A refusal is shown in the row's own cell, beside the button that was pressed.
async function acknowledgeRequest(id, cell) {
  await attempt(cell, async () => {
    const answer = await api(`/v1/requests/${id}/ack`, { method: "POST" });
    const known = rows.requests.get(id);
    if (known) rows.update({ ...known, status: answer.status, acknowledged_at: answer.acknowledged_at });
  });
}

function onEvent(frame) {
  alerts.hear(frame);
  // Four-eyes: a sender's held request, once approved, is a request of its own: its
  // metadata read (no content: nothing audited), as its arrival is pushed only to the target.
  if (frame.event === "approval.approved" && frame.data.requesting_agency_id === me.agencyId) {
    api(`/v1/requests/${frame.data.request_id}?content=false`)
      .then((request) => rows.update({ ...request, request_id: request.id }))
      .catch(showProblem);
    return;
  }
  if (!RequestRows.isRequestEvent(frame)) return; // messages and files: the request's page shows them
  rows.update(frame.data);
}

async function onStart() {
  try {
    // Metadata only: the queue shows no content, so listing it reads (and audits) none.
    const items = await allPages("/v1/requests", { status: OPEN, content: false });
    rows.renderAll(items.map((item) => ({ ...item, request_id: item.id })));
    document.body.dataset.loaded = "true";
  } catch (error) {
    showProblem(error);
  }
}

feed = new LiveFeed({ onStart, onEvent, onStatus: showConnection });
feed.start();
