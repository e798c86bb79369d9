// A country's escalation policy as a form: for each priority (and each request type with a
// rule of its own) the steps, whom each alerts and how long it has, in order; the response
// times; preservation. Whoever may change it (the page says so: data-may-manage) adds,
// removes and reorders steps and saves the whole document with PUT and If-Match: the
// service validates it, and each of its messages is shown at the field it names. A 412 means
// someone saved a change since the page read it: the page says so and offers to reload.

import { watchForWork } from "./alerts.js";
import { ApiError, api, showProblem } from "./api.js";
import { el, me, words } from "./dom.js";
import { clearFieldErrors, showFieldErrors } from "./field-errors.js";

const form = document.getElementById("policy-form");
const mayManage = form.dataset.mayManage === "true";
const country = (new URLSearchParams(window.location.search).get("country") ?? me.country).toUpperCase();
const path = `/v1/countries/${encodeURIComponent(country)}/escalation-policy`;
// The service's vocabulary, as the page carries it (app/web/pages.py).
const VOCABULARY = JSON.parse(document.getElementById("policy-vocabulary").textContent);
const TARGET_NAMES = {
  on_duty_primary: "The on-duty primary",
  on_duty_backup: "The on-duty backup",
  ncb: "The NCB's duty desk",
  global_desk: "The global desk",
};
const TARGETS = Object.fromEntries(VOCABULARY.targets.map((target) => [target, TARGET_NAMES[target] ?? words(target)]));
const PRIORITIES = VOCABULARY.priorities;
const TYPES = VOCABULARY.types;

let policy = null; // the document being edited
let etag = null; // of the version it was read from

function spell(seconds) {
  const value = Number(seconds);
  if (!Number.isFinite(value) || value <= 0) return "";
  if (value % 3600 === 0) return `= ${value / 3600} h`;
  if (value % 60 === 0) return `= ${value / 60} min`;
  return `= ${Math.floor(value / 60)} min ${value % 60} s`;
}

// A number input bound to a field of the document; its path is what the service names.
function numberInput(id, label, field, value, onChange) {
  const hint = el("span", { class: "hint" }, spell(value));
  const input = el("input", {
    id,
    type: "number",
    value,
    "data-field": field,
    disabled: !mayManage,
    oninput: (event) => {
      onChange(event.target.value === "" ? null : Number(event.target.value));
      hint.textContent = label.includes("seconds") ? spell(event.target.value) : "";
    },
  });
  return el("div", { class: "field" }, el("label", { for: id }, label), input, label.includes("seconds") ? hint : null);
}

function select(id, label, field, options, value, onChange) {
  return el(
    "div",
    { class: "field" },
    el("label", { for: id }, label),
    el(
      "select",
      { id, "data-field": field, disabled: !mayManage, onchange: (event) => onChange(event.target.value || null) },
      ...Object.entries(options).map(([key, text]) => el("option", { value: key, selected: key === (value ?? "") }, text)),
    ),
  );
}

function move(list, from, to) {
  const [item] = list.splice(from, 1);
  list.splice(to, 0, item);
  render();
}

function stepItem(rule, r, step, s) {
  const field = `ack_steps[${r}].steps[${s}]`;
  const id = `rule-${r}-step-${s}`;
  const controls = mayManage
    ? el(
        "p",
        { class: "buttons step-actions" },
        el("button", { type: "button", class: "secondary", disabled: s === 0, onclick: () => move(rule.steps, s, s - 1), "aria-label": `Move step ${s + 1} up` }, "↑ Up"),
        el("button", { type: "button", class: "secondary", disabled: s === rule.steps.length - 1, onclick: () => move(rule.steps, s, s + 1), "aria-label": `Move step ${s + 1} down` }, "↓ Down"),
        el("button", { type: "button", class: "secondary", onclick: () => (rule.steps.splice(s, 1), render()), "aria-label": `Remove step ${s + 1}` }, "Remove"),
      )
    : null;
  return el(
    "li",
    { class: "step", "data-field": field, id },
    el("span", { class: "step-number" }, `Step ${s + 1}`),
    select(`${id}-target`, "Alerts", `${field}.target`, TARGETS, step.target, (value) => (step.target = value)),
    numberInput(`${id}-timeout`, "Time to acknowledge (seconds)", `${field}.ack_timeout_seconds`, step.ack_timeout_seconds, (value) => (step.ack_timeout_seconds = value)),
    numberInput(`${id}-repeat`, "Alert again every (seconds)", `${field}.alert_repeat_seconds`, step.alert_repeat_seconds, (value) => (step.alert_repeat_seconds = value)),
    controls,
  );
}

