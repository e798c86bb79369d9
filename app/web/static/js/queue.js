// The live queue: the open requests of my desk and mine (or, for a unit, the ones it sent),
// read once from GET /v1/requests after the socket's welcome, then kept current by its
// events. Rows are keyed by request id and a row only ever moves to a newer version, so a
// request listed and pushed at once appears once.

import { allPages, api, clearProblem, showProblem } from "./api.js";
import { countdown, el, me, tlpBadge, words } from "./dom.js";
import { LiveFeed, showConnection } from "./live.js";

const OPEN = ["submitted", "delivered", "acknowledged", "in_progress", "info_requested", "responded"];
const UNACKNOWLEDGED = new Set(["submitted", "delivered"]);
const PRIORITY_ORDER = { emergency: 0, urgent: 1, routine: 2 };
const TARGET_ROLES = new Set(["contact_point", "ncb", "gs", "admin"]);

const requests = new Map();
const tbody = document.getElementById("queue-rows");
const empty = document.getElementById("queue-empty");
const baseTitle = document.title;
let feed;
let alerts = { sound: false, notify: false };
let audio;

function byUrgency(a, b) {
  const priority = PRIORITY_ORDER[a.priority] - PRIORITY_ORDER[b.priority];
  return priority || Date.parse(b.created_at) - Date.parse(a.created_at);
}

function isTargetSide(request) {
  return TARGET_ROLES.has(me.role) && (me.role === "gs" || request.target_country === me.country);
}

function holder(request) {
  if (request.assigned_to === me.principalId) return el("strong", {}, "You");
  if (request.assigned_to) return "Another contact point";
  return `${request.target_country} desk`;
}

function deadlineCell(due, since, label) {
  if (!due) return el("td", { dataset: { label } }, "—");
  return el("td", { class: "deadline", dataset: { due, since: since ?? "", label } });
}

function row(request) {
  const id = request.request_id ?? request.id;
  const flags = [];
  if (request.escalation_step > 0) flags.push(el("span", { class: "flag escalated" }, `escalated (step ${request.escalation_step + 1})`));
  if (request.overdue_at) flags.push(el("span", { class: "flag overdue" }, "overdue"));
  if (request.response_breached_at) flags.push(el("span", { class: "flag overdue" }, "response late"));
  const acknowledge =
    UNACKNOWLEDGED.has(request.status) && isTargetSide(request)
      ? el("button", { type: "button", class: "ack", onclick: () => acknowledgeRequest(id) }, "Acknowledge")
      : null;
  return el(
    "tr",
    { id: `request-${id}`, class: `priority-${request.priority}`, dataset: { requestId: id, status: request.status } },
    el("td", {}, el("span", { class: `priority priority-${request.priority}` }, request.priority)),
    el("td", {}, el("a", { href: `/web/requests/${id}` }, words(request.type))),
    el("td", { dataset: { label: "from" } }, request.requesting_country),
    el("td", { dataset: { label: "to" } }, request.target_country),
    el("td", {}, tlpBadge(request.handling_code)),
    el("td", { class: "status", dataset: { label: "status" } }, words(request.status), " ", flags),
    el("td", { dataset: { label: "held by" } }, holder(request)),
    request.acknowledged_at
      ? el("td", { dataset: { label: "acknowledge by" } }, "acknowledged")
      : deadlineCell(request.ack_due_at, request.assigned_at, "acknowledge by"),
    request.responded_at || request.status === "responded"
      ? el("td", { dataset: { label: "respond by" } }, "responded")
      : deadlineCell(request.response_due_at, request.created_at, "respond by"),
    el("td", {}, acknowledge),
  );
}

// One row changed: replace it (or drop it) and put it in its place, leaving the other rows
// alone, so a desk with hundreds of open requests redraws one row per event.
function place(id) {
  const request = requests.get(id);
  const old = document.getElementById(`request-${id}`);
  const focused = old?.contains(document.activeElement) ? document.activeElement : null;
  old?.remove();
  if (request) {
    const fresh = row(request);
    let before = null;
    for (const other of tbody.children) {
      if (byUrgency(request, requests.get(other.dataset.requestId)) < 0) {
        before = other;
        break;
      }
    }
    tbody.insertBefore(fresh, before);
    if (focused) fresh.querySelector(focused.tagName === "BUTTON" ? "button" : "a")?.focus();
    tickRow(fresh);
    if (request.status === "submitted" && isTargetSide(request)) feed?.confirmShown(id);
  }
  summarize();
}

