// The audit trail for auditors: a search over GET /v1/audit/entries' filters, read a page at
// a time, newest first (order=newest, next_cursor), and the same filters as export links
// (GET /v1/audit/export). The filters live in the page's address too, so a search can be reloaded, bookmarked or sent.
// The API decides what each auditor sees: a national auditor asking for another country is
// told why not, in the service's own words.

import { api, clearProblemAt, query, showProblemAt } from "./api.js";
import { el, time, words } from "./dom.js";

const FILTERS = ["since", "until", "country", "request_id", "action"];
const INSTANTS = new Set(["since", "until"]);
const PAGE_SIZE = 50;

const form = document.getElementById("audit-search");
const tbody = document.getElementById("entry-rows");
const more = document.getElementById("entries-more");
const summary = document.getElementById("entries-summary");
let filters = {};
let cursor = null;
let shown = 0;

// A datetime-local field holds the browser's wall-clock time without a zone; the API takes
// instants. Both ways go through Date, which reads and writes the browser's local time.
function toInstant(local) {
  return local ? new Date(local).toISOString() : "";
}

function toLocalField(instant) {
  const date = new Date(instant);
  if (Number.isNaN(date.getTime())) return "";
  const pad = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}

function fromForm() {
  const chosen = {};
  for (const name of FILTERS) {
    const value = form.elements[name].value.trim();
    if (!value) continue;
    chosen[name] = INSTANTS.has(name) ? toInstant(value) : name === "country" ? value.toUpperCase() : value;
  }
  return chosen;
}

function fromAddress() {
  const params = new URLSearchParams(window.location.search);
  const chosen = {};
  for (const name of FILTERS) {
    const value = params.get(name);
    if (value) chosen[name] = value;
  }
  return chosen;
}

function fillForm(chosen) {
  for (const name of FILTERS) {
    const value = chosen[name] ?? "";
    form.elements[name].value = INSTANTS.has(name) && value ? toLocalField(value) : value;
  }
}

function exportLinks(chosen) {
  for (const format of ["ndjson", "csv"]) {
    document.getElementById(`export-${format}`).href = query("/v1/audit/export", { ...chosen, format });
  }
}

function actor(entry) {
  if (!entry.actor_principal_id) return el("span", { class: "muted" }, "the service");
  return [
    words(entry.actor_role ?? "someone"),
    entry.actor_country ? `, ${entry.actor_country}` : "",
    " ",
    el("code", { title: entry.actor_principal_id }, entry.actor_principal_id.slice(0, 8)),
  ];
}

function row(entry) {
  return el(
    "tr",
    { id: `entry-${entry.id}`, dataset: { action: entry.action, objectId: entry.object_id } },
    el("td", { dataset: { label: "Position" } }, entry.chain_position ?? "—"),
    el("td", { dataset: { label: "Time" } }, time(entry.occurred_at)),
    el("td", { dataset: { label: "Action" } }, el("code", {}, entry.action)),
    el("td", { dataset: { label: "Object" } }, `${words(entry.object_type)} `, el("code", {}, entry.object_id)),
    el("td", { dataset: { label: "Countries" } }, (entry.countries ?? []).join(", ") || "—"),
    el("td", { dataset: { label: "Actor" } }, actor(entry)),
    el("td", { dataset: { label: "Sealed" } }, entry.sealed ? "Yes" : "Not yet"),
  );
}

// A refusal is shown under the search form that asked.
async function readPage() {
  clearProblemAt(form);
  more.disabled = true;
  try {
    const answer = await api(query("/v1/audit/entries", { ...filters, cursor, limit: PAGE_SIZE, order: "newest" }));
    tbody.append(...answer.items.map(row));
    shown += answer.items.length;
    cursor = answer.next_cursor;
    more.hidden = !cursor;
    document.getElementById("entries-empty").hidden = shown > 0;
    summary.textContent = `${shown} ${shown === 1 ? "entry" : "entries"} shown${cursor ? ", more to come" : ""}.`;
  } catch (error) {
    more.hidden = true;
    summary.textContent = "";
    showProblemAt(form, error);
  } finally {
    more.disabled = false;
    document.body.dataset.loaded = "true";
  }
}

async function search(chosen) {
  filters = chosen;
  cursor = null;
  shown = 0;
  tbody.replaceChildren();
  exportLinks(filters);
  window.history.replaceState(null, "", query(window.location.pathname, filters));
  delete document.body.dataset.loaded;
  await readPage();
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  search(fromForm());
});
form.addEventListener("reset", () => {
  // After the browser has emptied the fields.
  setTimeout(() => search({}), 0);
});
more.addEventListener("click", readPage);

// The page opens on today (from the browser's midnight), newest first; a search in the
// address (a reload, a link) is kept as it is.
function today() {
  const midnight = new Date();
  midnight.setHours(0, 0, 0, 0);
  return { since: midnight.toISOString() };
}

const asked = fromAddress();
const initial = Object.keys(asked).length ? asked : today();
fillForm(initial);
search(initial);
