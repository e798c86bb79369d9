// A member country's search of the shared data it may read: by identifier, STIX id or type,
// newest first, page by page. Objects are shown as text only (static/js/stix-view.js).

import { watchForWork } from "./alerts.js";
import { api, attempt, query, showProblem } from "./api.js";
import { el, time, tlpBadge } from "./dom.js";
import { showObject } from "./stix-view.js";

const form = document.getElementById("shared-search");
const tbody = document.getElementById("shared-rows");
const more = document.getElementById("shared-more");
let cursor = null;

function row(item) {
  const name = item.object?.name ?? item.object?.value ?? "";
  return el(
    "tr",
    { id: `object-${item.row_id}` },
    el("td", { dataset: { label: "Type" } }, item.type),
    el("td", { class: "text", dataset: { label: "Name" } }, String(name)),
    el("td", { dataset: { label: "Collection" } }, item.collection_kind),
    el("td", { dataset: { label: "Handling" } }, tlpBadge(item.handling_code)),
    el("td", { dataset: { label: "Added" } }, time(item.date_added)),
    el(
      "td",
      { dataset: { label: "Object" } },
      el("button", { type: "button", class: "secondary", onclick: () => showObject(item.row_id) }, "Show", el("span", { class: "visually-hidden" }, ` ${item.stix_id}`)),
    ),
  );
}

function filters() {
  const data = new FormData(form);
  return { value: data.get("value").trim(), stix_id: data.get("stix_id").trim(), type: data.get("type") };
}

async function search(append) {
  const page = await api(query("/v1/shared-data/objects", { ...filters(), cursor: append ? cursor : null, limit: 50 }));
  const rows = page.items.map(row);
  if (append) tbody.append(...rows);
  else tbody.replaceChildren(...rows);
  cursor = page.next_cursor;
  more.hidden = !cursor;
  document.getElementById("shared-empty").hidden = tbody.children.length > 0;
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  attempt(form, () => search(false));
});
more.addEventListener("click", () => attempt(form, () => search(true)));

async function start() {
  try {
    await search(false);
  } catch (error) {
    showProblem(error);
  } finally {
    document.body.dataset.loaded = "true";
  }
}

start();
watchForWork();