// A new step goes before the last (the global desk, which must stay last), alerting whoever
// the rule does not alert yet.
function addStep(rule) {
  const used = new Set(rule.steps.map((step) => step.target));
  const target = Object.keys(TARGETS).find((key) => !used.has(key)) ?? "on_duty_backup";
  rule.steps.splice(Math.max(rule.steps.length - 1, 0), 0, { target, ack_timeout_seconds: 300, alert_repeat_seconds: 300 });
  render();
  document.getElementById(`rule-${policy.ack_steps.indexOf(rule)}-step-${rule.steps.length - 2}-target`)?.focus();
}

function ruleSection(rule, r) {
  const title = `${words(rule.priority)}, ${rule.type ? words(rule.type) : "every type"}`;
  const headingId = `rule-${r}-title`;
  const removable = mayManage && rule.type !== null;
  return el(
    "section",
    { class: "rule", "data-field": `ack_steps[${r}]`, "aria-labelledby": headingId, dataset: { priority: rule.priority, type: rule.type ?? "" } },
    el("h3", { id: headingId }, title.charAt(0).toUpperCase() + title.slice(1)),
    // A message about the list of steps as a whole ("ack_steps[0].steps") goes to the rule.
    el("ol", { class: "steps plain" }, ...rule.steps.map((step, s) => stepItem(rule, r, step, s))),
    mayManage
      ? el(
          "p",
          { class: "buttons" },
          el("button", { type: "button", class: "secondary", onclick: () => addStep(rule), "aria-label": `Add a step to: ${title}` }, "Add a step"),
          removable ? el("button", { type: "button", class: "secondary", onclick: () => (policy.ack_steps.splice(r, 1), render()) }, "Remove this rule") : null,
        )
      : null,
  );
}

function responseRow(rule, i) {
  const field = `response_times[${i}]`;
  const anyType = { "": "Every type", ...Object.fromEntries(TYPES.map((t) => [t, words(t)])) };
  const anyPriority = { "": "Every priority", ...Object.fromEntries(PRIORITIES.map((p) => [p, p])) };
  const row = el(
    "tr",
    { id: `response-${i}` },
    el("td", { dataset: { label: "type" } }, select(`response-${i}-type`, "Type", `${field}.type`, anyType, rule.type, (v) => (rule.type = v))),
    el("td", { dataset: { label: "priority" } }, select(`response-${i}-priority`, "Priority", `${field}.priority`, anyPriority, rule.priority, (v) => (rule.priority = v))),
    el("td", { dataset: { label: "hours" } }, numberInput(`response-${i}-hours`, "Hours", `${field}.respond_within_hours`, rule.respond_within_hours, (v) => (rule.respond_within_hours = v))),
    mayManage ? el("td", {}, el("button", { type: "button", class: "secondary", onclick: () => (policy.response_times.splice(i, 1), render()), "aria-label": `Remove response time ${i + 1}` }, "Remove")) : null,
  );
  // The columns' headings say it on a screen; the labels stay for screen readers and phones.
  for (const label of row.querySelectorAll("label")) label.classList.add("visually-hidden");
  return row;
}

function render() {
  clearFieldErrors(form);
  const order = (rule) => PRIORITIES.indexOf(rule.priority) * 100 + (rule.type ? TYPES.indexOf(rule.type) + 1 : 0);
  const indexed = policy.ack_steps.map((rule, r) => [rule, r]).sort((a, b) => order(a[0]) - order(b[0]));
  document.getElementById("policy-rules").replaceChildren(...indexed.map(([rule, r]) => ruleSection(rule, r)));
  document.getElementById("response-rows").replaceChildren(...policy.response_times.map(responseRow));
  for (const input of form.querySelectorAll("input[data-key]")) {
    input.value = policy[input.dataset.key];
    input.disabled = !mayManage;
  }
}

