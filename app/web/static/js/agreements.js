// The access agreements an NCB has granted its country's agencies, read-only: which unit may
// send what to whom, and whether that is in force now. Granting and ending stay with the API
// (POST /v1/agreements, /end) for now.

import { watchForWork } from "./alerts.js";
import { allPages, showProblem } from "./api.js";
import { el, time, words } from "./dom.js";

const STATE_TEXT = { active: "In force", scheduled: "Not yet in force", expired: "Expired", ended: "Ended" };

function scope(values, all, show = (value) => value) {
  return values && values.length ? values.map(show).join(", ") : el("span", { class: "all" }, all);
}

function row(agreement, agencyNames) {
  return el(
    "tr",
    { id: `agreement-${agreement.id}`, dataset: { state: agreement.state } },
    el("td", { dataset: { label: "Unit" } }, agencyNames.get(agreement.agency_id) ?? el("code", {}, agreement.agency_id)),
    el("td", { dataset: { label: "Request types" } }, scope(agreement.request_types, "All types", words)),
    el("td", { dataset: { label: "Target countries" } }, scope(agreement.target_countries, "All countries")),
    el("td", { dataset: { label: "Priorities" } }, scope(agreement.priorities, "All priorities", words)),
    el("td", { dataset: { label: "Valid from" } }, time(agreement.valid_from)),
    el("td", { dataset: { label: "Valid until" } }, agreement.ended_at ? ["ended ", time(agreement.ended_at)] : agreement.valid_until ? time(agreement.valid_until) : "No end date"),
    el("td", { dataset: { label: "State" } }, el("span", { class: `state state-${agreement.state}` }, STATE_TEXT[agreement.state] ?? words(agreement.state))),
    el("td", { dataset: { label: "Conditions" }, class: "text" }, agreement.conditions || "—"),
  );
}

// The agencies' names, read per country (the directory is everyone's to read).
async function agencyNames(countries) {
  const names = new Map();
  for (const country of countries) {
    for (const agency of await allPages("/v1/agencies", { country })) names.set(agency.id, agency.name);
  }
  return names;
}

async function load() {
  try {
    const agreements = await allPages("/v1/agreements");
    const names = await agencyNames(new Set(agreements.map((agreement) => agreement.country)));
    document.getElementById("agreement-rows").replaceChildren(...agreements.map((agreement) => row(agreement, names)));
    document.getElementById("agreements-empty").hidden = agreements.length > 0;
  } catch (error) {
    showProblem(error);
  } finally {
    document.body.dataset.loaded = "true";
  }
}

load();
watchForWork();
