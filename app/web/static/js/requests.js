// All requests: a search over GET /v1/requests' filters, a page at a time (the API's cursor).
// The filters and the page's cursor live in the address, so a search survives a reload, can
// be bookmarked or sent, and the browser's Back goes to the search or page before. Metadata
// only (content=false): finding a request reads none of its content, so it audits nothing;
// opening one does. The API decides what each reader sees.

import { watchForWork } from "./alerts.js";
import { api, clearProblem, query, showProblem } from "./api.js";
import { drillBadge, el, time, tlpBadge, words } from "./dom.js";
import { holder } from "./people.js";

const PAGE_SIZE = 50;
// The form's fields, as the address names them. Dates are days in the browser's time zone;
// the API takes instants (created_after, created_before).
const FIELDS = ["q", "status", "priority", "type", "requesting_country", "target_country", "created_from", "created_to"];
const COUNTRIES = new Set(["requesting_country", "target_country"]);

const form = document.getElementById("requests-search");
const tbody = document.getElementById("found-rows");
const problem = document.getElementById("search-problem");
const summary = document.getElementById("results-summary");
const empty = document.getElementById("results-empty");
const next = document.getElementById("next-page");
const first = document.getElementById("first-page");

function fromForm() {
  const chosen = {};
  for (const name of FIELDS) {
    const value = form.elements[name].value.trim();
    if (value) chosen[name] = COUNTRIES.has(name) ? value.toUpperCase() : value;
  }
  if (form.elements.assigned_to_me.checked) chosen.assigned_to_me = "true";
  return chosen;
}

// What the address asks for: the filters, and the cursor of the page shown.
function fromAddress() {
  const params = new URLSearchParams(window.location.search);
  const chosen = {};
  for (const name of [...FIELDS, "assigned_to_me"]) {
    const value = params.get(name);
    if (value) chosen[name] = value;
  }
  return { chosen, cursor: params.get("cursor") };
}

function fillForm(chosen) {
  for (const name of FIELDS) form.elements[name].value = chosen[name] ?? "";
  form.elements.assigned_to_me.checked = chosen.assigned_to_me === "true";
}

// The start of a day in the browser's time zone, as an instant; "" for no (or no valid) day.
function dayStart(day, plusDays = 0) {
  const [year, month, date] = (day ?? "").split("-").map(Number);
  if (!year || !month || !date) return "";
  const start = new Date(year, month - 1, date + plusDays);
  return Number.isNaN(start.getTime()) ? "" : start.toISOString();
}

function apiParams(chosen, cursor) {
  const { created_from: from, created_to: to, ...rest } = chosen;
  return {
    ...rest,
    created_after: dayStart(from),
    // "Until" includes its day: up to the start of the next.
    created_before: dayStart(to, 1),
    content: "false",
    limit: PAGE_SIZE,
    cursor,
  };
}

function row(request) {
  const link = `/web/requests/${request.id}`;
  return el(
    "tr",
    { id: `found-${request.id}`, class: `priority-${request.priority}`, dataset: { requestId: request.id, status: request.status } },
    el("td", { dataset: { label: "Priority" } }, el("span", { class: `priority priority-${request.priority}` }, request.priority)),
    el("td", { class: "headline", dataset: { label: "About" } }, ...drillBadge(request), el("a", { href: link }, request.headline || "(no headline)")),
    el("td", { dataset: { label: "Type" } }, words(request.type)),
    el("td", { dataset: { label: "From" } }, request.requesting_country),
    el("td", { dataset: { label: "To" } }, request.target_country),
    el("td", { dataset: { label: "Handling" } }, tlpBadge(request.handling_code)),
    el("td", { class: "status", dataset: { label: "Status" } }, words(request.status)),
    el("td", { dataset: { label: "Held by" } }, holder({ ...request, request_id: request.id })),
    el("td", { dataset: { label: "Submitted" } }, time(request.created_at)),
  );
}

async function show({ chosen, cursor }) {
  clearProblem(problem);
  delete document.body.dataset.loaded;
  first.hidden = !cursor;
  first.href = query(window.location.pathname, chosen);
  try {
    const answer = await api(query("/v1/requests", apiParams(chosen, cursor)));
    tbody.replaceChildren(...answer.items.map(row));
    empty.hidden = answer.items.length > 0;
    const count = answer.items.length;
    summary.textContent = `${count} ${count === 1 ? "request" : "requests"} on this page${answer.next_cursor ? ", more on the next" : ""}.`;
    next.hidden = !answer.next_cursor;
    if (answer.next_cursor) next.href = query(window.location.pathname, { ...chosen, cursor: answer.next_cursor });
  } catch (error) {
    tbody.replaceChildren();
    empty.hidden = true;
    next.hidden = true;
    summary.textContent = "";
    // Next to the form the filters came from: what the service refused, in its words.
    showProblem(error, problem);
  } finally {
    document.body.dataset.loaded = "true";
  }
}

// A new search or page is a new entry in the tab's history: Back returns to the one before.
function go(address) {
  window.history.pushState(null, "", address);
  show(fromAddress());
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  go(query(window.location.pathname, fromForm()));
});
form.addEventListener("reset", () => {
  // After the browser has emptied the fields.
  setTimeout(() => go(window.location.pathname), 0);
});
for (const link of [next, first]) {
  link.addEventListener("click", (event) => {
    if (event.ctrlKey || event.metaKey || event.shiftKey) return; // a new tab: the browser's
    event.preventDefault();
    go(link.getAttribute("href"));
  });
}
window.addEventListener("popstate", () => {
  const shown = fromAddress();
  fillForm(shown.chosen);
  show(shown);
});

const initial = fromAddress();
fillForm(initial.chosen);
show(initial);
watchForWork();
