// A live table of requests, one row per request id, shared by the queue and the global
// desk's overview: rows are read once from GET /v1/requests, then each event moves one row
// to its newer version (never an older one), to its place in the order, or out of the table.
// So a request listed and pushed at once appears once, and an event redraws one row.

import { countdown, drillBadge, el, tlpBadge, words } from "./dom.js";

export const PRIORITY_ORDER = { emergency: 0, urgent: 1, routine: 2 };

// Priority, type (the link to its page), countries and handling code: every table's start.
export function leadingCells(request) {
  const id = request.request_id;
  return [
    el("td", {}, el("span", { class: `priority priority-${request.priority}` }, request.priority)),
    el("td", {}, ...drillBadge(request), el("a", { href: `/web/requests/${id}` }, words(request.type))),
    el("td", { dataset: { label: "from" } }, request.requesting_country),
    el("td", { dataset: { label: "to" } }, request.target_country),
    el("td", {}, tlpBadge(request.handling_code)),
  ];
}

function deadlineCell(due, since, label) {
  if (!due) return el("td", { dataset: { label } }, "—");
  return el("td", { class: "deadline", dataset: { due, since: since ?? "", label } });
}

// The acknowledgement and response deadlines, counting down (see tickDeadlines).
export function deadlineCells(request) {
  const acknowledge = request.acknowledged_at
    ? el("td", { dataset: { label: "acknowledge by" } }, "acknowledged")
    : deadlineCell(request.ack_due_at, request.assigned_at, "acknowledge by");
  let respond;
  if (request.responded_at || request.status === "responded") {
    respond = el("td", { dataset: { label: "respond by" } }, "responded");
  } else if (request.response_paused_at) {
    respond = el("td", { dataset: { label: "respond by" } }, "paused: waiting for the requester");
  } else {
    respond = deadlineCell(request.response_due_at, request.created_at, "respond by");
  }
  return [acknowledge, respond];
}

// How long a request has been there: "12 min", "3 h 5 min", "2 d 4 h" (no seconds: an age).
export function age(ms) {
  const minutes = Math.floor(Math.max(ms, 0) / 60000);
  if (minutes < 1) return "under a minute";
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return `${hours} h ${minutes % 60} min`;
  return `${Math.floor(hours / 24)} d ${hours % 24} h`;
}

// A request's age, kept current by tickDeadlines: "waiting 12 min" until someone
// acknowledges it, then how old it is.
export function ageCell(request) {
  const waiting = !request.acknowledged_at;
  return el("td", { class: "age", dataset: { since: request.created_at, waiting: String(waiting), label: "age" } });
}

export function tickDeadlines(root, now = Date.now()) {
  for (const cell of root.querySelectorAll("td.deadline")) {
    const { text, level } = countdown(cell.dataset.due, cell.dataset.since || null, now);
    cell.textContent = text;
    cell.dataset.level = level;
  }
  for (const cell of root.querySelectorAll("td.age")) {
    const old = age(now - Date.parse(cell.dataset.since));
    cell.textContent = cell.dataset.waiting === "true" ? `waiting ${old}` : `${old} old`;
  }
}

export class RequestRows {
  // row(request) builds a <tr>; before(a, b) < 0 puts a above b; belongs(request) says
  // whether it is shown at all; changed() runs after every change (counts, title).
  constructor({ tbody, row, before, belongs, changed }) {
    this.tbody = tbody;
    this.row = row;
    this.before = before;
    this.belongs = belongs;
    this.changed = changed;
    this.requests = new Map();
    setInterval(() => tickDeadlines(this.tbody), 1000);
  }

  values() {
    return this.requests.values();
  }

  get size() {
    return this.requests.size;
  }

  // Keep the newer of what we have and what arrived; true if the request is new here.
  merge(request) {
    const id = request.request_id ?? request.id;
    const known = this.requests.get(id);
    if (known && known.version > request.version) return false;
    const merged = { ...known, ...request, request_id: id };
    if (!this.belongs(merged)) {
      this.requests.delete(id);
      return false;
    }
    this.requests.set(id, merged);
    return !known;
  }

  // The whole table at once: after the first read.
  renderAll(items) {
    for (const item of items) this.merge(item);
    const ordered = [...this.requests.values()].sort(this.before);
    this.tbody.replaceChildren(...ordered.map(this.row));
    tickDeadlines(this.tbody);
    this.changed();
  }

  // One request changed: merge it and redraw its row alone, in its place.
  update(request) {
    const isNew = this.merge(request);
    const id = request.request_id;
    const current = this.requests.get(id);
    const old = document.getElementById(`request-${id}`);
    const focused = old?.contains(document.activeElement) ? document.activeElement : null;
    old?.remove();
    if (current) {
      const fresh = this.row(current);
      let next = null;
      for (const other of this.tbody.children) {
        if (this.before(current, this.requests.get(other.dataset.requestId)) < 0) {
          next = other;
          break;
        }
      }
      this.tbody.insertBefore(fresh, next);
      // The keyboard keeps its place: on the same control, else (an Acknowledge button gone
      // once used) on the row's link.
      if (focused) (fresh.querySelector(focused.tagName === "BUTTON" ? "button" : "a") ?? fresh.querySelector("a"))?.focus();
      tickDeadlines(fresh);
    }
    this.changed();
    return isNew;
  }

  // Only events about a request's state carry it whole; messages and files do not.
  // A four-eyes event (approval.*) names the id its request will take: not a request's state.
  static isRequestEvent(frame) {
    return Boolean(frame.data?.request_id && frame.data.status) && !frame.event.startsWith("approval.");
  }
}