// Dropping the country's own policy puts the network default back; asked twice.
function offerRevert(read) {
  const place = document.getElementById("policy-revert");
  if (!place) return;
  const ask = () =>
    place.replaceChildren(
      `Drop ${country}'s own policy, so the network default applies? `,
      el("button", { type: "button", class: "danger", onclick: revert }, "Yes, use the default"),
      " ",
      el("button", { type: "button", class: "secondary", onclick: () => offerRevert(read) }, "Keep ours"),
    );
  place.replaceChildren(read.inherited ? "" : el("button", { type: "button", class: "secondary", onclick: ask }, "Use the network default instead…"));
}

async function revert() {
  try {
    await api(path, { method: "DELETE", headers: { "If-Match": etag } });
    await load();
    document.getElementById("policy-status").textContent = `${country} follows the network default again.`;
  } catch (error) {
    if (error instanceof ApiError && error.status === 412) conflict();
    else showFieldErrors(form, error);
  }
}

function conflict() {
  document.getElementById("policy-conflict-text").textContent =
    "Someone else changed this policy since you opened it. Reload it to see their change (yours is not saved), then redo yours.";
  document.getElementById("policy-conflict").hidden = false;
  document.getElementById("policy-reload").focus();
}

function showState(read) {
  offerRevert(read);
  const since = new Date(read.updated_at).toLocaleString();
  document.getElementById("policy-title").textContent = `Escalation policy of ${country}`;
  document.getElementById("policy-state").textContent = read.inherited
    ? `The network default (version ${read.version}): ${country} has no policy of its own yet`
    : `Version ${read.version}, changed ${since}`;
}

async function load() {
  try {
    const read = await api(path, { onResponse: (response) => (etag = response.headers.get("ETag")) });
    policy = structuredClone(read.document);
    showState(read);
    document.getElementById("policy-conflict").hidden = true;
    render();
  } catch (error) {
    showProblem(error);
  } finally {
    document.body.dataset.loaded = "true";
  }
}

async function save(event) {
  event.preventDefault();
  const status = document.getElementById("policy-status");
  const button = document.getElementById("policy-save");
  clearFieldErrors(form);
  status.textContent = "";
  button.disabled = true;
  try {
    const saved = await api(path, {
      method: "PUT",
      json: policy,
      headers: { "If-Match": etag },
      onResponse: (response) => response.ok && (etag = response.headers.get("ETag")),
    });
    policy = structuredClone(saved.document);
    showState(saved);
    render();
    status.textContent = `Saved: version ${saved.version}. It applies to requests from now on.`;
  } catch (error) {
    if (error instanceof ApiError && error.status === 412) conflict();
    else showFieldErrors(form, error);
  } finally {
    button.disabled = false;
  }
}

function setUpAdding() {
  const type = document.getElementById("new-rule-type");
  const priority = document.getElementById("new-rule-priority");
  type.replaceChildren(...TYPES.map((t) => el("option", { value: t }, words(t))));
  priority.replaceChildren(...PRIORITIES.map((p) => el("option", { value: p }, p)));
  document.getElementById("add-rule").addEventListener("click", () => {
    const same = policy.ack_steps.find((rule) => rule.type === null && rule.priority === priority.value);
    policy.ack_steps.push({ priority: priority.value, type: type.value, steps: structuredClone(same?.steps ?? []) });
    render();
  });
  document.getElementById("add-response").addEventListener("click", () => {
    policy.response_times.push({ type: null, priority: null, respond_within_hours: 24 });
    render();
  });
  for (const input of form.querySelectorAll("input[data-key]")) {
    input.addEventListener("input", () => (policy[input.dataset.key] = input.value === "" ? null : Number(input.value)));
  }
  form.addEventListener("submit", save);
}

document.getElementById("policy-reload").addEventListener("click", load);
if (mayManage) setUpAdding();
load();
watchForWork();
