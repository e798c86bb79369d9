// A request's "Who was alerted" (GET /v1/requests/{id}/alerts): each alert the outbox wrote
// for it, to whom, by which route, why, when it was written and taken by its destination (the
// mail server, the push service, the gateway), and how it ended. Never an address.

import { allPages, showProblem } from "./api.js";
import { el, time, words } from "./dom.js";

const ROUTE_NAMES = { web_push: "push", email: "e-mail", gateway: "gateway" };

// A person the reader may not see by name is named by role and country (the API's choice).
function who(person) {
  return person.name ?? `${words(person.role)}${person.country ? `, ${person.country}` : ""}`;
}

// pending, sent, failed, cancelled; and the last attempt's outcome, with its status code.
function outcome(alert) {
  const last = alert.last_outcome ? `last attempt: ${words(alert.last_outcome)}` : "";
  const code = alert.last_status_code ? ` (${alert.last_status_code})` : "";
  return [words(alert.status), last && ` · ${last}${code}`];
}

function row(alert) {
  return el(
    "tr",
    { id: `alert-${alert.id}`, dataset: { status: alert.status, route: alert.route } },
    el("td", { dataset: { label: "Who" } }, who(alert.person)),
    el("td", { dataset: { label: "How" } }, ROUTE_NAMES[alert.route] ?? words(alert.route)),
    el("td", { dataset: { label: "Why" } }, alert.reason ? words(alert.reason) : "withdrawal (acknowledged or ended)"),
    el("td", { dataset: { label: "Queued" } }, time(alert.created_at)),
    el("td", { dataset: { label: "Arrived" } }, alert.delivered_at ? time(alert.delivered_at) : "not yet"),
    el("td", { dataset: { label: "Outcome" } }, outcome(alert)),
  );
}

export async function loadAlerted(requestId) {
  const problem = document.getElementById("alerted-problem");
  try {
    const items = await allPages(`/v1/requests/${requestId}/alerts`);
    document.getElementById("alerted-rows").replaceChildren(...items.map(row));
    document.getElementById("alerted-empty").hidden = items.length > 0;
    problem.hidden = true;
  } catch (error) {
    showProblem(error, problem);
  }
}