function renderAll() {
  const ordered = [...requests.values()].sort(byUrgency);
  tbody.replaceChildren(...ordered.map(row));
  tick();
  for (const request of ordered) {
    if (request.status === "submitted" && isTargetSide(request)) feed?.confirmShown(request.request_id);
  }
  summarize();
}

function summarize() {
  empty.hidden = requests.size > 0;
  let waiting = 0;
  for (const request of requests.values()) if (UNACKNOWLEDGED.has(request.status)) waiting += 1;
  document.getElementById("unacknowledged-count").textContent = String(waiting);
  document.title = waiting ? `(${waiting}) ${baseTitle}` : baseTitle;
}

function tickRow(node, now = Date.now()) {
  for (const cell of node.querySelectorAll("td.deadline")) {
    const { text, level } = countdown(cell.dataset.due, cell.dataset.since || null, now);
    cell.textContent = text;
    cell.dataset.level = level;
  }
}

function tick() {
  tickRow(tbody);
}

// Keep the newer of what we have and what arrived.
function merge(request) {
  const id = request.request_id ?? request.id;
  const known = requests.get(id);
  if (known && known.version > request.version) return false;
  if (!OPEN.includes(request.status)) {
    requests.delete(id);
    return Boolean(known);
  }
  requests.set(id, { ...known, ...request, request_id: id });
  return !known;
}

async function acknowledgeRequest(id) {
  clearProblem();
  try {
    const answer = await api(`/v1/requests/${id}/ack`, { method: "POST" });
    const known = requests.get(id);
    if (known) {
      merge({ ...known, status: answer.status, acknowledged_at: answer.acknowledged_at, version: known.version });
      place(id);
    }
  } catch (error) {
    showProblem(error);
  }
}

function announce(request) {
  if (alerts.sound && audio) {
    const oscillator = audio.createOscillator();
    const gain = audio.createGain();
    oscillator.frequency.value = request.priority === "emergency" ? 880 : 660;
    gain.gain.setValueAtTime(0.2, audio.currentTime);
    gain.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + 0.6);
    oscillator.connect(gain).connect(audio.destination);
    oscillator.start();
    oscillator.stop(audio.currentTime + 0.6);
  }
  if (alerts.notify && "Notification" in window && Notification.permission === "granted") {
    new Notification(`New ${request.priority} request from ${request.requesting_country}`, {
      body: `${words(request.type)} · TLP:${request.handling_code}`,
      tag: request.request_id,
    });
  }
}

function onEvent(frame) {
  const data = frame.data;
  if (!data || !data.request_id || !data.status) return; // messages and files: the request's page shows them
  const isNew = merge(data);
  place(data.request_id);
  const forMe = data.assigned_to === me.principalId || (!data.assigned_to && isTargetSide(data));
  if (isNew && frame.event === "request.assigned" && forMe) announce(data);
}

async function onStart() {
  try {
    const items = await allPages("/v1/requests", { status: OPEN });
    for (const item of items) merge({ ...item, request_id: item.id });
    renderAll();
    document.body.dataset.loaded = "true";
  } catch (error) {
    showProblem(error);
  }
}

document.getElementById("enable-alerts").addEventListener("click", async (event) => {
  audio = audio ?? new AudioContext();
  await audio.resume();
  alerts.sound = true;
  if ("Notification" in window) {
    alerts.notify = (await Notification.requestPermission()) === "granted";
  }
  event.target.textContent = alerts.notify ? "Sound and notifications on" : "Sound on (notifications not allowed)";
  event.target.disabled = true;
});

setInterval(tick, 1000);
feed = new LiveFeed({ onStart, onEvent, onStatus: showConnection });
feed.start();
