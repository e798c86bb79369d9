// The global desk's overview: every open request of the network that escalated or ran late,
// read once from GET /v1/requests?attention=… after the socket's welcome, then kept current
// by its events (the global desk follows every country's desk). Rows are keyed by request id
// and only ever move to a newer version, as in the queue; a request leaves when it closes.

import { allPages, showProblem } from "./api.js";
import { countdown, el, tlpBadge, words } from "./dom.js";
import { LiveFeed, showConnection } from "./live.js";

const OPEN = ["submitted", "delivered", "acknowledged", "in_progress", "info_requested", "responded"];
const PRIORITY_ORDER = { emergency: 0, urgent: 1, routine: 2 };

const requests = new Map();
const tbody = document.getElementById("network-rows");
const empty = document.getElementById("network-empty");

// The same test as the API's attention filter (app/services/requests.py), on a pushed event.
function needsAttention(request) {
  return request.escalation_step > 0 || Boolean(request.overdue_at) || Boolean(request.response_breached_at);
}

// The longest-late first: overdue before escalated, then by how far escalated, then oldest.
function byUrgency(a, b) {
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

function deadlineCell(due, since, label) {
  if (!due) return el("td", { dataset: { label } }, "—");
  return el("td", { class: "deadline", dataset: { due, since: since ?? "", label } });
}

function row(request) {
  const id = request.request_id;
  return el(
    "tr",
    { id: `request-${id}`, class: `priority-${request.priority}`, dataset: { requestId: id, status: request.status } },
    el("td", {}, el("span", { class: `priority priority-${request.priority}` }, request.priority)),
    el("td", {}, el("a", { href: `/web/requests/${id}` }, words(request.type))),
    el("td", { dataset: { label: "From" } }, request.requesting_country),
    el("td", { dataset: { label: "To" } }, request.target_country),
    el("td", {}, tlpBadge(request.handling_code)),
    el("td", { class: "status", dataset: { label: "Status" } }, words(request.status)),
    el("td", { class: "why", dataset: { label: "Why" } }, reasons(request)),
    request.acknowledged_at ? el("td", { dataset: { label: "Acknowledge by" } }, "acknowledged") : deadlineCell(request.ack_due_at, request.assigned_at, "Acknowledge by"),
    request.responded_at || request.status === "responded"
      ? el("td", { dataset: { label: "Respond by" } }, "responded")
      : request.response_paused_at
        ? el("td", { dataset: { label: "Respond by" } }, "paused: waiting for the requester")
        : deadlineCell(request.response_due_at, request.created_at, "Respond by"),
  );
}

function tick() {
  const now = Date.now();
  for (const cell of tbody.querySelectorAll("td.deadline")) {
    const { text, level } = countdown(cell.dataset.due, cell.dataset.since || null, now);
    cell.textContent = text;
    cell.dataset.level = level;
  }
}

function render() {
  const ordered = [...requests.values()].sort(byUrgency);
  const focused = document.activeElement?.closest?.("tr")?.id;
  tbody.replaceChildren(...ordered.map(row));
  if (focused) document.querySelector(`#${CSS.escape(focused)} a`)?.focus();
  empty.hidden = ordered.length > 0;
  document.getElementById("attention-count").textContent = String(ordered.length);
  tick();
}

// Keep the newer of what we have and what arrived; a request that is closed, or (by an
// event that says so) calm, is not shown.
function merge(request) {
  const id = request.request_id;
  const known = requests.get(id);
  if (known && known.version > request.version) return;
  const merged = { ...known, ...request };
  if (OPEN.includes(merged.status) && needsAttention(merged)) requests.set(id, merged);
  else requests.delete(id);
}

function onEvent(frame) {
  const data = frame.data;
  if (!data || !data.request_id || !data.status) return; // messages and files: not this page's
  merge(data);
  render();
}

async function onStart() {
  try {
    const items = await allPages("/v1/requests", { status: OPEN, attention: ["escalated", "overdue"] });
    for (const item of items) merge({ ...item, request_id: item.id });
    render();
  } catch (error) {
    showProblem(error);
  } finally {
    document.body.dataset.loaded = "true";
  }
}

setInterval(tick, 1000);
new LiveFeed({ onStart, onEvent, onStatus: showConnection }).start();
