// A roster's covers, swaps and leaves on the roster page: listed for whoever reads the roster,
// and, for who may change it (the page says so: data-may-manage, from the same policy the API
// applies), added from a form and cancelled after a confirmation. Times are entered in the
// desk's time zone, whatever the browser's, and the service's refusals are shown next to the
// field they concern. The week's shifts are read again after each change.

import { allPages, api, attempt, showProblem } from "./api.js";
import { el, me, words } from "./dom.js";
import { clearFieldErrors, showFieldErrors } from "./field-errors.js";
import { instantOfLocal, localOfInstant } from "./zoned.js";

const section = document.getElementById("overrides");
const form = document.getElementById("override-form");
const country = (new URLSearchParams(window.location.search).get("country") ?? me.country).toUpperCase();
const base = `/v1/countries/${encodeURIComponent(country)}/roster/overrides`;
const mayManage = section?.dataset.mayManage === "true";
let zone = "UTC";
let names = new Map();

function when(iso) {
  const text = new Intl.DateTimeFormat(undefined, { timeZone: zone, weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" }).format(new Date(iso));
  return el("time", { datetime: iso, title: iso }, text);
}

function who(id) {
  return names.get(id) ?? id;
}

function cancelCell(override) {
  if (!mayManage) return null;
  const cell = el("td", { class: "actions" });
  const ask = () =>
    cell.replaceChildren(
      el("span", {}, "Cancel this override? "),
      el("button", { type: "button", class: "danger", onclick: () => cancel(override, cell) }, "Yes, cancel it"),
      " ",
      el("button", { type: "button", class: "secondary", onclick: rest }, "Keep it"),
    );
  const rest = () => cell.replaceChildren(el("button", { type: "button", class: "secondary", onclick: ask, "aria-label": `Cancel the ${override.kind} of ${who(override.principal_id)}` }, "Cancel…"));
  rest();
  return cell;
}

async function cancel(override, cell) {
  // A refusal is shown in the row it was met in (api.js attempt).
  await attempt(cell, async () => {
    await api(`${base}/${override.id}`, { method: "DELETE" });
    document.getElementById("override-status").textContent = `The ${override.kind} of ${who(override.principal_id)} was cancelled.`;
    await changed();
  });
}

function row(override) {
  const people = override.other_principal_id ? `${who(override.principal_id)} ⇄ ${who(override.other_principal_id)}` : who(override.principal_id);
  return el(
    "tr",
    { id: `override-${override.id}`, dataset: { kind: override.kind } },
    el("td", { dataset: { label: "kind" } }, words(override.kind)),
    el("td", { dataset: { label: "layer" } }, override.layer ?? "both"),
    el("td", { dataset: { label: "who" } }, people),
    el("td", { dataset: { label: "from" } }, when(override.starts_at)),
    el("td", { dataset: { label: "until" } }, when(override.ends_at)),
    el("td", { dataset: { label: "note" } }, override.note),
    cancelCell(override),
  );
}

async function list() {
  const now = Date.now();
  const items = (await allPages(base)).filter((o) => !o.cancelled_at && Date.parse(o.ends_at) > now).sort((a, b) => Date.parse(a.starts_at) - Date.parse(b.starts_at));
  document.getElementById("override-rows").replaceChildren(...items.map(row));
  document.getElementById("overrides-empty").hidden = items.length > 0;
}

async function changed() {
  await list();
  document.dispatchEvent(new CustomEvent("roster-changed"));
}

// Layer for a cover or a swap, the other person for a swap only: the form shows what applies.
function showApplicable() {
  const kind = form.elements.kind.value;
  document.getElementById("override-layer-field").hidden = kind === "leave";
  document.getElementById("override-other-field").hidden = kind !== "swap";
}

// From the next full hour, for eight hours: a typical shift, to be changed as needed.
function suggestTimes() {
  const hour = Math.ceil(Date.now() / 3600000) * 3600000;
  form.elements.starts_at.value = localOfInstant(hour, zone);
  form.elements.ends_at.value = localOfInstant(hour + 8 * 3600000, zone);
}

async function submit(event) {
  event.preventDefault();
  clearFieldErrors(form);
  const fields = form.elements;
  const kind = fields.kind.value;
  const body = {
    kind,
    principal_id: fields.principal_id.value || null,
    starts_at: instantOfLocal(fields.starts_at.value, zone),
    ends_at: instantOfLocal(fields.ends_at.value, zone),
    note: fields.note.value,
  };
  if (kind !== "leave") body.layer = fields.layer.value;
  if (kind === "swap") body.other_principal_id = fields.other_principal_id.value || null;
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    const made = await api(base, { method: "POST", json: body });
    document.getElementById("override-status").textContent = `The ${made.kind} of ${who(made.principal_id)} was added.`;
    form.reset();
    suggestTimes();
    showApplicable();
    await changed();
  } catch (error) {
    showFieldErrors(form, error);
  } finally {
    button.disabled = false;
  }
}

async function start() {
  try {
    const [detail, people] = await Promise.all([
      api(`/v1/countries/${encodeURIComponent(country)}`),
      allPages("/v1/principals", { country, role: "contact_point" }),
    ]);
    zone = detail.time_zone;
    names = new Map(people.map((p) => [p.id, p.name]));
    for (const zoneNote of document.querySelectorAll(".desk-zone")) zoneNote.textContent = zone;
    if (form) {
      const options = people.map((p) => el("option", { value: p.id }, p.name));
      form.elements.principal_id.replaceChildren(el("option", { value: "" }, "Choose…"), ...options);
      form.elements.other_principal_id.replaceChildren(el("option", { value: "" }, "Choose…"), ...options.map((o) => o.cloneNode(true)));
      suggestTimes();
      form.elements.kind.addEventListener("change", showApplicable);
      form.addEventListener("submit", submit);
      showApplicable();
      form.dataset.ready = "true";
    }
    await list();
  } catch (error) {
    showProblem(error);
  } finally {
    section.dataset.loaded = "true";
  }
}

if (section) start();
