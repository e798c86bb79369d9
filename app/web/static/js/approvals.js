// Four-eyes: the emergency disclosures held for a second officer's approval that this person
// sees (a unit officer its agency's, an NCB its country's). Opening one reads its content (an
// audited read, on a click); an approver approves it (it is sent at once) or refuses it with
// a reason; its sender's agency may withdraw it. Whoever comes second is told by the API's 409.

import { alerts } from "./alerts.js";
import { allPages, api, attempt, showProblem } from "./api.js";
import { el, me, time, tlpBadge, words } from "./dom.js";
import { LiveFeed, showConnection } from "./live.js";
import { named } from "./named.js";

const STATUS_TEXT = {
  awaiting_approval: "Awaiting approval",
  approved: "Approved and sent",
  refused: "Refused",
  expired: "Expired unapproved",
  cancelled: "Withdrawn",
};
const form = document.getElementById("approval-form");
const reason = document.getElementById("approval-reason");
let opened = null;

function statusText(approval) {
  return STATUS_TEXT[approval.status] ?? words(approval.status);
}

function row(approval) {
  return el(
    "tr",
    { id: `approval-${approval.id}`, dataset: { status: approval.status } },
    el("td", { dataset: { label: "Held since" } }, time(approval.created_at)),
    el("td", { dataset: { label: "Headline" }, class: "text" }, approval.headline || "—"),
    el("td", { dataset: { label: "To" } }, approval.target_country),
    el("td", { dataset: { label: "Handling" } }, tlpBadge(approval.handling_code)),
    el("td", { class: "status", dataset: { label: "Status" } }, statusText(approval)),
    el("td", { dataset: { label: "Approve by" } }, approval.status === "awaiting_approval" ? time(approval.expires_at) : "—"),
    el("td", {}, el("button", { type: "button", class: "secondary", onclick: () => open(approval.id) }, "Open")),
  );
}

function term(label, ...value) {
  return [el("dt", {}, label), el("dd", {}, ...value)];
}

function render(approval) {
  opened = approval;
  const kind = words(approval.type);
  document.getElementById("approval-title").textContent = `${kind[0].toUpperCase()}${kind.slice(1)} to ${approval.target_country}`;
  document.getElementById("approval-meta").replaceChildren(
    ...term("Status", el("span", { id: "approval-status" }, statusText(approval))),
    ...term("Why held", approval.required_by === "agreement" ? "the sending agency's access agreement" : "the sending country's policy"),
    ...term("Priority", words(approval.priority)),
    ...term("Sent by", el("span", { id: "approval-sender" }, approval.created_by === me.principalId ? "you" : named(approval.sender))),
    ...term("Held since", time(approval.created_at)),
    ...(approval.status === "awaiting_approval" ? term("Approve by", time(approval.expires_at)) : []),
    ...(approval.decided_role
      ? term("Decided by", approval.decider ? named(approval.decider) : `${words(approval.decided_role)} officer`, ` (${words(approval.decided_role)}) at `, time(approval.decided_at))
      : approval.status === "expired"
        ? term("Expired", time(approval.decided_at))
        : []),
    ...(approval.reason ? term("Reason", el("span", { id: "approval-reason-shown" }, approval.reason)) : []),
    ...(approval.request_id ? term("Request", el("a", { href: `/web/requests/${approval.request_id}` }, "Open the request")) : []),
  );
  const content = approval.content;
  document.getElementById("approval-content").replaceChildren(
    ...(content
      ? [
          el("h3", {}, content.subject),
          el("p", { class: "text" }, content.details),
          el("ul", {}, ...content.identifiers.map((item) => el("li", {}, `${words(item.kind)}: `, el("code", {}, item.value)))),
          el("p", {}, "Legal basis: ", content.legal_basis),
        ]
      : [el("p", { class: "empty" }, "Its content is not kept once it is decided.")]),
  );
  const waiting = approval.status === "awaiting_approval";
  // Its sending agency may withdraw it (the API decides again).
  const mayCancel = waiting && me.role === "unit" && me.agencyId === approval.requesting_agency_id;
  form.hidden = !(waiting && (approval.may_decide || mayCancel));
  document.getElementById("approve-button").hidden = !approval.may_decide;
  document.getElementById("refuse-button").hidden = !approval.may_decide;
  document.getElementById("cancel-button").hidden = !mayCancel;
  document.getElementById("approval").hidden = false;
}

async function open(id, { focus = true } = {}) {
  try {
    render(await api(`/v1/approvals/${id}`));
    if (focus) document.getElementById("approval-title").focus();
  } catch (error) {
    showProblem(error);
  }
}

async function decide(action, body) {
  const done = await attempt(form, () => api(`/v1/approvals/${opened.id}/${action}`, { method: "POST", json: body }));
  if (!done) return;
  // Read again for the people's names (decided, it has no content left: nothing audited).
  await open(done.id, { focus: false });
  reason.value = "";
  const said = document.getElementById("approval-done");
  said.textContent = `${statusText(done)}.`;
  said.hidden = false;
  await load();
}

document.getElementById("approve-button").addEventListener("click", () => decide("approve", reason.value.trim() ? { reason: reason.value.trim() } : {}));
document.getElementById("refuse-button").addEventListener("click", () => decide("refuse", { reason: reason.value.trim() }));
document.getElementById("cancel-button").addEventListener("click", () => decide("cancel", reason.value.trim() ? { reason: reason.value.trim() } : {}));

async function load() {
  try {
    const approvals = await allPages("/v1/approvals");
    document.getElementById("approval-rows").replaceChildren(...approvals.map(row));
    document.getElementById("approvals-empty").hidden = approvals.length > 0;
  } catch (error) {
    showProblem(error);
  }
}

// Live: a held request's events (metadata) refresh the list; the one opened is read again
// (its content is an audited read) only once it was decided, which drops its content.
async function onEvent(frame) {
  alerts.hear(frame);
  if (!frame.event.startsWith("approval.")) return;
  await load();
  if (opened && frame.data.approval_id === opened.id && frame.data.status !== "awaiting_approval") {
    await open(opened.id, { focus: false });
  }
}

async function onStart() {
  await load();
  // Opened from an alert's link, or from a request page whose request is still held.
  const wanted = new URLSearchParams(window.location.search).get("id");
  if (wanted) await open(wanted);
  document.body.dataset.loaded = "true";
}

new LiveFeed({ onStart, onEvent, onStatus: showConnection }).start();
