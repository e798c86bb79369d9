// The global desk's triage queue: partners' objects waiting, oldest first, with the queue's
// counts and age. Decisions (accept, reject, ask for more) per object or for the whole
// submission, each with a note the partner reads. The page re-reads the queue whenever the
// socket says it changed ("triage.changed" on the triage channel: counts only), and every half
// minute for submissions that arrived meanwhile.

import { alerts } from "./alerts.js";
import { api, attempt, showProblem } from "./api.js";
import { duration, el, tlpBadge } from "./dom.js";
import { LiveFeed, showConnection } from "./live.js";
import { showObject } from "./stix-view.js";

const REFRESH_EVERY = 30000;
const tbody = document.getElementById("triage-rows");

function decisionForm(item) {
  const id = `note-${item.row_id}`;
  const form = el(
    "form",
    { class: "inline decision", id: `decide-${item.row_id}`, onsubmit: (event) => event.preventDefault() },
    el("label", { for: id }, "Note"),
    el("input", { id, name: "note", maxlength: 1000, size: 18, autocomplete: "off" }),
  );
  const decide = (decision, scope) =>
    attempt(form, async () => {
      const note = form.elements.note.value;
      const path =
        scope === "bundle"
          ? `/v1/shared-data/submissions/${item.submission_id}/decision`
          : `/v1/shared-data/objects/${item.row_id}/decision`;
      await api(path, { method: "POST", json: { decision, note } });
      await load();
    });
  form.append(
    el("button", { type: "button", onclick: () => decide("accept") }, "Accept"),
    el("button", { type: "button", class: "secondary", onclick: () => decide("reject") }, "Reject"),
    el("button", { type: "button", class: "secondary", onclick: () => decide("request_info") }, "Ask for more"),
  );
  if (item.submission_id) {
    form.append(
      el("button", { type: "button", class: "secondary", onclick: () => decide("accept", "bundle") }, "Accept whole submission"),
      el("button", { type: "button", class: "secondary", onclick: () => decide("reject", "bundle") }, "Reject whole submission"),
    );
  }
  return form;
}

function row(item) {
  return el(
    "tr",
    { id: `object-${item.row_id}`, dataset: { rowId: item.row_id } },
    el("td", { dataset: { label: "Partner" } }, item.partner),
    el("td", { dataset: { label: "Type" } }, item.type),
    el(
      "td",
      { dataset: { label: "STIX id" } },
      el("button", { type: "button", class: "link", onclick: () => showObject(item.row_id) }, el("code", {}, item.stix_id)),
    ),
    el("td", { dataset: { label: "Handling" } }, tlpBadge(item.handling_code)),
    el("td", { dataset: { label: "Waiting" } }, duration(item.age_seconds * 1000)),
    el("td", { dataset: { label: "Decision" } }, decisionForm(item)),
  );
}

function showCounts(counts) {
  document.getElementById("quarantined-count").textContent = String(counts.quarantined);
  document.getElementById("info-count").textContent = String(counts.info_requested);
  document.getElementById("oldest-age").textContent =
    counts.oldest_age_seconds === null ? "" : `; the oldest for ${duration(counts.oldest_age_seconds * 1000)}`;
}

async function load() {
  try {
    const queue = await api("/v1/shared-data/quarantine?limit=100");
    tbody.replaceChildren(...queue.items.map(row));
    document.getElementById("triage-empty").hidden = queue.items.length > 0;
    showCounts(queue.counts);
  } catch (error) {
    showProblem(error);
  } finally {
    document.body.dataset.loaded = "true";
  }
}

function onEvent(frame) {
  alerts.hear(frame);
  if (frame.event === "triage.changed") load();
}

new LiveFeed({ onStart: load, onEvent, onStatus: showConnection }).start();
setInterval(load, REFRESH_EVERY);
