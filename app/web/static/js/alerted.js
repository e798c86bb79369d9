// A request's "Who was alerted" (GET /v1/requests/{id}/alerts): each alert the outbox wrote
// for it, to whom, by which route, why, when it was queued and sent, and how it ended.

import { allPages, showProblem } from "./api.js";
import { el, time, words } from "./dom.js";

const ROUTE_NAMES = { web_push: "push", email: "e-mail", gateway: "gateway", webhook: "webhook" };

function row(alert) {
  const route = alert.route ?? alert.kind;
  return el(
    "tr",
    { id: `alert-${alert.id}`, dataset: { status: alert.status ?? "" } },
    el("td", { dataset: { label: "Who" } }, alert.principal_name ?? alert.principal?.name ?? ""),
    el("td", { dataset: { label: "How" } }, ROUTE_NAMES[route] ?? words(route)),
    el("td", { dataset: { label: "Why" } }, words(alert.reason)),
    el("td", { dataset: { label: "Queued" } }, time(alert.created_at)),
    el("td", { dataset: { label: "Sent" } }, alert.sent_at ? time(alert.sent_at) : "not yet"),
    el("td", { dataset: { label: "Outcome" } }, words(alert.outcome ?? alert.status)),
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
